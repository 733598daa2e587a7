"""Automatic dispatch (自动派遣): which matches are sent on without a reviewer's click.

A rule names conditions on a match and the actions to take when they all hold::

    dispatch_rules:
      - id: vendors-market
        name: 市场周边流动摊贩
        labels: ["流动摊贩*"]          # watchlist labels (glob), or subjects: [ids]
        locations: [market-east]       # key locations (their schedule applies), or
        cameras: [gw-1/*]              # gateway/camera globs
        hours: [{from: "07:00", to: "21:00"}]
        min_similarity: 0.55           # faces
        min_plate_confidence: 0.9      # plates
        plate_match: exact             # any | exact (no OCR-confusable matches)
        actions: [webhook, viid]

An empty condition does not restrict. A match qualifies through any one of its hits
(a face or plate that names a listed subject/label and clears the thresholds); the
camera, location, hours and kind conditions apply to the event. Rules are evaluated at
ingest (edge/store/dispatch_auto.py); this module is pure.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.config import StrictModel
from edge.evidence.model import MatchEvent
from edge.store.locations import CAMERA_REF, KeyLocation, Window, in_schedule

Action = Literal["webhook", "viid"]
ACTIONS: tuple[Action, ...] = ("webhook", "viid")
RULE_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class DispatchRule(StrictModel):
    id: str = Field(pattern=RULE_ID)
    name: str = Field(min_length=1, max_length=100)
    enabled: bool = True
    subjects: list[str] = Field(default_factory=list, description="watchlist subject ids")
    labels: list[str] = Field(
        default_factory=list, description="watchlist label patterns (glob), e.g. 流动摊贩*"
    )
    cameras: list[str] = Field(default_factory=list, description="gateway/camera or gateway/*")
    locations: list[str] = Field(default_factory=list, description="key location ids")
    hours: list[Window] = Field(default_factory=list, description="local time; empty = always")
    kinds: list[Literal["face", "plate", "linked"]] = Field(default_factory=list)
    min_similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    min_plate_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    plate_match: Literal["any", "exact"] = "any"
    actions: list[Action] = Field(min_length=1, description="webhook, viid or both")

    @field_validator("cameras")
    @classmethod
    def _cameras(cls, v: list[str]) -> list[str]:
        for ref in v:
            if not re.match(CAMERA_REF, ref):
                raise ValueError(f"camera {ref!r} must be gateway/camera, gateway/* or *")
        return v

    @field_validator("actions")
    @classmethod
    def _actions(cls, v: list[Action]) -> list[Action]:
        if len(set(v)) != len(v):
            raise ValueError(f"actions {v} name one action twice")
        return v

    @model_validator(mode="after")
    def _something(self) -> DispatchRule:
        if not (self.subjects or self.labels or self.cameras or self.locations):
            raise ValueError(
                "a rule must name subjects, labels, cameras or locations "
                "(a rule that dispatches every match is push: all in the viid section)"
            )
        return self


def _hit_ok(rule: DispatchRule, subject_id: str, labels: Mapping[str, str | None]) -> bool:
    if rule.subjects and subject_id not in rule.subjects:
        return False
    if rule.labels:
        label = labels.get(subject_id) or ""
        return any(fnmatch.fnmatchcase(label, p) for p in rule.labels)
    return True


def qualifying_hits(rule: DispatchRule, event: MatchEvent, labels: Mapping[str, str | None]) -> int:
    """How many of the event's hits satisfy the rule's subject and threshold conditions."""
    n = 0
    for f in event.faces:
        if rule.min_similarity is not None and f.similarity < rule.min_similarity:
            continue
        n += _hit_ok(rule, f.subject_id, labels)
    for p in event.plates:
        if rule.min_plate_confidence is not None and p.confidence < rule.min_plate_confidence:
            continue
        if rule.plate_match == "exact" and p.kind != "exact":
            continue
        n += _hit_ok(rule, p.subject_id, labels)
    return n


def _place_ok(
    rule: DispatchRule, event: MatchEvent, locations: Mapping[str, KeyLocation], offset: int
) -> bool:
    where = f"{event.gateway_id}/{event.camera_id}"
    if rule.cameras and not any(fnmatch.fnmatchcase(where, c) for c in rule.cameras):
        return False
    if rule.locations:
        tagged = [
            locations[i]
            for i in rule.locations
            if i in locations and locations[i].covers(event.gateway_id, event.camera_id)
        ]
        return any(in_schedule(loc.schedule, event.captured_at_us, offset) for loc in tagged)
    return True


def rule_matches(
    rule: DispatchRule,
    event: MatchEvent,
    labels: Mapping[str, str | None],
    locations: Mapping[str, KeyLocation],
    utc_offset_minutes: int,
) -> bool:
    if not rule.enabled:
        return False
    if rule.kinds and event.kind not in rule.kinds:
        return False
    if not in_schedule(rule.hours, event.captured_at_us, utc_offset_minutes):
        return False
    if not _place_ok(rule, event, locations, utc_offset_minutes):
        return False
    return qualifying_hits(rule, event, labels) > 0


def matching_rules(
    rules: Sequence[DispatchRule],
    event: MatchEvent,
    labels: Mapping[str, str | None],
    locations: Mapping[str, KeyLocation],
    utc_offset_minutes: int,
) -> list[DispatchRule]:
    return [r for r in rules if rule_matches(r, event, labels, locations, utc_offset_minutes)]


def check_rules(
    rules: Sequence[DispatchRule],
    locations: Sequence[KeyLocation],
    has_webhook: bool,
    has_viid: bool,
    where: str = "dispatch_rules",
) -> None:
    """Cross-checks a rule cannot make alone; ValueError naming the key path."""
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{where}: duplicate rule ids {dupes}")
    known = {loc.id for loc in locations}
    for i, r in enumerate(rules):
        unknown = [x for x in r.locations if x not in known]
        if unknown:
            raise ValueError(
                f"{where}.{i}.locations: unknown location(s) {unknown}; "
                f"defined: {sorted(known) or 'none (add a locations: section)'}"
            )
        if "webhook" in r.actions and not has_webhook:
            raise ValueError(
                f"{where}.{i}.actions: webhook needs web.dispatch (url, hmac_key_file)"
            )
        if "viid" in r.actions and not has_viid:
            raise ValueError(f"{where}.{i}.actions: viid needs the viid: section")
