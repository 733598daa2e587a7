"""Login, sessions, lock-out, CSRF, headers and language over real HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py


def audit_actions(stack: Any, action: str) -> list[dict[str, Any]]:
    out = []
    for e in stack.local.repo.audit.entries(0, 100_000):
        if e.action == action:
            out.append({"actor": e.actor, **json.loads(e.detail_json)})
    return out


def test_pages_need_a_session(stack: Any) -> None:
    c = stack.client()
    r = c.get("/search?plate=%E7%B2%A4B12345")
    assert r.status == 303
    assert r.header("Location").startswith("/login?next=/search")
    for path in ("/events/x/verdict", "/events/x/export", "/watchlist/plate", "/logout"):
        assert c.post(path, {}).status == 401, path


def test_login_sets_a_strict_http_only_session_cookie(stack: Any) -> None:
    c = stack.client()
    c.get("/login")
    r = c.post("/login", {"name": "viewer", "token": stack.tokens["viewer"], "next": "/analytics"})
    assert r.status == 303 and r.header("Location") == "/analytics"
    session = next(h for h in r.cookies() if h.startswith("ew_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/" in session
    page = c.get("/search")
    assert page.status == 200 and "viewer" in page.text
    assert audit_actions(stack, "web.login")[-1]["actor"] == "person:viewer"


def test_wrong_token_or_name_is_refused_and_audited(stack: Any) -> None:
    c = stack.client()
    c.get("/login")
    r = c.post("/login", {"name": "viewer", "token": stack.tokens["reviewer"]})
    assert r.status == 401
    assert "用户名或令牌错误" in r.text
    assert not any(h.startswith("ew_session=") for h in r.cookies())
    assert c.get("/search").status == 303
    failed = audit_actions(stack, "web.login_failed")
    assert failed and failed[-1]["user"] == "viewer"
    assert stack.tokens["reviewer"] not in json.dumps(failed)  # tokens never reach the log
    c.post("/login", {"name": stack.tokens["admin"], "token": stack.tokens["admin"]})
    pasted = audit_actions(stack, "web.login_failed")[-1]
    assert pasted["user"] == "(not a user name)"


def test_login_form_needs_its_csrf_value(stack: Any) -> None:
    c = stack.client()
    r = c.post("/login", {"name": "viewer", "token": stack.tokens["viewer"]}, csrf=False)
    assert r.status == 403
    c.get("/login")
    r = c.post("/login", {"name": "viewer", "token": stack.tokens["viewer"], "csrf": "forged"})
    assert r.status == 403


def test_next_parameter_cannot_leave_the_site(stack: Any) -> None:
    c = stack.client()
    c.get("/login")
    r = c.post(
        "/login", {"name": "viewer", "token": stack.tokens["viewer"], "next": "//evil.example/x"}
    )
    assert r.status == 303 and r.header("Location") == "/search"


def test_posts_without_or_with_wrong_csrf_are_refused(stack: Any) -> None:
    c = stack.client("reviewer")
    event = stack.seeded.of("gw-1", 2)
    path = f"/events/{event.event_id}/verdict"
    fields = {"verdict": "confirmed", "note": "csrf probe"}
    assert c.post(path, fields, csrf=False).status == 403
    assert c.post(path, {**fields, "csrf": "0" * 43}).status == 403
    foreign = c.post(path, fields, headers={"Origin": "http://evil.example"})
    assert foreign.status == 403
    assert stack.local.repo.events.get_event(event.event_id).verdict is None
    ok = c.post(path, {**fields, "verdict": "rejected"}, headers={"Origin": stack.url})
    assert ok.status == 303
    assert stack.local.repo.events.get_event(event.event_id).verdict == "rejected"


def test_logout_ends_the_session(stack: Any) -> None:
    c = stack.client("viewer")
    old = dict(c.jar)
    assert c.post("/logout").status == 303
    assert c.get("/search").status == 303
    c.jar = old  # replaying the old cookie does not help
    assert c.get("/search").status == 303


def test_revoked_user_loses_the_session_at_once(stack: Any) -> None:
    token = stack.local.add_user("temp", "reviewer")
    stack.tokens["temp"] = token
    c = stack.client("temp")
    assert c.get("/search").status == 200
    stack.local.repo.users.revoke_user("temp")
    assert c.get("/search").status == 303


def test_security_headers_and_no_external_resources(stack: Any) -> None:
    c = stack.client("admin")
    for path in ("/search", "/analytics", "/watchlist", "/gateways", "/audit"):
        r = c.get(path)
        assert r.status == 200, path
        csp = r.header("Content-Security-Policy")
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert r.header("X-Frame-Options") == "DENY"
        assert r.header("Cache-Control") == "no-store"
        assert "http://" not in r.text.replace(stack.url, "") and "https://" not in r.text
        assert "<script>" not in r.text  # only src= and JSON data blocks
    js = c.get("/static/app.js")
    assert js.status == 200 and js.header("Content-Type").startswith("text/javascript")
    assert "http" not in js.text.replace("http://www.w3.org/2000/svg", "")
    assert c.get("/static/../server.py").status == 404


def test_language_switch_to_english_and_back(stack: Any) -> None:
    c = stack.client("viewer")
    assert "比中记录检索" in c.get("/search").text
    r = c.get("/lang?to=en&next=/search")
    assert r.status == 303 and r.header("Location") == "/search"
    page = c.get("/search")
    assert "Search matches" in page.text and 'lang="en"' in page.text
    c.get("/lang?to=zh-CN&next=/search")
    assert 'lang="zh-CN"' in c.get("/search").text


def test_lock_out_after_repeated_failures(tmp_path: Path) -> None:
    with helpers.open_stack(tmp_path, "sqlite", lockout_failures=3, lockout_s=600) as s:
        c = s.client()
        c.get("/login")
        codes = [
            c.post("/login", {"name": "reviewer", "token": f"wrong-{i}"}).status for i in range(3)
        ]
        assert codes == [401, 401, 429]
        right = c.post("/login", {"name": "reviewer", "token": s.tokens["reviewer"]})
        assert right.status == 429 and "锁定" in right.text
        assert not any(h.startswith("ew_session=") for h in right.cookies())
        refused = audit_actions(s, "web.login_refused")
        assert refused and refused[-1]["reason"] == "locked"


def test_a_session_survives_a_store_restart(tmp_path: Path) -> None:
    with helpers.open_stack(tmp_path, "sqlite") as s:
        c = s.client("reviewer")
        assert c.get("/search").status == 200
        s.local.stop()  # a deploy or a crash: nothing of the session was in memory only
        s.local.start()
        again = helpers.Client(s.local.url)
        again.jar = dict(c.jar)
        page = again.get("/search")
        assert page.status == 200 and "reviewer" in page.text
