"""The store's edgewatch_viid_* metrics, scraped over HTTP from a real store while a real
GA/T 1400 test platform takes, refuses and then stops taking its pushes; no label
names the platform, a device, a plate or an event."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.store.auth import Principal
from tests.support.loadgen import Deployment, serving, signed_chain

pytestmark = pytest.mark.timeout(180)
vp = sys.modules["edgewatch_viid_platform"]  # loaded by conftest.py
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    r = httpx.get(f"{url}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def pushes(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["state"]: v
        for (name, labels), v in samples.items()
        if name == "edgewatch_viid_pushes"
    }


def until(url: str, check: Callable[[Samples], bool], what: str) -> Samples:
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(url)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {samples}"
        time.sleep(0.1)


def up(samples: Samples) -> float:
    return samples[("edgewatch_viid_up", ())]


def test_viid_link_and_queue_metrics_follow_the_platform(
    platform: Any, make_deployment: Callable[..., Deployment]
) -> None:
    dep = make_deployment()
    dep.edit_store_config(viid=vp.viid_section(dep.root, platform.url))  # push: confirmed
    samples_sent = signed_chain(dep.signing_key(1), "gw-1", 2)
    first, second = (s.event.event_id for s in samples_sent)
    reviewer = Principal("person", "reviewer", "reviewer")
    with serving(dep) as server:
        url = server.web_url
        assert url is not None and server.platform is not None
        viid = server.platform.viid
        assert viid is not None
        s = until(url, lambda s: up(s) == 1, "the registration")
        assert pushes(s) == {"pending": 0, "delivered": 0, "refused": 0}
        assert s[("edgewatch_viid_attempts_total", ())] == 0
        assert ("edgewatch_viid_oldest_pending_timestamp_seconds", ()) not in s
        with dep.gateway(1) as gw:
            assert {a.status for a in gw.deliver(samples_sent)} == {"stored"}
        with dep.person("reviewer") as c:
            c.set_verdict(first, "confirmed", "seen")  # push: confirmed -> 2 objects
        s = until(url, lambda s: pushes(s)["delivered"] == 2, "two delivered objects")
        assert pushes(s) == {"pending": 0, "delivered": 2, "refused": 0}
        assert s[("edgewatch_viid_attempts_total", ())] == 2 and up(s) == 1
        # the platform refuses what comes next
        platform.state.refuse_all = True
        with dep.person("reviewer") as c:
            c.set_verdict(second, "confirmed", "seen")
        s = until(url, lambda s: pushes(s)["refused"] == 2, "two refused objects")
        assert s[("edgewatch_viid_attempts_total", ())] == 4
        # the platform goes away; a transfer queues the refused objects again: they wait
        platform.stop()
        before = time.time()
        viid.transfer(reviewer, second)
        s = until(url, lambda s: up(s) == 0, "the link to fail")
        assert pushes(s) == {"pending": 2, "delivered": 2, "refused": 0}
        oldest = s[("edgewatch_viid_oldest_pending_timestamp_seconds", ())]
        assert before - 5 < oldest <= time.time()
    # labels: states only; never the platform's address, a device ID, a plate or an event
    labels = {v for (name, ls) in s if name.startswith("edgewatch_viid") for _, v in ls}
    assert labels == {"pending", "delivered", "refused"}
    everything = {v for (_, ls) in s for _, v in ls}
    forbidden = {platform.url, str(platform.port), vp.STORE_DEVICE, vp.CAMERA_DEVICE, first}
    forbidden |= {second, samples_sent[0].event.plates[0].text}
    assert not {v for v in everything if any(f in v for f in forbidden)}, everything
