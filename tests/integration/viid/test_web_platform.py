"""The platform parts of the reviewer page over real HTTP: the event's rule hit and
pushes, the one-click transfer, the admin's link state and rule editing, and the key
locations on the analytics page."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from edge.config import load_model
from edge.evidence.model import event_hash
from edge.review.config import ClientConfig
from tests.support.loadgen import Deployment, serving, signed_chain

pytestmark = pytest.mark.timeout(180)
vp = sys.modules["edgewatch_viid_platform"]
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


class Page:
    """A logged-in browser session on the reviewer page (cookies, CSRF)."""

    def __init__(self, dep: Deployment, user: str) -> None:
        cfg = load_model(ClientConfig, dep.path(f"{user}.yaml"))
        assert cfg.web_url is not None
        self.http = httpx.Client(base_url=cfg.web_url.rstrip("/"), trust_env=False)
        self.csrf = ""
        self.get("/login")
        r = self.post("/login", {"name": user, "token": cfg.token.get_secret_value(),
                                 "next": "/search"})  # fmt: skip
        assert r.status_code == 303, r.text[:500]

    def _seen(self, r: httpx.Response) -> httpx.Response:
        m = CSRF.search(r.text) if "text/html" in r.headers.get("content-type", "") else None
        if m:
            self.csrf = m[1]
        return r

    def get(self, path: str) -> httpx.Response:
        return self._seen(self.http.get(path))

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self._seen(self.http.post(path, data={"csrf": self.csrf, **data}))


def wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_event_page_transfer_admin_links_rules_and_location_analytics(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(
        viid=vp.viid_section(dep.root, platform.url, push="rules"),
        locations=[{"id": "market", "name": "东门市场", "cameras": ["gw-1/*"],
                    "point": {"lat": 22.54, "lon": 114.05}}],
        dispatch_rules=[{"id": "vendors", "name": "市场摊贩", "subjects": ["subj-7"],
                         "cameras": ["gw-1/cam-1"], "actions": ["viid"]}],
    )  # fmt: skip
    with serving(dep):
        first = signed_chain(dep.signing_key(1), "gw-1", 1)
        second = signed_chain(
            dep.signing_key(1), "gw-1", 1, 2, event_hash(first[0].event), camera_id="cam-2"
        )
        samples = first + second
        with dep.gateway(1) as gw:
            assert {a.status for a in gw.deliver(samples)} == {"stored"}
        ruled, other = (s.event.event_id for s in samples)
        platform.wait_for(lambda s: len(s.counts) == 2, what="the rule's push")
        reviewer = Page(dep, "reviewer")
        wait(lambda: "已送达" in reviewer.get(f"/events/{ruled}").text, "delivered on the page")
        page = reviewer.get(f"/events/{ruled}").text
        assert "由规则「市场摊贩」自动派遣" in page and "MotorVehicle" in page
        assert "transfer-btn" not in page  # not confirmed: no one-click transfer
        # the other event: confirm it, then transfer it with one click
        assert "尚未推送" in reviewer.get(f"/events/{other}").text
        confirm = {"verdict": "confirmed", "note": "seen"}
        assert reviewer.post(f"/events/{other}/verdict", confirm).status_code == 303
        assert "transfer-btn" in reviewer.get(f"/events/{other}").text
        r = reviewer.post(f"/events/{other}/transfer", {})
        assert r.status_code == 303 and r.headers["location"].endswith("#platform")
        platform.wait_for(lambda s: len(s.counts) == 4, what="the transfer")
        # admins see the link's state and edit rules; reviewers may not
        assert reviewer.get("/platform").status_code == 403
        admin = Page(dep, "admin")
        wait(lambda: "已注册" in admin.get("/platform").text, "the link registered")
        text = admin.get("/platform").text
        assert platform.url in text and "store.yaml（只读）" in text and "vendors" in text
        bad = admin.post("/platform/rules", {"rule": "id: x\nname: X\nactions: [fax]\n"})
        assert bad.status_code == 400 and "actions" in bad.text and "fax" in bad.text
        ok = admin.post("/platform/rules", {"rule": "id: evening\nname: 晚间\ncameras: [gw-2/*]\n"
                                                     "actions: [viid]\n"})  # fmt: skip
        assert ok.status_code == 303 and "晚间" in admin.get("/platform").text
        assert "name: 晚间" in admin.get("/platform?edit=evening").text
        assert admin.post("/platform/rules/evening/delete", {}).status_code == 303
        assert "晚间" not in admin.get("/platform").text
        # key locations on the analytics page
        an = reviewer.get("/analytics").text
        assert "重要点位" in an and "东门市场" in an and "heat-cell" in an
