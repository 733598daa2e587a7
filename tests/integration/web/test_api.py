"""The REST API under /api/v1 with a plain HTTP client (httpx) against a real store
(SQLite and PostgreSQL), seeded with signed sample events through the real ingest."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.store.dispatch_io import package_link_signature

pytestmark = pytest.mark.timeout(180)
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py
PLAN = helpers.PLAN


@pytest.fixture
def api(stack: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.url}/api/v1", timeout=60) as c:
        yield c


def bearer(stack: Any, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.tokens[user]}"}


def audit(stack: Any, action: str) -> list[dict[str, Any]]:
    return [
        {"actor": e.actor, **json.loads(e.detail_json)}
        for e in stack.local.repo.audit.entries(0, 100_000)
        if e.action == action
    ]


def test_openapi_describes_the_api_and_not_the_pages(api: httpx.Client) -> None:
    r = api.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = set(doc["paths"])
    assert {"/events", "/events/{event_id}", "/events/{event_id}/blobs/{name}"} <= paths
    assert {"/events/{event_id}/verdict", "/events/{event_id}/package.zip", "/status"} <= paths
    assert not paths & {"/search", "/login", "/watchlist/face", "/metrics", "/analytics"}
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert doc["servers"] == [{"url": "/api/v1"}]


def test_tokens_roles_and_refusals(
    stack: Any, api: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    missing = api.get("/events")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["detail"]
    bad = api.get("/events", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and "invalid_token" in bad.headers["WWW-Authenticate"]
    basic = api.get("/events", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    e = stack.seeded.of("gw-1", 2)
    viewer = bearer(stack, "viewer")
    assert api.get(f"/events/{e.event_id}", headers=viewer).status_code == 200
    verdict = {"verdict": "confirmed", "note": "viewer tries"}
    for method, path, body in (
        ("POST", f"/events/{e.event_id}/verdict", verdict),
        ("GET", f"/events/{e.event_id}/package.zip", None),
        ("POST", f"/events/{e.event_id}/transfer", None),
        ("GET", "/watchlist", None),
        ("GET", "/status", None),
        ("DELETE", "/watchlist/subj-7", None),
    ):
        r = api.request(method, path, json=body, headers=viewer)
        assert r.status_code == 403, (method, path)
        assert "has role viewer" in r.json()["detail"]
    assert api.get("/status", headers=bearer(stack, "reviewer")).status_code == 403
    # this store has no GA/T 1400 platform (viid:): nothing to transfer to
    r = api.post(f"/events/{e.event_id}/transfer", headers=bearer(stack, "reviewer"))
    assert r.status_code == 404 and "viid:" in r.json()["detail"]
    assert stack.local.repo.events.get_event(e.event_id).verdict is None
    token = stack.local.add_user("apitemp", "viewer")
    assert api.get("/events", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    stack.local.repo.users.revoke_user("apitemp")
    assert api.get("/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    for secret in (token, *stack.tokens.values()):
        assert secret not in caplog.text  # tokens never reach the log


def test_search_filters_and_cursor_paging(stack: Any, api: httpx.Client) -> None:
    viewer = bearer(stack, "viewer")
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 5}
    for _ in range(10):
        page = api.get("/events", params=params, headers=viewer).json()
        seen += [row["id"] for row in page["events"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert len(seen) == len(stack.seeded.events) == len(set(seen))
    rows = api.get("/events", params={"plate": "粤B1234S", "limit": 100}, headers=viewer).json()
    want = {e.event_id for e in stack.seeded.events if any(p.text == "粤B12345" for p in e.plates)}
    assert {r["id"] for r in rows["events"]} == want and rows["next"] is None
    row = rows["events"][0]
    assert set(row) == {
        "id", "time", "gateway_id", "camera_id", "kind", "plate", "subject_id", "label",
        "similarity", "verdict", "integrity", "sequence", "plates", "subject_ids",
    }  # fmt: skip
    assert row["plate"] == "粤B12345" and row["subject_id"] == "subj-7"
    assert row["label"] == helpers.SUBJECTS["subj-7"][0] and row["time"].endswith("+00:00")
    exact = api.get("/events", params={"plate": "粤B1234S", "exact": True}, headers=viewer)
    assert exact.json() == {"events": [], "next": None}
    gap = api.get("/events", params={"integrity": "gap"}, headers=viewer).json()["events"]
    assert [r["id"] for r in gap] == [stack.seeded.of("gw-2", 5).event_id]
    cam = api.get(
        "/events", params={"gateway": "gw-1", "camera": "cam-2", "limit": 100}, headers=viewer
    ).json()["events"]
    assert {r["id"] for r in cam} == {
        e.event_id for e in stack.seeded.events if (e.gateway_id, e.camera_id) == ("gw-1", "cam-2")
    }
    # 2025-06-16 00:00 .. 2025-06-17 00:00 in UTC+8, written with its zone
    day = api.get(
        "/events",
        params={"since": "2025-06-16T00:00+08:00", "until": "2025-06-17T00:00+08:00", "limit": 100},
        headers=viewer,
    ).json()["events"]
    lo, hi = 1_750_003_200_000_000, 1_750_089_600_000_000
    assert {r["id"] for r in day} == {
        e.event_id for e in stack.seeded.events if lo <= e.captured_at_us < hi
    }
    last = audit(stack, "review.search")[-1]
    assert last["actor"] == "person:viewer" and last["results"] == len(day)


def test_bad_parameters_are_named(stack: Any, api: httpx.Client) -> None:
    viewer = bearer(stack, "viewer")
    r = api.get("/events", params={"since": "yesterday", "limit": 0}, headers=viewer)
    assert r.status_code == 422
    bad = {tuple(d["loc"]): d["msg"] for d in r.json()["detail"]}
    assert ("query", "since") in bad and ("query", "limit") in bad
    r = api.get("/events", params={"verdict": "maybe"}, headers=viewer)
    assert r.status_code == 422 and "pending" in json.dumps(r.json())
    r = api.get("/events", params={"cursor": "not a cursor"}, headers=viewer)
    assert r.status_code == 400 and "not one this store issued" in r.json()["detail"]
    assert api.get("/no/such/route", headers=viewer).status_code == 404
    r = api.put("/events", headers=viewer)
    assert r.status_code == 405 and r.json()["detail"]


def test_event_detail_and_blobs_byte_exact(stack: Any, api: httpx.Client) -> None:
    viewer = bearer(stack, "viewer")
    e = stack.seeded.of("gw-1", 1)
    r = api.get(f"/events/{e.event_id}", headers=viewer)
    assert r.status_code == 200
    d = r.json()
    assert d["event"]["event_id"] == e.event_id and d["event"]["prev_hash"] == e.prev_hash
    assert d["integrity"] == "ok" and d["verdict"] == "pending" and len(d["signature"]) == 128
    assert audit(stack, "review.view")[-1] == {"actor": "person:viewer", "event_id": e.event_id}
    assert {b["name"] for b in d["blobs"]} == {b.name for b in e.blobs}
    for blob in d["blobs"]:
        got = api.get(blob["url"].removeprefix("/api/v1"), headers=viewer)
        assert got.status_code == 200 and got.headers["Content-Type"] == blob["media_type"]
        digest = hashlib.sha256(got.content).hexdigest()
        assert digest == blob["sha256"] == got.headers["X-Content-SHA256"]
        signed = next(b for b in e.blobs if b.name == blob["name"])
        assert digest == signed.sha256  # the bytes the gateway signed
    assert audit(stack, "review.blob")[-1]["name"] == d["blobs"][-1]["name"]
    missing = api.get("/events/no-such-event", headers=viewer)
    assert missing.status_code == 404 and "no-such-event" in missing.json()["detail"]
    assert api.get(f"/events/{e.event_id}/blobs/nothing.jpg", headers=viewer).status_code == 404


def test_verdicts(stack: Any, api: httpx.Client) -> None:
    reviewer = bearer(stack, "reviewer")
    e = stack.seeded.of("gw-1", 10)
    path = f"/events/{e.event_id}/verdict"
    for body in (
        {"verdict": "confirmed", "note": ""},
        {"verdict": "maybe", "note": "n"},
        {"verdict": "confirmed", "note": "n", "extra": 1},
        {"verdict": "confirmed"},
    ):
        assert api.post(path, json=body, headers=reviewer).status_code == 422, body
    blank = api.post(path, json={"verdict": "confirmed", "note": "   "}, headers=reviewer)
    assert blank.status_code == 400 and "note" in blank.json()["detail"]
    ok = api.post(path, json={"verdict": "rejected", "note": "not the vendor"}, headers=reviewer)
    assert ok.status_code == 200
    assert ok.json()["verdict"] == "rejected" and ok.json()["reviewer"] == "reviewer"
    stored = stack.local.repo.events.get_event(e.event_id)
    assert (stored.verdict, stored.verdict_note) == ("rejected", "not the vendor")
    assert audit(stack, "review.verdict")[-1]["event_id"] == e.event_id
    unknown = api.post(
        "/events/nope/verdict", json={"verdict": "confirmed", "note": "x"}, headers=reviewer
    )
    assert unknown.status_code == 404


def unzip(data: bytes, into: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(into)


def verify_cli(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "evidence", "verify", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_package_zip_verifies_with_the_real_cli(
    stack: Any, api: httpx.Client, tmp_path: Path
) -> None:
    e = stack.seeded.of("gw-1", 5)
    r = api.get(f"/events/{e.event_id}/package.zip", headers=bearer(stack, "reviewer"))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert hashlib.sha256(r.content).hexdigest() == r.headers["X-Content-SHA256"]
    unzip(r.content, tmp_path)
    root = tmp_path / f"evidence-{e.event_id}"
    done = verify_cli(root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "events" / e.event_id / "chain.json").is_file()
    assert audit(stack, "review.export")[-1] == {
        "actor": "person:reviewer",
        "event_ids": [e.event_id],
    }
    scene = next(root.rglob("scene.jpg"))
    scene.write_bytes(scene.read_bytes()[:-4] + b"oops")
    assert verify_cli(root).returncode != 0  # the CLI does check what it was given


def test_watchlist_and_status_for_admins(stack: Any, api: httpx.Client) -> None:
    admin = bearer(stack, "admin")
    listed = api.get("/watchlist", headers=admin).json()
    assert {s["subject_id"] for s in listed["subjects"]} >= set(helpers.SUBJECTS)
    added = api.post(
        "/watchlist/plates", json={"label": "api vendor", "plate": "粤b 9x 876"}, headers=admin
    )
    assert added.status_code == 200, added.text
    body = added.json()
    assert body["plate"] == "粤B9X876" and body["version"] > listed["version"]
    again = api.get("/watchlist", headers=admin).json()
    assert any(s["plates"] == ["粤B9X876"] for s in again["subjects"])
    bad = api.post("/watchlist/plates", json={"label": "x", "plate": "hello"}, headers=admin)
    assert bad.status_code == 400 and "plate refused" in bad.json()["detail"]
    gone = api.delete(f"/watchlist/{body['subject_id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["version"] > body["version"]
    assert api.delete(f"/watchlist/{body['subject_id']}", headers=admin).status_code == 404
    actions = [a["subject_id"] for a in audit(stack, "watchlist.remove")]
    assert body["subject_id"] in actions
    status = api.get("/status", headers=admin).json()
    assert status["events_stored"] == len(stack.seeded.events) and status["database_ok"]
    assert {g["gateway_id"] for g in status["gateways"]} == {"gw-1", "gw-2"}
    assert status["events_by_integrity"]["gap"] == 1


def wait_delivered(stack: Any, event_id: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = stack.local.dispatch.for_event(event_id)
        if records and records[-1].state == "delivered":
            return records[-1]
        time.sleep(0.05)
    raise AssertionError("dispatch not delivered")


def test_dispatched_package_link_works_without_login(
    stack: Any, api: httpx.Client, tmp_path: Path
) -> None:
    page = stack.client("reviewer")
    e = stack.seeded.of("gw-2", 3)
    path = f"/events/{e.event_id}/verdict"
    assert page.post(path, {"verdict": "confirmed", "note": "for the case"}).status == 303
    assert page.post(f"/events/{e.event_id}/dispatch").status == 303
    record = wait_delivered(stack, e.event_id)
    payload = json.loads(stack.receiver.bodies_for(e.event_id)[-1].body)
    link = payload["package_url"]
    assert link.startswith(f"{stack.url}/api/v1/dispatches/{record.dispatch_id}/package.zip?")
    with httpx.Client(timeout=60) as case_system:  # no cookie, no token
        r = case_system.get(link)
        assert r.status_code == 200, r.text
        assert hashlib.sha256(r.content).hexdigest() == payload["package_sha256"]
        unzip(r.content, tmp_path)
        assert verify_cli(tmp_path / f"evidence-{e.event_id}").returncode == 0
        used = audit(stack, "dispatch.package")[-1]
        assert used["actor"] == "link:127.0.0.1" and used["via"] == "signed link"
        assert used["dispatch_id"] == record.dispatch_id
        base, _, query = link.partition("?")
        params = dict(p.split("=") for p in query.split("&"))
        forged = case_system.get(base, params={**params, "sig": "0" * 64})
        assert forged.status_code == 403 and "signature" in forged.json()["detail"]
        later = case_system.get(base, params={**params, "expires": int(params["expires"]) + 1})
        assert later.status_code == 403  # the expiry is signed too
        other = case_system.get(link.replace(record.dispatch_id, "0" * 36))
        assert other.status_code == 403
        with stack.local.db.read() as tx:  # an expired link, signed with the store's key
            key = bytes.fromhex(str(tx.row("SELECT secret FROM store_secrets")[0]))
        past = int(time.time()) - 60
        sig = package_link_signature(key, record.dispatch_id, e.event_id, past)
        expired = case_system.get(base, params={"expires": past, "sig": sig})
        assert expired.status_code == 403 and "expired" in expired.json()["detail"]
        assert case_system.get(base).status_code == 422  # no expiry, no signature
