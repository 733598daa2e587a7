"""The REST form of the one-click transfer (POST /api/v1/events/{id}/transfer) against
a real store and a real GA/T 1400 test platform: roles, refusals, the push rows it
answers, a second transfer after the platform refused, the audit trail, and the link
in the admin's /status."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml

from edge.store.sqlite_repo import sqlite_repository
from tests.support.loadgen import Deployment, serving, signed_chain

pytestmark = pytest.mark.timeout(180)
vp = sys.modules["edgewatch_viid_platform"]  # loaded by conftest.py


def bearer(dep: Deployment, user: str) -> dict[str, str]:
    doc = yaml.safe_load(dep.path(f"{user}.yaml").read_text())
    return {"Authorization": f"Bearer {doc['token']}"}


def audit(dep: Deployment, action: str) -> list[tuple[str, dict[str, Any]]]:
    db = dep.store_config().database
    repo = sqlite_repository(db.path)  # type: ignore[union-attr]
    repo.open()
    try:
        entries = repo.audit.entries(0, 100_000)
    finally:
        repo.close()
    return [(e.actor, json.loads(e.detail_json)) for e in entries if e.action == action]


def states(rows: list[dict[str, Any]]) -> dict[str, str]:
    return {r["kind"]: r["state"] for r in rows}


def wait_attempts(dep: Deployment, event_id: str, state: str, n: int) -> None:
    """Until the push worker has recorded ``n`` attempts of the event ending in ``state``."""
    deadline = time.monotonic() + 30
    while True:
        done = [
            d for _, d in audit(dep, "viid.attempt")
            if d["event_id"] == event_id and d["state"] == state
        ]  # fmt: skip
        if len(done) >= n:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {n} {state} attempts"
        time.sleep(0.1)


def test_rest_transfer_pushes_a_confirmed_event_and_answers_its_push_rows(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    # push: rules and no rule: confirming alone pushes nothing, only a transfer does
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url, push="rules"))
    with serving(dep) as server:
        assert server.web_url is not None
        samples = signed_chain(dep.signing_key(1), "gw-1", 2)
        with dep.gateway(1) as gw:
            assert {a.status for a in gw.deliver(samples)} == {"stored"}
        first, second = (s.event.event_id for s in samples)
        reviewer, viewer = bearer(dep, "reviewer"), bearer(dep, "viewer")
        with httpx.Client(base_url=f"{server.web_url}/api/v1", timeout=60) as api:
            path = f"/events/{first}/transfer"
            assert "/events/{event_id}/transfer" in api.get("/openapi.json").json()["paths"]
            assert api.post(path).status_code == 401
            r = api.post(path, headers=viewer)
            assert r.status_code == 403 and "reviewer" in r.json()["detail"]
            r = api.post(path, headers=reviewer)
            assert r.status_code == 400 and "confirm it first" in r.json()["detail"]
            r = api.post("/events/no-such-event/transfer", headers=reviewer)
            assert r.status_code == 404 and "no-such-event" in r.json()["detail"]
            note = {"verdict": "confirmed", "note": "seen on site"}
            assert api.post(f"/events/{first}/verdict", json=note, headers=reviewer).is_success
            assert api.post(f"/events/{second}/verdict", json=note, headers=reviewer).is_success
            platform.wait_for(lambda s: s.registrations >= 1, what="a registration")
            assert platform.state.counts == {}  # confirmed, not pushed: push is "rules"

            r = api.post(path, headers=reviewer)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["event_id"] == first
            assert {p["kind"] for p in body["pushes"]} == {"MotorVehicle", "Face"}
            assert {(p["reason"], p["created_by"]) for p in body["pushes"]} == {
                ("transfer", "person:reviewer")
            }
            platform.wait_for(lambda s: len(s.counts) == 2, what="the transferred objects")
            wait_attempts(dep, first, "delivered", 2)
            # transferring a delivered event again queues nothing and answers its rows
            rows = api.post(path, headers=reviewer).json()["pushes"]
            assert set(states(rows).values()) == {"delivered"}
            assert all(len(p["object_ids"]) == 1 and p["delivered_at"] for p in rows)
            assert set(platform.state.counts) == {i for p in rows for i in p["object_ids"]}

            # the platform refuses the second event; a later transfer sends it again
            platform.state.refuse_all = True
            path2 = f"/events/{second}/transfer"
            assert api.post(path2, headers=reviewer).status_code == 200
            wait_attempts(dep, second, "refused", 2)
            platform.state.refuse_all = False
            again = api.post(path2, headers=reviewer).json()["pushes"]
            assert set(states(again).values()) == {"pending"}  # requeued by this transfer
            platform.wait_for(lambda s: len(s.counts) == 4, what="the second transfer")
            wait_attempts(dep, second, "delivered", 2)
            # the admin's status (as `edgewatch status`) shows the link and its counts
            status = api.get("/status", headers=bearer(dep, "admin")).json()
            (link,) = [x for x in status["links"] if x["name"] == "viid"]
            assert link["state"] == "registered" and link["target"] == platform.url
            assert (link["delivered"], link["pending"], link["refused"]) == (4, 0, 0)
            assert link["device_id"] == vp.STORE_DEVICE and link["last_ok"]
    transfers = audit(dep, "viid.transfer")
    assert {actor for actor, _ in transfers} == {"person:reviewer"}
    assert [d for _, d in transfers] == [
        {"event_id": first, "queued": ["MotorVehicle", "Face"], "requeued": 0},
        {"event_id": first, "queued": [], "requeued": 0},
        {"event_id": second, "queued": ["MotorVehicle", "Face"], "requeued": 0},
        {"event_id": second, "queued": [], "requeued": 2},
    ]
