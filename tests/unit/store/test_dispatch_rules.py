"""Dispatch rules and key-location schedules: pure matching, and the config checks."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from edge.config import format_validation_error
from edge.store.config import StoreConfig
from edge.store.dispatch_rules import DispatchRule, matching_rules
from edge.store.locations import KeyLocation, Window, in_schedule
from tests.support.samples import sample_event

CN = 480


def local_us(text: str) -> int:
    """'2025-06-16 08:30' in UTC+8 -> UTC microseconds (2025-06-16 is a Monday)."""
    t = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(t.timestamp() * 1e6) - CN * 60_000_000


def window(**kw: Any) -> Window:
    return Window.model_validate(kw)


def test_windows_follow_local_days_and_run_past_midnight() -> None:
    weekdays = [
        window(**{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "07:00", "to": "10:00"})
    ]
    assert in_schedule(weekdays, local_us("2025-06-16 08:30"), CN)  # Monday
    assert not in_schedule(weekdays, local_us("2025-06-16 10:00"), CN)  # end excluded
    assert not in_schedule(weekdays, local_us("2025-06-15 08:30"), CN)  # Sunday
    night = [window(**{"days": ["fri"], "from": "22:00", "to": "06:00"})]
    assert in_schedule(night, local_us("2025-06-20 23:00"), CN)  # Friday night
    assert in_schedule(night, local_us("2025-06-21 05:59"), CN)  # ... into Saturday
    assert not in_schedule(night, local_us("2025-06-20 05:00"), CN)  # Friday early
    assert in_schedule([], local_us("2025-06-20 05:00"), CN)  # no windows: always


@pytest.mark.parametrize("bad", [{"from": "7:00", "to": "10:00"}, {"from": "10:00", "to": "10:00"},
                                 {"from": "25:00", "to": "10:00"}])  # fmt: skip
def test_bad_windows_say_what_is_allowed(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match=r"HH:MM|empty"):
        Window.model_validate(bad)


def rule(**kw: Any) -> DispatchRule:
    return DispatchRule.model_validate({"id": "r", "name": "R", "actions": ["viid"], **kw})


MARKET = KeyLocation.model_validate(
    {"id": "market", "name": "M", "cameras": ["gw-1/*"], "point": {"lat": 22.5, "lon": 114.0},
     "schedule": [{"from": "07:00", "to": "10:00"}]}
)  # fmt: skip


def matches(r: DispatchRule, **changes: Any) -> bool:
    e, _ = sample_event(1, captured_at_us=local_us("2025-06-16 08:30"))
    e = dataclasses.replace(e, **changes)
    labels = {"subj-7": "流动摊贩 A", "subj-9": "其他"}
    return bool(matching_rules([r], e, labels, {"market": MARKET}, CN))


def test_subject_label_camera_location_and_threshold_conditions() -> None:
    assert matches(rule(subjects=["subj-7"]))
    assert not matches(rule(subjects=["subj-9"]))
    assert matches(rule(labels=["流动摊贩*"])) and not matches(rule(labels=["其他"]))
    assert matches(rule(cameras=["gw-1/cam-1"])) and not matches(rule(cameras=["gw-2/*"]))
    assert matches(rule(locations=["market"]))
    late = local_us("2025-06-16 11:00")
    assert not matches(rule(locations=["market"]), captured_at_us=late)  # outside schedule
    assert not matches(rule(locations=["market"]), camera_id="cam-1", gateway_id="gw-9")
    assert matches(rule(subjects=["subj-7"], min_similarity=0.6))  # the plate still qualifies
    assert not matches(rule(subjects=["subj-7"], min_similarity=0.7, min_plate_confidence=0.98))
    assert matches(rule(subjects=["subj-7"], plate_match="exact", kinds=["linked"]))
    assert not matches(rule(subjects=["subj-7"], kinds=["face"]))
    assert not matches(rule(subjects=["subj-7"], enabled=False))
    assert not matches(rule(subjects=["subj-7"], hours=[{"from": "20:00", "to": "22:00"}]))


def test_a_rule_must_restrict_something_and_name_each_action_once() -> None:
    with pytest.raises(ValidationError, match="push: all"):
        rule()
    with pytest.raises(ValidationError, match="twice"):
        rule(subjects=["s"], actions=["viid", "viid"])
    with pytest.raises(ValidationError, match="gateway/camera"):
        rule(cameras=["GW 1"])


BASE = {
    "listen": "127.0.0.1:7443",
    "tls": {"cert": "c", "key": "k", "ca": "a"},
    "database": {"kind": "sqlite", "path": "s.db"},
}


def config_errors(**extra: Any) -> list[str]:
    try:
        StoreConfig.model_validate({**BASE, **extra})
    except ValidationError as e:
        return format_validation_error(e, "store.yaml", StoreConfig)
    return []


VIID = {"url": "http://10.0.0.5:8120", "device_id": "44120000005030000001",
        "username": "u", "password_file": "/p"}  # fmt: skip


def test_config_check_names_key_paths_and_allowed_values() -> None:
    assert config_errors(viid=VIID) == []
    [e] = config_errors(viid={**VIID, "push": "sometimes"})
    assert "viid.push" in e and "'confirmed', 'all' or 'rules'" in e
    [e] = config_errors(viid={**VIID, "device_id": "4412"})
    assert "viid.device_id" in e and "4412" in e
    [e] = config_errors(viid={**VIID, "cameras": {"gw-1/cam-1": "123"}})
    assert "viid.cameras" in e and "20 digits" in e
    [e] = config_errors(viid={**VIID, "compat": {"envelope": "List"}})
    assert "viid.compat.envelope" in e and "'ListObject' or 'ObjectList'" in e
    [e] = config_errors(viid={**VIID, "colour": 1})
    assert "viid.colour" in e and "allowed keys here" in e and "password_file" in e
    [e] = config_errors(dispatch_rules=[{"id": "r", "name": "R", "locations": ["x"],
                                         "actions": ["webhook"]}])  # fmt: skip
    assert "dispatch_rules.0.locations" in e and "unknown location" in e
    [e] = config_errors(dispatch_rules=[{"id": "r", "name": "R", "cameras": ["*"],
                                         "actions": ["viid"]}])  # fmt: skip
    assert "viid needs the viid: section" in e
    [e] = config_errors(locations=[{"id": "a", "name": "A", "cameras": ["gw-1/*"]}])
    assert "locations.0" in e and "exactly one of point or polygon" in e
