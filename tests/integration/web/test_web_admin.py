"""Watchlist, gateways and audit pages (admin) over real HTTP."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

from edge.health import CameraHealth, GatewayHealth

pytestmark = pytest.mark.timeout(120)
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py


def test_admin_adds_and_removes_a_plate_subject(stack: Any) -> None:
    c = stack.client("admin")
    version = stack.local.repo.watchlist.version()
    r = c.post("/watchlist/plate", {"label": "夜市摊位 E", "plate": "粤b·66c88", "subject_id": ""})
    assert r.status == 303
    page = c.get(r.header("Location"))
    assert "已添加" in page.text and "粤B66C88" in page.text
    assert stack.local.repo.watchlist.version() == version + 1
    sid = next(
        s.subject_id for s in stack.local.repo.watchlist.list_subjects() if s.label == "夜市摊位 E"
    )
    actions = [e.action for e in stack.local.repo.audit.entries(0, 100_000)]
    assert "watchlist.add_plate" in actions and "watchlist.list" in actions
    assert c.post("/watchlist/remove", {"subject_id": sid}).status == 303
    assert stack.local.repo.watchlist.get_subject(sid) is None
    assert "粤B66C88" not in c.get("/watchlist").text


def test_invalid_plate_is_refused_with_the_reason(stack: Any) -> None:
    c = stack.client("admin")
    r = c.post("/watchlist/plate", {"label": "bad", "plate": "XX12"})
    assert r.status == 400 and "plate refused" in r.text


def test_labels_are_escaped_everywhere(stack: Any) -> None:
    c = stack.client("admin")
    evil = '<script>alert("x")</script>'
    assert c.post("/watchlist/plate", {"label": evil, "plate": "粤B77777"}).status == 303
    page = c.get("/watchlist").text
    assert evil not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_gateways_page_shows_health_heartbeat_and_chain(stack: Any) -> None:
    health = GatewayHealth(
        gateway_id="gw-1",
        sent_at_us=stack.local.clock(),
        software_version="0.1.0",
        cameras=(
            CameraHealth("cam-1", True, 4.5, 1000, 3),
            CameraHealth("cam-2", False, 0.0, 10, 0, "rtsp timeout"),
        ),
        queue_depth=2,
        outbox_events=7,
        outbox_bytes=1234,
        model_ids=("scrfd_500m",),
        face_model_id="w600k_mbf",
        watchlist_version=3,
        last_sequence=11,
    )
    stack.local.ingest().heartbeat("gw-1", health)
    c = stack.client("admin")
    page = c.get("/gateways").text
    assert "gw-1" in page and "gw-2" in page
    assert "rtsp timeout" in page and "4.5 fps" in page and "队列 2，待发 7 条" in page
    head = stack.local.repo.gateways.get_gateway("gw-2").head
    assert f"#{head.last_sequence} " in page
    assert "gap" in page  # gw-2's chain gap is listed as a problem


def test_audit_page_lists_entries_and_verifies_the_chain(stack: Any) -> None:
    c = stack.client("admin")
    page = c.get("/audit")
    assert page.status == 200
    seqs = [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", page.text)]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) <= 100
    r = c.post("/audit/verify")
    assert r.status == 200 and "审计链完整" in r.text
    last = [
        json.loads(e.detail_json)
        for e in stack.local.repo.audit.entries(0, 100_000)
        if e.action == "admin.audit_verify"
    ][-1]
    assert last["ok"] is True
