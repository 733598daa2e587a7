"""The real uplink against a real store with deliberately wrong PKI: it says which side
refused which certificate, and why (edge/tlscheck.py explains gRPC's UNAVAILABLE)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from edge.config import load_model
from edge.deployment import init_deployment
from edge.errors import TransportError
from edge.gateway.config import GatewayConfig
from edge.gateway.local_watchlist import LocalWatchlist
from edge.gateway.outbox import Outbox, outbox_path
from edge.gateway.uplink import Uplink
from edge.pki import CertKey, cert_serial_hex, create_ca, issue_client_cert, issue_server_cert
from edge.review.client import open_client
from tests.support.backlog import outbox_health
from tests.support.loadgen import Deployment, serving


@pytest.fixture
def dep(tmp_path: Path) -> Deployment:
    address, _ = init_deployment(tmp_path / "d", gateways=1)
    return Deployment(tmp_path / "d", address)


def _ca(dep: Deployment) -> CertKey:
    return CertKey.load(dep.path("ca.pem"), dep.path("ca.key"))


def _other_ca(dep: Deployment) -> Path:
    other = create_ca("a CA of another deployment")
    other.save(dep.path("other-ca.pem"), dep.path("other-ca.key"))
    return dep.path("other-ca.pem")


Run = Callable[..., Uplink]


@pytest.fixture
def run_uplink(dep: Deployment) -> Iterator[Run]:
    """Start gw-1's uplink with ``tls`` fields replaced; wait until it is answered,
    refused, or has failed at least once."""
    started: list[tuple[Uplink, Outbox, LocalWatchlist]] = []

    def run(**tls: Path) -> Uplink:
        cfg = load_model(GatewayConfig, dep.path("gateway-1.yaml"))
        cfg = cfg.model_copy(
            update={
                "tls": cfg.tls.model_copy(update=tls),
                "uplink": cfg.uplink.model_copy(
                    update={"backoff_initial_s": 0.05, "backoff_max_s": 0.2}
                ),
            }
        )
        outbox = Outbox(outbox_path(cfg.data_dir), cfg.outbox)
        outbox.open()
        watchlist = LocalWatchlist(cfg.data_dir / "watchlist.db", cfg.vision.match, None)
        watchlist.start()
        uplink = Uplink(cfg, outbox, watchlist, lambda: outbox_health("gw-1", outbox), None)
        started.append((uplink, outbox, watchlist))
        uplink.start()
        deadline = time.monotonic() + 30
        while not (uplink.reached.is_set() or uplink.refused or uplink.stats.last_error):
            assert time.monotonic() < deadline, "the uplink neither connected nor failed"
            time.sleep(0.02)
        return uplink

    yield run
    for uplink, outbox, watchlist in started:
        uplink.stop()
        watchlist.stop()
        outbox.close()


def test_the_right_pki_connects(dep: Deployment, run_uplink: Run) -> None:
    with serving(dep):
        uplink = run_uplink()
        assert uplink.reached.wait(10) and uplink.refused is None


def test_store_certificate_not_signed_by_the_configured_ca(
    dep: Deployment, run_uplink: Run
) -> None:
    other = _other_ca(dep)
    with serving(dep):
        uplink = run_uplink(ca=other)
    assert uplink.refused == (
        f"this gateway refused the store at {dep.address}: the store's certificate is not "
        f"signed by the CA in tls.ca ({other})"
    )
    assert not uplink.reached.is_set()


def test_store_certificate_for_another_host_name(dep: Deployment, run_uplink: Run) -> None:
    issue_server_cert(_ca(dep), hosts=("store.example",)).save(
        dep.path("store.pem"), dep.path("store.key")
    )
    with serving(dep):
        uplink = run_uplink()
    host = dep.address.split(":")[0]
    assert uplink.refused is not None
    assert uplink.refused.startswith(
        f"this gateway refused the store at {dep.address}: the store's certificate is not "
        f"valid for {host} (it names store.example)"
    )


def test_gateway_certificate_from_another_ca_is_refused_by_the_store(
    dep: Deployment, run_uplink: Run
) -> None:
    other = CertKey.load(_other_ca(dep), dep.path("other-ca.key"))
    issue_client_cert(other, "gateway", "gw-1").save(dep.path("alien.pem"), dep.path("alien.key"))
    with serving(dep):
        uplink = run_uplink(cert=dep.path("alien.pem"), key=dep.path("alien.key"))
    assert uplink.refused == (
        f"the store at {dep.address} refused this gateway's certificate (tls.cert "
        f"{dep.path('alien.pem')}): it is not signed by the deployment CA in tls.ca "
        f"({dep.path('ca.pem')}), the only CA the store trusts"
    )


def test_expired_gateway_certificate_is_refused_by_the_store(
    dep: Deployment, run_uplink: Run
) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    old = issue_client_cert(_ca(dep), "gateway", "gw-1", days=2, not_before=start)
    old.save(dep.path("old.pem"), dep.path("old.key"))
    with serving(dep):
        uplink = run_uplink(cert=dep.path("old.pem"), key=dep.path("old.key"))
    expiry = (start + dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    assert uplink.refused == (
        f"the store at {dep.address} refused this gateway's certificate (tls.cert "
        f"{dep.path('old.pem')}): it expired on {expiry} UTC"
    )


def test_revoked_gateway_certificate(dep: Deployment, run_uplink: Run) -> None:
    serial = cert_serial_hex(dep.path("gw-1.pem").read_bytes())
    with dep.path("revoked.txt").open("a") as f:
        f.write(serial + "\n")
    with serving(dep):
        uplink = run_uplink()
    assert uplink.refused == (
        f"the store at {dep.address} refused this gateway's certificate (tls.cert "
        f"{dep.path('gw-1.pem')}): it is revoked"
    )


def test_a_store_that_is_down_is_unreachable_not_refused(dep: Deployment, run_uplink: Run) -> None:
    uplink = run_uplink()  # nothing listens at the address
    assert uplink.refused is None and not uplink.reached.is_set()
    assert f"the store at {dep.address} is not reachable (connection refused)" in (
        uplink.stats.last_error
    )


def test_the_reviewer_client_explains_a_wrong_ca_too(dep: Deployment) -> None:
    """The person's client uses the same check; its config names the file plain `ca`."""
    other = _other_ca(dep)
    config = yaml.safe_load(dep.path("reviewer.yaml").read_text())
    config["ca"] = str(other)
    dep.path("wrong.yaml").write_text(yaml.safe_dump(config))
    with (
        serving(dep),
        open_client(dep.path("wrong.yaml")) as client,
        pytest.raises(TransportError) as e,
    ):
        client.status()
    assert str(e.value) == (
        f"this client refused the store at {dep.address}: the store's certificate is not "
        f"signed by the CA in ca ({other})"
    )
