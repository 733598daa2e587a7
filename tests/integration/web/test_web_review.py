"""Search, evidence view, verdicts, export and role refusals over real HTTP."""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from edge.evidence.package import verify_package

pytestmark = pytest.mark.timeout(120)
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py
PLAN = helpers.PLAN
SUBJECTS = helpers.SUBJECTS

_ROW_EVENT = re.compile(r'<a href="/events/([^"/]+)">')


def result_ids(html: str) -> list[str]:
    return _ROW_EVENT.findall(html)


def audit(stack: Any, action: str) -> list[dict[str, Any]]:
    return [
        {"actor": e.actor, **json.loads(e.detail_json)}
        for e in stack.local.repo.audit.entries(0, 100_000)
        if e.action == action
    ]


def expected_plate_events(stack: Any, text: str) -> set[str]:
    return {e.event_id for e in stack.seeded.events if any(p.text == text for p in e.plates)}


def test_fuzzy_plate_search_finds_confusable_reads(stack: Any) -> None:
    c = stack.client("viewer")
    want = expected_plate_events(stack, "粤B12345")
    assert len(want) == sum(1 for p in PLAN if p[3] == "subj-7" and p[5])
    fuzzy = c.get("/search?plate=" + quote("粤B1234S") + "&n=100")
    assert fuzzy.status == 200
    assert set(result_ids(fuzzy.text)) == want
    exact = c.get("/search?exact=1&n=100&plate=" + quote("粤B1234S"))
    assert result_ids(exact.text) == []
    assert "没有符合条件的记录" in exact.text
    last = audit(stack, "review.search")[-1]
    assert last["actor"] == "person:viewer" and last["plate"] == "粤B1234S"
    assert last["results"] == 0


def test_filters_camera_gateway_time_integrity(stack: Any) -> None:
    c = stack.client("viewer")
    ev = stack.seeded.events
    cam2 = c.get("/search?n=100&gateway=gw-1&camera=cam-2")
    assert set(result_ids(cam2.text)) == {
        e.event_id for e in ev if (e.gateway_id, e.camera_id) == ("gw-1", "cam-2")
    }
    gap = c.get("/search?n=100&integrity=gap")
    assert result_ids(gap.text) == [stack.seeded.of("gw-2", 5).event_id]
    assert "链缺口" in gap.text
    # 2025-06-16 00:00 .. 2025-06-17 00:00 local (UTC+8)
    day2 = c.get("/search?n=100&since=2025-06-16T00:00&until=2025-06-17T00:00")
    lo, hi = 1_750_003_200_000_000, 1_750_089_600_000_000
    assert set(result_ids(day2.text)) == {e.event_id for e in ev if lo <= e.captured_at_us < hi}
    subj = c.get("/search?n=100&subject=subj-face")
    assert set(result_ids(subj.text)) == {
        e.event_id for e in ev if any(f.subject_id == "subj-face" for f in e.faces)
    }
    assert SUBJECTS["subj-face"][0] in subj.text
    by_label = c.get("/search?n=100&subject=" + quote("人脸布控"))
    assert set(result_ids(by_label.text)) == set(result_ids(subj.text))
    assert result_ids(c.get("/search?subject=nobody-like-this").text) == []
    bad = c.get("/search?since=yesterday")
    assert bad.status == 200 and "is not a date" in bad.text


def test_paging_walks_every_event_once(stack: Any) -> None:
    c = stack.client("viewer")
    seen: list[str] = []
    path = "/search?n=5"
    for _ in range(10):
        page = c.get(path)
        seen += result_ids(page.text)
        m = re.search(r'href="(/search\?[^"]*cursor=[^"]*)" class="button" rel="next"', page.text)
        if not m:
            break
        path = m[1].replace("&amp;", "&")
    assert len(seen) == len(stack.seeded.events) == len(set(seen))


def test_event_detail_shows_evidence_and_is_audited(stack: Any) -> None:
    c = stack.client("viewer")
    e = stack.seeded.of("gw-1", 1)
    r = c.get(f"/events/{e.event_id}")
    assert r.status == 200
    text = r.text
    assert "粤B12345" in text and "有效" in text  # plate read, signature re-checked now
    assert e.event_id in text and e.prev_hash in text
    assert 'id="scene-img"' in text and 'id="boxes"' in text
    boxes = json.loads(
        re.search(r'<script type="application/json" id="boxes">(.*?)</script>', text)[1]
    )
    assert {b["kind"] for b in boxes} == {"face", "plate"}
    assert boxes[1]["box"] == list(e.plates[0].box)
    # a viewer sees no verdict form, export or dispatch and no audit trail
    for absent in ('action="/events/' + e.event_id + '/verdict"', "export-btn", "dispatch-btn"):
        assert absent not in text
    assert audit(stack, "review.view")[-1] == {"actor": "person:viewer", "event_id": e.event_id}


