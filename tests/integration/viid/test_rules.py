"""Automatic dispatch: rules in store.yaml applied at ingest, both actions, audited, and
a reviewer's later rejection sent on to both targets."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from edge.errors import StoreError
from edge.evidence.model import event_hash
from edge.store.auth import Principal
from edge.store.dispatch_rules import DispatchRule
from tests.support.loadgen import Deployment, serving, signed_chain

pytestmark = pytest.mark.timeout(180)
vp = sys.modules["edgewatch_viid_platform"]


def wait(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def configure(dep: Deployment, platform: Any, webhook: Any) -> None:
    key = dep.root / "dispatch.key"
    key.write_bytes(webhook.key)
    web = dep.store_config().web.model_dump(mode="json", by_alias=True)
    web["dispatch"] = {"url": webhook.url, "hmac_key_file": str(key), "backoff_initial_s": 0.05}
    dep.edit_store_config(
        web=web,
        viid=vp.viid_section(dep.root, platform.url, push="rules"),
        locations=[
            {"id": "market", "name": "东门市场", "cameras": ["gw-1/cam-1"],
             "point": {"lat": 22.54, "lon": 114.05}},
        ],
        dispatch_rules=[
            {"id": "vendors", "name": "市场摊贩", "subjects": ["subj-7"],
             "locations": ["market"], "actions": ["webhook", "viid"]},
        ],
    )  # fmt: skip


def test_rules_dispatch_at_ingest_and_a_rejection_is_sent_on(
    platform: Any, webhook: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    configure(dep, platform, webhook)
    with serving(dep) as server:
        at_market = signed_chain(dep.signing_key(1), "gw-1", 2)
        elsewhere = signed_chain(
            dep.signing_key(1), "gw-1", 1, 3, event_hash(at_market[-1].event), camera_id="cam-2"
        )
        with dep.gateway(1) as gw:
            assert {a.status for a in gw.deliver(at_market + elsewhere)} == {"stored"}
            # a resend after a lost ack must not dispatch twice
            assert {a.status for a in gw.deliver(at_market)} == {"duplicate"}
        wait(lambda: len(webhook.of_type("edgewatch.case")) == 2, "two webhook cases")
        platform.wait_for(lambda s: len(s.counts) == 4, what="four objects")
        cases = webhook.of_type("edgewatch.case")
        assert {c["event_id"] for c in cases} == {s.event.event_id for s in at_market}
        assert all(c["rule"] == {"id": "vendors", "name": "市场摊贩"} for c in cases)
        assert all(c["verdict"]["verdict"] is None for c in cases)  # no reviewer yet
        auto = server.platform.auto if server.platform else None
        assert auto is not None
        first = at_market[0].event.event_id
        wait(lambda: [h.state for h in auto.hits_for(first)] == ["done"], "the hit done")
        [hit] = auto.hits_for(first)
        assert (hit.rule_id, hit.rule_name, hit.actions) == (
            "vendors",
            "市场摊贩",
            ("webhook", "viid"),
        )
        result = json.loads(hit.result)
        assert result["viid"] == "queued 2" and len(result["webhook"]) == 36
        assert auto.hits_for(elsewhere[0].event.event_id) == []
        # a reviewer rejects the first match afterwards: both targets are told
        with dep.person("reviewer") as c:
            c.set_verdict(first, "rejected", "not the vendor")
        wait(lambda: len(webhook.of_type("edgewatch.case.withdrawn")) == 1, "a withdrawal")
        platform.wait_for(lambda s: len(s.deleted) == 2, what="two deletes")
        [w] = webhook.of_type("edgewatch.case.withdrawn")
        assert w["event_id"] == first and w["note"] == "not the vendor" and w["by"] == "reviewer"
        assert w["withdraws"] == next(c["dispatch_id"] for c in cases if c["event_id"] == first)
    assert webhook.bad_signatures == 0
    assert all(v == 1 for v in platform.state.counts.values())


def test_rules_are_edited_on_the_page_but_store_yaml_rules_only_there(
    platform: Any, webhook: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    configure(dep, platform, webhook)
    admin = Principal("person", "admin", "admin")
    with serving(dep) as server:
        auto = server.platform.auto if server.platform else None
        assert auto is not None
        stored = auto.list_rules()
        assert [(s.rule.id, s.source) for s in stored] == [("vendors", "config")]
        with pytest.raises(StoreError, match=r"store\.yaml"):
            auto.put_rule(admin, stored[0].rule.model_copy(update={"enabled": False}))
        night = DispatchRule.model_validate(
            {"id": "night", "name": "夜间", "cameras": ["gw-2/*"], "actions": ["viid"],
             "hours": [{"from": "22:00", "to": "06:00"}]}
        )  # fmt: skip
        auto.put_rule(admin, night)
        bad = night.model_copy(update={"id": "bad", "locations": ["nowhere"]})
        with pytest.raises(StoreError, match="unknown location"):
            auto.put_rule(admin, bad)
        assert sorted(r.id for r in auto.rules()) == ["night", "vendors"]
        auto.delete_rule(admin, "night")
        with pytest.raises(StoreError):
            auto.delete_rule(admin, "vendors")
    # restart: the page rule is gone (deleted), the yaml rule is there again
    with serving(dep) as server:
        assert server.platform is not None
        assert [s.rule.id for s in server.platform.auto.list_rules()] == ["vendors"]
