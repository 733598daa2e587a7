"""Pure parts of the reviewer page: escaping, forms, sessions, lock-out, policy, texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.routing import Route

from edge.errors import QueryError
from edge.store.analytics import AnalyticsQuery, bucket_starts, validate
from edge.store.auth import METHOD_ACCESS
from edge.store.config import WebConfig
from edge.store.web.asgi import route_template
from edge.store.web.html import Html, el, esc, json_data, raw
from edge.store.web.http import local_path, parse_form
from edge.store.web.i18n import M, translate
from edge.store.web.pages_analytics import heat_level
from edge.store.web.policy import ACTION_METHOD, allowed, required_role
from edge.store.web.sessions import LoginGuard

WEB = Path(__file__).resolve().parents[3] / "edge" / "store" / "web"
S = 1_000_000


def test_text_and_attributes_are_escaped_markup_is_not() -> None:
    evil = '"><script>alert(1)</script>'
    out = el("a", {"href": evil, "title": "x&y"}, evil, el("b", {}, "<i>"))
    assert "<script>" not in out
    assert 'href="&quot;&gt;&lt;script&gt;' in out and "&amp;y" in out
    assert out.endswith("<b>&lt;i&gt;</b></a>")
    assert (
        el("input", {"required": True, "disabled": False, "class_": "c"})
        == '<input required class="c">'
    )
    assert esc(Html("<b>")) == "<b>" and raw("<hr>") == "<hr>"
    assert el("p", {}, None, ["a", 1, 2.5]) == "<p>a12.5</p>"


def test_json_blocks_cannot_close_their_script_element() -> None:
    block = json_data("d", {"label": "</script><script>alert(1)</script>", "amp": "&"})
    assert block.count("</script>") == 1
    body = re.search(r">(.*)</script>$", block)[1]
    assert json.loads(body) == {"label": "</script><script>alert(1)</script>", "amp": "&"}


def test_multipart_keeps_binary_files_exactly() -> None:
    data = bytes(range(256)) * 4 + b"\r\n--notboundary\r\n"
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="csrf"\r\n\r\ntok\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="label"\r\n\r\n\xe6\x91\x8a "A"\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="a b.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + data + b"\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="empty"; filename=""\r\n\r\n\r\n'
        b"--XyZ--\r\n"
    )
    fields, files = parse_form('multipart/form-data; boundary="XyZ"', body)
    assert fields == {"csrf": ["tok"], "label": ['摊 "A"']}
    assert files["photo"][0].data == data and files["photo"][0].filename == "a b.jpg"
    assert files["photo"][0].content_type == "image/jpeg"
    assert "empty" not in files
    with pytest.raises(QueryError, match="boundary"):
        parse_form("multipart/form-data", body)
    with pytest.raises(QueryError, match="not UTF-8"):
        parse_form("application/x-www-form-urlencoded", b"note=%FF")
    assert parse_form("application/x-www-form-urlencoded", b"a=%E6%91%8A+x&b=") == (
        {"a": ["摊 x"], "b": [""]},
        {},
    )
    assert parse_form("application/json", b"{}") == ({}, {})


def test_redirect_targets_stay_on_site() -> None:
    assert local_path("/events/x?y=1") == "/events/x?y=1"
    for bad in ("//evil.example", "https://evil.example/", "\\\\evil", "/\\evil", "javascript:x"):
        assert local_path(bad) == "/search", bad


def test_lock_out_per_name_and_per_address() -> None:
    guard = LoginGuard(WebConfig(lockout_failures=3, lockout_s=100))
    assert [guard.failed("alice", "10.0.0.1", t * S) for t in range(3)] == [False, False, True]
    assert guard.locked("alice", "10.0.0.9", 5 * S)  # the name is locked from anywhere
    assert guard.locked("bob", "10.0.0.1", 5 * S)  # and the address for any name
    assert not guard.locked("bob", "10.0.0.2", 5 * S)
    assert not guard.locked("alice", "10.0.0.9", 103 * S)  # lock ends
    g2 = LoginGuard(WebConfig(lockout_failures=3, lockout_s=100))
    g2.failed("carol", "a", 0)
    g2.failed("carol", "a", 1 * S)
    g2.succeeded("carol", "a")
    assert not g2.failed("carol", "a", 2 * S)  # success resets the count
    g3 = LoginGuard(WebConfig(lockout_failures=2, lockout_s=10))
    g3.failed("dave", "b", 0)
    assert not g3.failed("dave", "b", 20 * S)  # old failures age out of the window


def test_policy_is_the_grpc_table() -> None:
    for action, method in ACTION_METHOD.items():
        assert required_role(action) == METHOD_ACCESS[method], action
    assert not any(allowed("viewer", a) for a in ("verdict", "export", "dispatch", "event_audit"))
    assert all(allowed("viewer", a) for a in ("search", "view", "blob", "analytics"))
    assert allowed("reviewer", "dispatch") and not allowed("reviewer", "watchlist_add_plate")
    assert not allowed("reviewer", "audit") and allowed("admin", "audit")
    assert not allowed(None, "search")


def test_logged_routes_are_templates_never_paths() -> None:
    route = Route("/events/{id}/blob/{name}", lambda r: None)
    scope = {"route": route, "root_path": "", "path": "/events/0190c0de/blob/scene.jpg"}
    assert route_template(scope) == "/events/{id}/blob/{name}"
    assert route_template({"route": route, "root_path": "/api/v1"}).startswith("/api/v1/events/")
    assert route_template({"path": "/search?plate=x"}) == "unmatched"


def test_every_text_key_used_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in WEB.glob("*.py"):
        used |= set(re.findall(r'(?:ctx|c)\.t\(\s*"([a-z_.]+)"', path.read_text()))
    assert used, "no text keys found: the pattern is out of date"
    missing = sorted(k for k in used if k not in M)
    assert missing == []
    for key, (zh, en) in M.items():
        assert zh.strip() and en.strip(), key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key
    assert translate("en", "search.count", n=3) == "3 on this page"


def test_heat_levels_and_buckets() -> None:
    assert [heat_level(n, 10) for n in (0, 1, 2, 5, 9, 10)] == [0, 1, 1, 3, 5, 5]
    hour = 3_600 * S
    q = AnalyticsQuery(10 * hour + 5, 13 * hour, "hour", utc_offset_us=0)
    assert bucket_starts(q) == (10 * hour, 11 * hour, 12 * hour)
    with pytest.raises(QueryError, match="granularity"):
        validate(AnalyticsQuery(0, hour, "week"))  # type: ignore[arg-type]