def test_blobs_are_served_exactly_and_audited(stack: Any) -> None:
    c = stack.client("viewer")
    e = stack.seeded.of("gw-1", 3)
    r = c.get(f"/events/{e.event_id}/blob/scene.jpg")
    assert r.status == 200 and r.header("Content-Type") == "image/jpeg"
    scene = next(b for b in e.blobs if b.name == "scene.jpg")
    import hashlib

    assert hashlib.sha256(r.body).hexdigest() == scene.sha256
    assert audit(stack, "review.blob")[-1]["name"] == "scene.jpg"
    assert c.get(f"/events/{e.event_id}/blob/nothing.jpg").status == 404
    assert c.get("/events/no-such-event").status == 404


def test_thumbnails_only_for_events_of_an_audited_search(stack: Any) -> None:
    c = stack.client("viewer")
    e = stack.seeded.of("gw-2", 6)
    assert c.get(f"/events/{e.event_id}/thumb").status == 403
    c.get("/search?gateway=gw-2&n=100")
    r = c.get(f"/events/{e.event_id}/thumb")
    assert r.status == 200 and r.header("Content-Type") == "image/jpeg"
    assert r.body[:2] == b"\xff\xd8"


def test_verdict_confirm_and_reject_with_note(stack: Any) -> None:
    c = stack.client("reviewer")
    e = stack.seeded.of("gw-1", 4)
    path = f"/events/{e.event_id}/verdict"
    assert c.post(path, {"verdict": "confirmed", "note": "  "}).status == 400
    r = c.post(path, {"verdict": "confirmed", "note": "摊贩确认 <b>x</b>"})
    assert r.status == 303 and "msg=event.saved" in r.header("Location")
    page = c.get(r.header("Location"))
    assert "已确认" in page.text and "审核结论已保存" in page.text
    assert "摊贩确认 &lt;b&gt;x&lt;/b&gt;" in page.text  # the note is escaped
    stored = stack.local.repo.events.get_event(e.event_id)
    assert (stored.verdict, stored.verdict_by) == ("confirmed", "reviewer")
    assert audit(stack, "review.verdict")[-1]["event_id"] == e.event_id
    assert c.post(path, {"verdict": "maybe", "note": "n"}).status == 400


def test_export_is_the_verifiable_review_package(stack: Any, tmp_path: Path) -> None:
    c = stack.client("reviewer")
    e = stack.seeded.of("gw-1", 5)
    r = c.post(f"/events/{e.event_id}/export")
    assert r.status == 200 and r.header("Content-Type") == "application/zip"
    assert f'filename="evidence-{e.event_id}.zip"' in r.header("Content-Disposition")
    with zipfile.ZipFile(io.BytesIO(r.body)) as z:
        z.extractall(tmp_path)
    root = tmp_path / f"evidence-{e.event_id}"
    assert verify_package(root) == []
    assert (root / "events" / e.event_id / "chain.json").is_file()
    assert audit(stack, "review.export")[-1]["event_ids"] == [e.event_id]


def test_export_after_a_chain_gap_names_the_unprovable_link(stack: Any, tmp_path: Path) -> None:
    c = stack.client("reviewer")
    r = c.post(f"/events/{stack.seeded.of('gw-2', 5).event_id}/export")
    assert r.status == 200 and r.header("Content-Type") == "application/zip"
    event_id = stack.seeded.of("gw-2", 5).event_id
    with zipfile.ZipFile(io.BytesIO(r.body)) as z:
        z.extractall(tmp_path)
    problems = verify_package(tmp_path / f"evidence-{event_id}")
    assert len(problems) == 1 and "predecessor of sequence 5 is missing" in problems[0]


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("verdict", {"verdict": "confirmed", "note": "viewer tries"}),
        ("export", {}),
        ("dispatch", {}),
    ],
)
def test_viewer_cannot_judge_export_or_dispatch(
    stack: Any, path: str, fields: dict[str, str]
) -> None:
    c = stack.client("viewer")
    e = stack.seeded.of("gw-1", 6)
    before = len(stack.local.repo.audit.entries(0, 100_000))
    r = c.post(f"/events/{e.event_id}/{path}", fields)  # hand-made, with a valid CSRF token
    assert r.status == 403
    assert "权限不足" in r.text and "审核员" in r.text
    assert stack.local.repo.events.get_event(e.event_id).verdict is None
    after = stack.local.repo.audit.entries(0, 100_000)[before:]
    assert not any(a.action in ("review.verdict", "review.export") for a in after)


def test_roles_on_admin_pages(stack: Any) -> None:
    for user in ("viewer", "reviewer"):
        c = stack.client(user)
        for path in ("/watchlist", "/gateways", "/audit"):
            assert c.get(path).status == 403, (user, path)
        assert c.post("/watchlist/plate", {"label": "x", "plate": "粤B99999"}).status == 403
        assert c.post("/watchlist/remove", {"subject_id": "subj-7"}).status == 403
        assert c.post("/audit/verify").status == 403
        nav = c.get("/search").text
        assert 'href="/watchlist"' not in nav and 'href="/analytics"' in nav
    assert stack.local.repo.watchlist.get_subject("subj-7") is not None
