"""Dispatch to a real webhook receiver: HMAC, retries with backoff, audit, state, package."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from edge.evidence.package import verify_package
from edge.store.dispatch import sign, verify_signature, zip_package

pytestmark = pytest.mark.timeout(120)
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py


def wait_state(stack: Any, event_id: str, state: str, timeout: float = 20.0) -> Any:
    assert stack.local.dispatch is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = stack.local.dispatch.for_event(event_id)
        if records and records[-1].state == state:
            return records[-1]
        time.sleep(0.05)
    raise AssertionError(f"dispatch of {event_id} never reached {state}: {records}")


def attempts(stack: Any, dispatch_id: str) -> list[dict[str, Any]]:
    return [
        json.loads(e.detail_json)
        for e in stack.local.repo.audit.entries(0, 100_000)
        if e.action == "dispatch.attempt"
        and json.loads(e.detail_json)["dispatch_id"] == dispatch_id
    ]


def confirm(c: Any, event_id: str) -> None:
    r = c.post(f"/events/{event_id}/verdict", {"verdict": "confirmed", "note": "vendor seen"})
    assert r.status == 303


def test_dispatch_retries_with_backoff_until_delivered(stack: Any, tmp_path: Path) -> None:
    c = stack.client("reviewer")
    e = stack.seeded.of("gw-1", 7)
    confirm(c, e.event_id)
    stack.receiver.fail_next = 2
    r = c.post(f"/events/{e.event_id}/dispatch")
    assert r.status == 303
    record = wait_state(stack, e.event_id, "delivered")
    assert record.attempts == 3 and record.last_status == "HTTP 200"
    got = stack.receiver.bodies_for(e.event_id)
    assert len(got) == 3 and all(g.signature_ok for g in got)
    assert len({g.body for g in got}) == 1  # every retry sends the same bytes
    assert [g.headers["x-edgewatch-attempt"] for g in got] == ["1", "2", "3"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(got)]
    assert gaps[0] >= 0.1 * 0.95 and gaps[1] >= 0.2 * 0.95  # 0.1 s, then doubled
    payload = json.loads(got[0].body)
    assert payload["event_id"] == e.event_id and payload["camera_id"] == e.camera_id
    assert payload["plates"][0]["text"] == e.plates[0].text
    assert payload["verdict"]["by"] == "reviewer" and payload["dispatched_by"] == "reviewer"
    assert payload["evidence_url"] == f"{stack.url}/events/{e.event_id}"
    assert payload["package_sha256"] == record.package_sha256
    trail = attempts(stack, record.dispatch_id)
    assert [(a["attempt"], a["status"], a["state"]) for a in trail] == [
        (1, "HTTP 503", "pending"),
        (2, "HTTP 503", "pending"),
        (3, "HTTP 200", "delivered"),
    ]
    # the package link serves exactly the hashed bytes, and it verifies
    pkg = c.get(payload["package_url"].removeprefix(stack.url))
    assert pkg.status == 200 and hashlib.sha256(pkg.body).hexdigest() == payload["package_sha256"]
    with zipfile.ZipFile(io.BytesIO(pkg.body)) as z:
        z.extractall(tmp_path)
    assert verify_package(tmp_path / f"evidence-{e.event_id}") == []
    page = c.get(f"/events/{e.event_id}")
    assert "已送达" in page.text and "dispatch-btn" not in page.text
    again = c.post(f"/events/{e.event_id}/dispatch")
    assert again.status == 400 and "already dispatched" in again.text


def test_dispatch_gives_up_after_max_attempts(stack: Any) -> None:
    c = stack.client("reviewer")
    e = stack.seeded.of("gw-1", 8)
    confirm(c, e.event_id)
    stack.receiver.fail_next = 100
    try:
        assert c.post(f"/events/{e.event_id}/dispatch").status == 303
        record = wait_state(stack, e.event_id, "failed")
    finally:
        stack.receiver.fail_next = 0
    assert record.attempts == 4
    assert len(attempts(stack, record.dispatch_id)) == 4
    assert "失败" in c.get(f"/events/{e.event_id}").text
    # a failed dispatch may be sent again
    assert c.post(f"/events/{e.event_id}/dispatch").status == 303
    assert wait_state(stack, e.event_id, "delivered").attempts == 1


def test_only_confirmed_events_are_dispatched(stack: Any) -> None:
    c = stack.client("reviewer")
    e = stack.seeded.of("gw-1", 9)
    r = c.post(f"/events/{e.event_id}/dispatch")
    assert r.status == 400 and "only confirmed events" in r.text
    assert stack.local.dispatch.for_event(e.event_id) == []
    assert "确认比中后才能派发" in c.get(f"/events/{e.event_id}").text


def test_viewer_cannot_read_dispatch_state_or_packages(stack: Any) -> None:
    c = stack.client("viewer")
    e = stack.seeded.of("gw-1", 7)
    assert c.get(f"/events/{e.event_id}/dispatches.json").status == 403
    assert c.get("/dispatches/anything/package.zip").status == 403


def test_signature_helpers_and_deterministic_zip() -> None:
    key = b"k" * 32
    body = b'{"a":1}'
    now = int(time.time())
    header = sign(key, now, body)
    assert verify_signature(key, header, body, now)
    assert not verify_signature(key, header, body + b" ", now)
    assert not verify_signature(b"x" * 32, header, body, now)
    assert not verify_signature(key, header, body, now + 301)  # stale: replay refused
    files = {"b.txt": b"2", "a/x.json": b"1"}
    assert zip_package(files, "p") == zip_package(dict(reversed(files.items())), "p")
    with zipfile.ZipFile(io.BytesIO(zip_package(files, "p"))) as z:
        assert z.namelist() == ["p/a/x.json", "p/b.txt"]
