"""The reviewer page in a real browser: login, search, evidence, verdict, export,
face-photo search, analytics charts, dispatch and role refusals."""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from edge.evidence.package import verify_package
from edge.health import CameraHealth, GatewayHealth

pytestmark = [pytest.mark.timeout(120), pytest.mark.models, pytest.mark.eval]
helpers = sys.modules["edgewatch_web_test_helpers"]
PLAN = helpers.PLAN

Open = Callable[..., Any]
Shot = Callable[[Any, str], Path]
ENROL = "faces/deepface/angelina_jolie/img1.jpg"
PROBE = "faces/deepface/angelina_jolie/img2.jpg"


def result_rows(page: Any) -> Any:
    return page.locator("table tbody tr")


def test_login_refuses_a_wrong_token(open_as: Open, web: Any, shots: Shot) -> None:
    page = open_as(None)
    page.goto(f"{web.url}/search")
    assert page.url.startswith(f"{web.url}/login")
    page.get_by_label("用户名").fill("viewer")
    page.get_by_label("访问令牌").fill("not-the-token")
    page.get_by_role("button", name="登录").click()
    assert "用户名或令牌错误" in page.get_by_role("alert").inner_text()
    shots(page, "login")


def test_search_fuzzy_plate_with_thumbnails(open_as: Open, web: Any, shots: Shot) -> None:
    page = open_as("reviewer")
    page.get_by_label("车牌", exact=True).fill("粤B1234S")
    page.get_by_role("button", name="检索", exact=True).click()
    page.wait_for_url("**/search?**")
    want = sum(1 for p in PLAN if p[3] == "subj-7" and p[5])
    assert result_rows(page).count() == want
    assert page.locator("span.plate").first.inner_text() == "粤B12345"
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    shots(page, "search")


def test_event_detail_draws_boxes_over_the_untouched_scene(
    open_as: Open, web: Any, shots: Shot
) -> None:
    e = web.seeded.of("gw-1", 1)
    page = open_as("viewer")
    page.goto(f"{web.url}/events/{e.event_id}")
    page.wait_for_selector("figure.scene svg rect")
    rects = page.locator("figure.scene svg rect")
    assert rects.count() == len(e.faces) + len(e.plates)
    face = rects.first
    assert float(face.get_attribute("x")) == pytest.approx(e.faces[0].box[0])
    assert float(face.get_attribute("width")) == pytest.approx(
        e.faces[0].box[2] - e.faces[0].box[0]
    )
    # the scene the browser shows is byte-identical to the signed blob
    src = page.locator("#scene-img").get_attribute("src")
    body = page.request.get(f"{web.url}{src}").body()
    scene = next(b for b in e.blobs if b.name == "scene.jpg")
    assert hashlib.sha256(body).hexdigest() == scene.sha256
    toggle = page.get_by_role("button", name="显示/隐藏标注框")
    toggle.focus()
    page.keyboard.press("Enter")
    assert "hide-boxes" in (page.locator("figure.scene").get_attribute("class") or "")
    assert toggle.get_attribute("aria-pressed") == "false"
    page.keyboard.press("Enter")
    assert page.locator("text=有效").count() >= 1
    shots(page, "event")


def test_verdict_then_export_download_verifies(
    open_as: Open, web: Any, tmp_path: Path, shots: Shot
) -> None:
    e = web.seeded.of("gw-1", 2)
    page = open_as("reviewer")
    page.goto(f"{web.url}/events/{e.event_id}")
    page.get_by_label("备注（必填，说明理由）").fill("改装三轮车占道，确认")
    page.get_by_role("button", name="确认比中").click()
    page.wait_for_url("**msg=event.saved")
    assert page.get_by_role("status").inner_text() == "审核结论已保存。"
    assert "已确认" in page.locator("#verdict-h + p").inner_text()
    with page.expect_download() as info:
        page.get_by_role("button", name="导出证据包（zip）").click()
    download = info.value
    assert download.suggested_filename == f"evidence-{e.event_id}.zip"
    zpath = tmp_path / "pkg.zip"
    download.save_as(zpath)
    with zipfile.ZipFile(zpath) as z:
        z.extractall(tmp_path)
    assert verify_package(tmp_path / f"evidence-{e.event_id}") == []
    shots(page, "event-confirmed")


def test_admin_enrols_a_face_then_search_by_photo(
    open_as: Open, web: Any, eval_dir: Path, shots: Shot
) -> None:
    admin = open_as("admin")
    admin.get_by_role("link", name="布控名单").click()
    form = admin.locator("form[action='/watchlist/face']")
    form.get_by_label("已有对象编号（可选，留空新建）").fill("subj-face")
    form.get_by_label("照片（1–8 张）").set_input_files(str(eval_dir / ENROL))
    form.get_by_role("button", name="添加").click()
    admin.wait_for_url("**/watchlist?msg=wl.added")
    shots(admin, "watchlist")
    page = open_as("reviewer")
    page.get_by_label("人脸照片（JPEG/PNG）").set_input_files(str(eval_dir / PROBE))
    page.get_by_role("button", name="上传并检索").click()
    page.wait_for_url("**/search/face")
    want = {
        e.event_id for e in web.seeded.events if any(f.subject_id == "subj-face" for f in e.faces)
    }
    links = page.locator("table tbody tr a").evaluate_all(
        "as => as.map(a => a.getAttribute('href'))"
    )
    assert {h.removeprefix("/events/") for h in links} == want
    shots(page, "face-search")


