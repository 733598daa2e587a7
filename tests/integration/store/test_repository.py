"""One repository suite, run against SQLite and PostgreSQL (see conftest.repo)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from edge.errors import NotFoundError, QueryError
from edge.evidence.model import PlateHit, canonical_bytes
from edge.store.linking import classify_link
from edge.store.repository import EventQuery, NewEvent, StoredBlob
from edge.store.sql_repo import SqlRepository

Make = Callable[..., list[tuple[NewEvent, list[StoredBlob]]]]


def insert(repo: SqlRepository, item: tuple[NewEvent, list[StoredBlob]]) -> Any:
    new, blobs = item
    return repo.events.insert_event(new, blobs, partial(classify_link, new.event))


@pytest.fixture
def gw(repo: SqlRepository) -> SqlRepository:
    repo.gateways.register_gateway("gw-1", b"k" * 32, None, 1)
    return repo


def plate(text: str, subject: str = "subj-p") -> PlateHit:
    return PlateHit(subject, text, text, "exact", 0.9, "blue", (1.0, 2.0, 3.0, 4.0), "m", None)


def test_insert_get_round_trip_keeps_canonical_bytes(gw: SqlRepository, make_events: Make) -> None:
    [item] = make_events(1)
    out = insert(gw, item)
    assert (out.status, out.integrity) == ("inserted", "ok")
    stored = gw.events.get_event(item[0].event.event_id)
    assert stored is not None
    # the canonical form (what is signed) survives exactly; floats are canonical-rounded
    assert canonical_bytes(stored.event) == item[0].canonical
    assert stored.event_hash == item[0].event_hash
    assert stored.signature == b"s" * 64
    assert {b.name for b in gw.events.event_blobs(item[0].event.event_id)} == {
        "scene.jpg",
        "face-0.jpg",
        "plate-0.jpg",
    }
    head = gw.gateways.get_gateway("gw-1")
    assert head is not None and head.head.last_sequence == 1
    assert head.head.last_hash == item[0].event_hash


def test_same_event_twice_is_a_duplicate_not_a_second_row(
    gw: SqlRepository, make_events: Make
) -> None:
    [item] = make_events(1)
    assert insert(gw, item).status == "inserted"
    assert insert(gw, item).status == "duplicate"
    assert gw.events.counts().total == 1


def test_same_id_with_other_content_is_a_conflict(gw: SqlRepository, make_events: Make) -> None:
    [item] = make_events(1)
    insert(gw, item)
    [other] = make_events(1, changes=[{"camera_id": "cam-9"}])
    assert insert(gw, other).status == "conflict"
    stored = gw.events.get_event(item[0].event.event_id)
    assert stored is not None and stored.event.camera_id == "cam-1"


def test_unregistered_gateway_is_refused(repo: SqlRepository, make_events: Make) -> None:
    [item] = make_events(1, gateway_id="gw-x")
    with pytest.raises(NotFoundError, match="gw-x"):
        insert(repo, item)


def test_gap_is_recorded_on_event_and_gateway(gw: SqlRepository, make_events: Make) -> None:
    chain = make_events(4)
    insert(gw, chain[0])
    out = insert(gw, chain[3])
    assert out.integrity == "gap" and "expected sequence 2, got 4" in out.note
    info = gw.gateways.get_gateway("gw-1")
    assert info is not None and info.head.last_sequence == 4
    assert any("gap" in p for p in info.problems)
    # the missing events arrive late: they link backwards, so they are "ok" (late)
    assert insert(gw, chain[1]).integrity == "ok"
    assert insert(gw, chain[2]).integrity == "ok"
    gap_event = gw.events.get_event(chain[3][0].event.event_id)
    assert gap_event is not None and gap_event.integrity == "gap"


def test_fork_is_recorded(gw: SqlRepository, make_events: Make) -> None:
    chain = make_events(2)
    insert(gw, chain[0])
    insert(gw, chain[1])
    # a different event claims sequence 2
    [forked] = make_events(
        1, start=2, prev=chain[0][0].event_hash, changes=[{"event_id": "other-2"}]
    )
    out = insert(gw, forked)
    assert out.status == "inserted" and out.integrity == "fork"
    # next event links to a wrong prev hash
    [bad] = make_events(1, start=3, prev="f" * 64)
    assert insert(gw, bad).integrity == "fork"
    info = gw.gateways.get_gateway("gw-1")
    assert info is not None and sum("fork" in p for p in info.problems) == 2


def _seed_search(gw: SqlRepository, make_events: Make) -> list[str]:
    changes: list[dict[str, Any]] = [
        {"plates": (plate("粤B8O5Z2"),)},
        {"plates": (plate("粤B8052Z"),), "camera_id": "cam-2"},
        {"plates": (plate("京A12345"),)},
        {"faces": (), "plates": (plate("沪C99999", "subj-q"),)},
        {},
        {"camera_id": "cam-2"},
    ]
    items = make_events(len(changes), changes=changes)
    for item in items:
        insert(gw, item)
    return [i[0].event.event_id for i in items]


def ids(page: Any) -> list[str]:
    return [s.event.event_id for s in page.events]


def test_search_filters(gw: SqlRepository, make_events: Make) -> None:
    e = _seed_search(gw, make_events)
    search = gw.events.search
    # confusable-aware plate search finds both reads; exact finds one
    assert ids(search(EventQuery(plate="粤B 8052Z"))) == [e[1], e[0]]
    assert ids(search(EventQuery(plate="粤b8052z", plate_exact=True))) == [e[1]]
    assert ids(search(EventQuery(plate="粤B12345"))) == [e[5], e[4]]
    assert ids(search(EventQuery(subject_ids=("subj-q",)))) == [e[3]]
    assert ids(search(EventQuery(subject_ids=("subj-q", "subj-7")))) == e[::-1]
    assert ids(search(EventQuery(camera_id="cam-2"))) == [e[5], e[1]]
    assert ids(search(EventQuery(gateway_id="gw-2"))) == []
    t = [gw.events.get_event(i).event.captured_at_us for i in e]  # type: ignore[union-attr]
    assert ids(search(EventQuery(since_us=t[2], until_us=t[4]))) == [e[3], e[2]]
    assert ids(search(EventQuery(integrity="ok", limit=2))) == [e[5], e[4]]
    gw.events.set_verdict(e[2], "confirmed", "seen", "ann", 5)
    assert ids(search(EventQuery(verdict="confirmed"))) == [e[2]]
    assert e[2] not in ids(search(EventQuery(verdict="pending")))
    assert len(ids(search(EventQuery(verdict="pending")))) == 5


def test_keyset_paging_visits_each_event_once_newest_first(
    gw: SqlRepository, make_events: Make
) -> None:
    items = make_events(7)
    for item in items:
        insert(gw, item)
    seen: list[str] = []
    cursor = None
    while True:
        page = gw.events.search(EventQuery(limit=3, cursor=cursor))
        seen += ids(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [i[0].event.event_id for i in reversed(items)]


HOSTILE = [
    "'; DROP TABLE events; --",
    "x' OR '1'='1",
    '" OR 1=1 --',
    "%",
    "_",
    "?",
    "%s",
    "\\",
    "粤B1234') UNION SELECT * FROM users --",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_filter_values_are_only_data(
    gw: SqlRepository, make_events: Make, value: str
) -> None:
    _seed_search(gw, make_events)
    try:
        assert gw.events.search(EventQuery(plate=value)).events == ()
    except QueryError as e:  # only separators: nothing left to search for
        assert "empty" in str(e)
    for q in (
        EventQuery(camera_id=value),
        EventQuery(gateway_id=value),
        EventQuery(subject_ids=(value, "subj-q")),
    ):
        found = gw.events.search(q)
        assert all(s.event.camera_id != value for s in found.events)
    assert gw.events.counts().total == 6
    assert gw.events.search(EventQuery(subject_ids=(value,))).events == ()


@pytest.mark.parametrize(
    "query",
    [
        EventQuery(limit=0),
        EventQuery(limit=10_000),
        EventQuery(verdict="maybe"),
        EventQuery(integrity="fine"),
        EventQuery(cursor="1' OR 1=1"),
        EventQuery(since_us=5, until_us=5),
        EventQuery(plate=" · "),
    ],
)
def test_invalid_queries_are_refused_with_a_reason(gw: SqlRepository, query: EventQuery) -> None:
    with pytest.raises(QueryError):
        gw.events.search(query)


def test_verdicts_and_history(gw: SqlRepository, make_events: Make) -> None:
    [item] = make_events(1)
    insert(gw, item)
    eid = item[0].event.event_id
    first = gw.events.set_verdict(eid, "confirmed", "plate visible", "ann", 10)
    assert (first.verdict, first.verdict_by, first.case_open) == ("confirmed", "ann", True)
    second = gw.events.set_verdict(eid, "rejected", "wrong person", "bob", 20)
    assert (second.verdict, second.case_open) == ("rejected", False)
    history = gw.events.verdict_history(eid)
    assert [(h.verdict, h.reviewer) for h in history] == [("confirmed", "ann"), ("rejected", "bob")]
    with pytest.raises(NotFoundError):
        gw.events.set_verdict("nope", "confirmed", "", "ann", 1)


def test_retention_keeps_confirmed_open_cases_and_frees_unshared_blobs(
    gw: SqlRepository, make_events: Make
) -> None:
    items = make_events(3)
    for item in items:
        insert(gw, item)
    e = [i[0].event.event_id for i in items]
    gw.events.set_verdict(e[0], "confirmed", "case 12", "ann", 1)
    cut = items[2][0].event.captured_at_us + 1
    expired = gw.events.expired_event_ids(cut, 100)
    assert expired == [e[1], e[2]]
    orphans = gw.events.delete_events(expired)
    expected = {b.sha256 for i in items[1:] for b in i[1]}
    assert set(orphans) == expected
    assert gw.events.get_event(e[1]) is None
    assert gw.events.counts().total == 1
    gw.events.set_case_open(e[0], False)
    assert gw.events.expired_event_ids(cut, 100) == [e[0]]


def test_a_large_group_is_written_in_several_statements_and_all_of_it_lands(
    gw: SqlRepository, make_events: Make
) -> None:
    # 600 events: 1,800 blob rows and 600 event rows, more than one multi-row statement
    items = make_events(600)
    outcomes = gw.events.insert_events([(n, b, partial(classify_link, n.event)) for n, b in items])
    assert {(o.status, o.integrity) for o in outcomes} == {("inserted", "ok")}
    assert gw.events.counts().by_integrity == {"ok": 600}
    last = items[-1][0]
    assert {b.name for b in gw.events.event_blobs(last.event.event_id)} == {
        "scene.jpg",
        "face-0.jpg",
        "plate-0.jpg",
    }
    stored = gw.events.get_event(last.event.event_id)
    assert stored is not None and canonical_bytes(stored.event) == last.canonical
    head = gw.gateways.get_gateway("gw-1")
    assert head is not None and head.head.last_sequence == 600
