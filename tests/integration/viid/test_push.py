"""The store pushes matches to a real GA/T 1400 platform over real HTTP with digest auth:
registration, per-object answers, retries, outages, restarts, withdrawals, rules."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from edge.errors import StoreError
from edge.evidence.model import GENESIS_HASH, MatchEvent, event_hash
from edge.store.auth import Principal
from edge.store.sqlite_repo import sqlite_repository
from tests.support.loadgen import Deployment, SignedSample, serving, signed_chain

pytestmark = pytest.mark.timeout(240)
vp = sys.modules["edgewatch_viid_platform"]  # loaded by conftest.py


def deliver(dep: Deployment, n: int, start: int = 1, prev: str = GENESIS_HASH) -> list[MatchEvent]:
    return send(dep, signed_chain(dep.signing_key(1), "gw-1", n, start, prev))


def send(dep: Deployment, samples: list[SignedSample]) -> list[MatchEvent]:
    with dep.gateway(1) as gw:
        acks = gw.deliver(samples)
    assert all(a.status in ("stored", "duplicate") for a in acks), acks
    return [s.event for s in samples]


def verdict(dep: Deployment, event_id: str, value: str) -> None:
    with dep.person("reviewer") as c:
        c.set_verdict(event_id, value, "checked on site")


def wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def audit(dep: Deployment, action: str) -> list[dict[str, Any]]:
    db = dep.store_config().database
    repo = sqlite_repository(db.path)  # type: ignore[union-attr]
    repo.open()
    try:
        entries = repo.audit.entries(0, 100_000)
    finally:
        repo.close()
    return [json.loads(e.detail_json) for e in entries if e.action == action]


def link(dep: Deployment) -> Any:
    with dep.person("admin") as c:
        return next(x for x in c.status().links if x.name == "viid")


def test_a_confirmed_match_is_pushed_once_as_motor_vehicle_and_face(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url))
    with serving(dep):
        events = deliver(dep, 2)
        platform.wait_for(lambda s: s.registrations >= 1, what="a registration")
        verdict(dep, events[0].event_id, "confirmed")
        platform.wait_for(lambda s: len(s.counts) == 2, what="two objects")
        st = platform.state
        assert set(s.path for s in st.requests) == {"/VIID/MotorVehicles", "/VIID/Faces"}
        assert all(v == 1 for v in st.counts.values()) and st.bad_identify == 0
        mv = next(r for r in st.requests if r.path == "/VIID/MotorVehicles")
        assert mv.content_type.startswith("application/VIID+JSON")
        assert mv.user_identify == vp.STORE_DEVICE
        obj = mv.body["MotorVehicleListObject"]["MotorVehicleObject"][0]
        assert obj["DeviceID"] == vp.CAMERA_DEVICE and obj["PlateNo"] == "粤B12345"
        assert len(obj["MotorVehicleID"]) == 48 and obj["MotorVehicleID"].startswith(
            vp.CAMERA_DEVICE + "02"
        )
        # the pictures are the stored evidence, byte for byte
        sent = {
            hashlib.sha256(base64.b64decode(i["Data"])).hexdigest()
            for i in obj["SubImageList"]["SubImageInfoObject"]
        }
        refs = {b.sha256 for b in events[0].blobs if b.role in ("scene", "plate_crop")}
        assert sent == refs
        wait(lambda: link(dep).delivered == 2 and link(dep).pending == 0, "status delivered 2")
        state = link(dep)
        assert state.state == "registered" and state.device_id == vp.STORE_DEVICE
    # the unconfirmed event was never pushed; every attempt is in the audit log
    assert len(platform.state.counts) == 2
    attempts = audit(dep, "viid.attempt")
    assert sorted(a["kind"] for a in attempts) == ["Face", "MotorVehicle"]
    assert all(a["state"] == "delivered" and a["event_id"] == events[0].event_id for a in attempts)
    assert platform.state.unregistrations == 1  # unregistered on shutdown
    assert [a["state"] for a in audit(dep, "viid.link")][:1] == ["registered"]


def test_outage_and_store_restart_lose_nothing_and_deliver_each_event_once(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url, push="all"))
    platform.stop()  # the platform is down from the start
    with serving(dep):
        events = deliver(dep, 6)
        wait(lambda: link(dep).state == "failing", "the link to fail")
        assert link(dep).pending == 12  # six linked events: a vehicle and a face each
    # the store restarts with the queue on disk; the platform comes back later
    with serving(dep):
        later = signed_chain(dep.signing_key(1), "gw-1", 2, 7, event_hash(events[-1]))
        more = send(dep, later)
        time.sleep(0.5)
        assert link(dep).pending == 16
        platform.start()
        platform.wait_for(lambda s: len(s.counts) == 16, what="16 objects", timeout=60)
        wait(lambda: link(dep).pending == 0, "the queue to drain")
        # a re-delivery by the gateway (resend after a lost ack) queues nothing new
        send(dep, later)
        time.sleep(0.5)
    assert all(v == 1 for v in platform.state.counts.values()), platform.state.counts
    pushed = {r for req in platform.state.requests for r in req.ids}
    assert len(pushed) == 16 == sum(platform.state.counts.values())
    assert len(events + more) == 8
    # while it was down, rows were not tried one by one: the link was
    assert all(a["state"] == "delivered" for a in audit(dep, "viid.attempt"))


def test_a_platform_that_forgot_us_is_registered_with_again(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url))
    with serving(dep):
        events = deliver(dep, 1)
        platform.wait_for(lambda s: s.registrations == 1, what="a registration")
        platform.forget()  # e.g. the platform restarted
        verdict(dep, events[0].event_id, "confirmed")
        platform.wait_for(lambda s: len(s.counts) == 2, what="both objects")
        assert platform.state.registrations == 2
    assert all(v == 1 for v in platform.state.counts.values())
    assert "unregistered" in [a["state"] for a in audit(dep, "viid.link")]


def test_transient_errors_retry_refusals_wait_and_one_click_sends_again(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url))
    with serving(dep) as server:
        events = deliver(dep, 3)
        first, second, third = (e.event_id for e in events)
        platform.wait_for(lambda s: s.registrations == 1, what="a registration")
        platform.state.fail_next = 2
        verdict(dep, first, "confirmed")
        platform.wait_for(lambda s: len(s.counts) == 2, what="the push after two 503s")
        tries = [a for a in audit(dep, "viid.attempt") if a["event_id"] == first]
        assert [a["status"] for a in tries if a["state"] == "pending"] == ["HTTP 503"] * 2
        assert sum(a["state"] == "delivered" for a in tries) == 2
        # StatusCode 8 (invalid content) will not change by retrying: refused, kept
        platform.state.refuse_all = True
        verdict(dep, second, "confirmed")
        wait(lambda: link(dep).refused == 2, "two refused rows")
        time.sleep(0.5)
        tries = [a for a in audit(dep, "viid.attempt") if a["event_id"] == second]
        assert len(tries) == 2 and {a["state"] for a in tries} == {"refused"}
        assert all("StatusCode 8" in a["status"] for a in tries)
        # once the cause is fixed, a reviewer's one-click transfer sends it again
        platform.state.refuse_all = False
        viid = server.platform.viid if server.platform else None
        assert viid is not None
        reviewer = Principal("person", "reviewer", "reviewer")
        viid.transfer(reviewer, second)
        platform.wait_for(lambda s: len(s.counts) == 4, what="the transfer")
        wait(lambda: {r.state for r in viid.for_event(second)} == {"delivered"}, "delivered")
        with pytest.raises(StoreError, match="only confirmed"):
            viid.transfer(reviewer, third)
    assert all(v == 1 for v in platform.state.counts.values())
    [transfer] = audit(dep, "viid.transfer")
    assert transfer == {"event_id": second, "queued": [], "requeued": 2}


def test_rejecting_a_pushed_match_deletes_its_objects_at_the_platform(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url))
    with serving(dep):
        events = deliver(dep, 1)
        verdict(dep, events[0].event_id, "confirmed")
        platform.wait_for(lambda s: len(s.counts) == 2, what="the push")
        verdict(dep, events[0].event_id, "rejected")
        platform.wait_for(lambda s: len(s.deleted) == 2, what="the deletes")
        # confirmed again after all: the same objects go up again (same IDs)
        verdict(dep, events[0].event_id, "confirmed")
        platform.wait_for(lambda s: sum(s.counts.values()) == 4, what="the second push")
    assert set(platform.state.deleted) == set(platform.state.counts)
    assert all(n == 2 for n in platform.state.counts.values())
    [withdraw] = audit(dep, "viid.withdraw")
    assert withdraw["event_id"] == events[0].event_id and len(withdraw["deletes"]) == 2
    assert [r["rows"] for r in audit(dep, "viid.reopen")] == [2]


def test_only_confirmations_made_while_the_platform_is_configured_are_pushed(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    with serving(dep):  # no viid: section yet
        early = deliver(dep, 1)
        verdict(dep, early[0].event_id, "confirmed")
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url))
    with serving(dep) as server:
        late = deliver(dep, 1, 2, event_hash(early[0]))
        verdict(dep, late[0].event_id, "confirmed")
        platform.wait_for(lambda s: len(s.counts) == 2, what="the new confirmation")
        auto = server.platform.auto if server.platform else None
        assert auto is not None and auto.reconcile_confirmed() == 0
        time.sleep(0.5)
        assert len(platform.state.counts) == 2  # the old confirmation stays where it was
        viid = server.platform.viid if server.platform else None
        assert viid is not None
        viid.transfer(Principal("person", "reviewer", "reviewer"), early[0].event_id)
        platform.wait_for(lambda s: len(s.counts) == 4, what="the old one, transferred")