def test_analytics_charts_render(open_as: Open, web: Any, shots: Shot) -> None:
    page = open_as("viewer")
    page.goto(f"{web.url}/analytics?from=2025-06-15&to=2025-06-17&granularity=hour&rejected=1")
    page.wait_for_selector("#chart svg rect.bar")
    series = json.loads(page.locator("#chart-data").inner_text())
    nonzero = sum(1 for s in series["series"] for v in s["values"] if v)
    assert page.locator("#chart svg rect.bar").count() == nonzero
    assert page.locator("#chart .legend span").count() == len(series["series"]) == 3
    assert page.locator("#map svg circle.cam").count() == 3
    assert page.locator("ul.grid li.tile").count() == 3
    heights = page.locator("#chart svg rect.bar").evaluate_all(
        "rs => rs.map(r => parseFloat(r.getAttribute('height')))"
    )
    assert all(h > 0 for h in heights)
    shots(page, "analytics")


def test_dispatch_to_a_local_webhook(open_as: Open, web: Any, shots: Shot) -> None:
    e = web.seeded.of("gw-1", 3)
    page = open_as("reviewer")
    page.goto(f"{web.url}/events/{e.event_id}")
    assert page.locator("#dispatch-btn").count() == 0  # not confirmed yet
    page.get_by_label("备注（必填，说明理由）").fill("派发立案")
    page.get_by_role("button", name="确认比中").click()
    page.wait_for_url("**msg=event.saved")
    page.get_by_role("button", name="派发至案件系统").click()
    page.wait_for_url("**msg=dispatch.created**")
    page.wait_for_function(
        "() => document.querySelector('#dispatch .badge')?.textContent === '已送达'"
    )
    got = web.receiver.bodies_for(e.event_id)
    assert len(got) == 1 and got[0].signature_ok
    assert json.loads(got[0].body)["verdict"]["note"] == "派发立案"
    shots(page, "dispatch")


def test_viewer_sees_no_actions_and_is_refused_by_hand(open_as: Open, web: Any) -> None:
    e = web.seeded.of("gw-1", 6)
    page = open_as("viewer")
    assert page.get_by_role("link", name="布控名单").count() == 0
    page.goto(f"{web.url}/events/{e.event_id}")
    for name in ("确认比中", "驳回（误报）", "导出证据包（zip）", "派发至案件系统"):
        assert page.get_by_role("button", name=name).count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    for action, form in (
        ("verdict", {"verdict": "confirmed", "note": "x"}),
        ("export", {}),
        ("dispatch", {}),
    ):
        r = page.request.post(
            f"{web.url}/events/{e.event_id}/{action}", form={**form, "csrf": csrf}
        )
        assert r.status == 403, action
    assert web.local.repo.events.get_event(e.event_id).verdict is None
    page.goto(f"{web.url}/watchlist")
    assert page.get_by_role("heading", level=1).inner_text() == "权限不足"


def test_admin_pages_and_keyboard_and_tablet(open_as: Open, web: Any, shots: Shot) -> None:
    cams = (
        CameraHealth("cam-1", True, 4.8, 51234, 12),
        CameraHealth("cam-2", False, 0.0, 900, 0, "rtsp: timeout"),
    )
    web.local.ingest().heartbeat(
        "gw-1",
        GatewayHealth(
            "gw-1",
            web.local.clock(),
            "0.1.0",
            cams,
            3,
            0,
            0,
            ("scrfd_500m", "w600k_mbf", "y5fu_640", "plate_rec_color"),
            "w600k_mbf",
            5,
            11,
        ),
    )
    page = open_as("admin")
    page.goto(f"{web.url}/gateways")
    assert page.get_by_role("cell", name="gw-2").count() >= 1
    assert page.get_by_text("rtsp: timeout").count() == 1
    shots(page, "gateways")
    page.goto(f"{web.url}/audit")
    page.get_by_role("button", name="校验审计哈希链").click()
    assert "审计链完整" in page.locator("#verify-result").inner_text()
    shots(page, "audit")
    tablet = open_as("reviewer", 768, 1024)
    tablet.keyboard.press("Tab")
    assert tablet.evaluate("document.activeElement.className") == "skip"
    tablet.keyboard.press("Enter")
    assert tablet.evaluate("document.activeElement.id") == "main"
    overflow = tablet.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    shots(tablet, "search-tablet")
    tablet.get_by_role("link", name="English").click()
    assert tablet.get_by_role("heading", level=1).inner_text() == "Search matches"
    shots(tablet, "search-tablet-en")
