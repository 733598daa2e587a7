"""Reviewer search as one parameterised SQL query with keyset paging.

The most selective filter drives the query: a plate search walks the plate index, a
subject search the subject index, anything else the events time index; each index ends
with (captured_at_us, event id), so newest-first pages read only the rows they return.
Filter values are always bound parameters; only fixed column names are composed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from edge.errors import QueryError
from edge.store.plates import normalise_plate, plate_skeleton
from edge.store.repository import INTEGRITY_STATES, VERDICT_FILTERS, EventQuery
from edge.store.sql import in_list

MAX_LIMIT = 500
MAX_SUBJECTS = 1000
_CURSOR = re.compile(r"^(-?\d{1,19}):([A-Za-z0-9_.:-]{1,128})$")


def parse_cursor(cursor: str) -> tuple[int, str]:
    m = _CURSOR.match(cursor)
    if not m:
        raise QueryError("page token is not one this store issued; start the search again")
    return int(m[1]), m[2]


def validate_query(q: EventQuery) -> None:
    if not 1 <= q.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be 1..{MAX_LIMIT} (got {q.limit})")
    if q.verdict is not None and q.verdict not in VERDICT_FILTERS:
        raise QueryError(f"verdict must be one of {', '.join(VERDICT_FILTERS)} (got {q.verdict!r})")
    if q.integrity is not None and q.integrity not in INTEGRITY_STATES:
        allowed = ", ".join(INTEGRITY_STATES)
        raise QueryError(f"integrity must be one of {allowed} (got {q.integrity!r})")
    if len(q.subject_ids) > MAX_SUBJECTS:
        raise QueryError(f"at most {MAX_SUBJECTS} subject ids per search")
    if q.since_us is not None and q.until_us is not None and q.since_us >= q.until_us:
        raise QueryError("since must be before until")
    if q.plate is not None and not normalise_plate(q.plate):
        raise QueryError("plate filter is empty after normalisation")


@dataclass(slots=True)
class _Plan:
    """The table the query walks, its keyset columns, and the conditions so far."""

    source: str
    key_t: str
    key_id: str
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> None:
        self.where.append(condition)
        self.params.extend(values)


def _driving_plan(q: EventQuery) -> _Plan:
    """Start from the most selective index: plate, else subject, else event time."""
    marks = in_list(len(q.subject_ids)) if q.subject_ids else ""
    if q.plate is not None:
        text = normalise_plate(q.plate)
        column, value = ("text", text) if q.plate_exact else ("skeleton", plate_skeleton(text))
        plan = _Plan(
            "event_plates d JOIN events e ON e.id = d.event_id", "d.captured_at_us", "d.event_id"
        )
        plan.add(f"d.{column} = ?", value)
        if q.subject_ids:
            plan.add(
                "EXISTS (SELECT 1 FROM event_subjects x WHERE x.event_id = e.id"
                f" AND x.subject_id IN {marks})",
                *q.subject_ids,
            )
        return plan
    if q.subject_ids:
        plan = _Plan(
            "event_subjects d JOIN events e ON e.id = d.event_id", "d.captured_at_us", "d.event_id"
        )
        plan.add(f"d.subject_id IN {marks}", *q.subject_ids)
        return plan
    return _Plan("events e", "e.captured_at_us", "e.id")


def _add_filters(plan: _Plan, q: EventQuery) -> None:
    for column, wanted in (("e.camera_id", q.camera_id), ("e.gateway_id", q.gateway_id)):
        if wanted is not None:
            plan.add(f"{column} = ?", wanted)
    if q.since_us is not None:
        plan.add(f"{plan.key_t} >= ?", q.since_us)
    if q.until_us is not None:
        plan.add(f"{plan.key_t} < ?", q.until_us)
    if q.verdict == "pending":
        plan.add("e.verdict IS NULL")
    elif q.verdict is not None:
        plan.add("e.verdict = ?", q.verdict)
    if q.integrity is not None:
        plan.add("e.integrity = ?", q.integrity)
    if q.cursor:
        at, event_id = parse_cursor(q.cursor)
        plan.add(f"({plan.key_t}, {plan.key_id}) < (?, ?)", at, event_id)


def build_search(q: EventQuery, columns: str) -> tuple[str, list[Any]]:
    """SQL returning ``columns`` plus the two keyset columns, limit+1 rows."""
    validate_query(q)
    plan = _driving_plan(q)
    _add_filters(plan, q)
    key_t, key_id = plan.key_t, plan.key_id
    distinct = "DISTINCT " if len(q.subject_ids) > 1 and q.plate is None else ""
    sql = (
        f"SELECT {distinct}{columns}, {key_t}, {key_id} FROM {plan.source}"
        " LEFT JOIN subjects s ON s.id = e.subject_id"
        + (" WHERE " + " AND ".join(plan.where) if plan.where else "")
        + f" ORDER BY {key_t} DESC, {key_id} DESC LIMIT ?"
    )
    return sql, [*plan.params, q.limit + 1]
