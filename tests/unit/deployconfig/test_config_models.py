"""The store, client and gateway config models refuse what they do not understand."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from edge.gateway.config import GatewayConfig
from edge.review.config import ClientConfig
from edge.store.config import StoreConfig

HEX = "ab" * 32


def _store(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "kind": "store",
        "listen": "127.0.0.1:7443",
        "tls": {"cert": "s.pem", "key": "s.key", "ca": "ca.pem"},
        "database": {"kind": "sqlite", "path": "store.db"},
        "users": [{"name": "admin", "role": "admin", "token_sha256": HEX}],
        "gateways": [{"id": "gw-1", "public_key_file": "gw-1.pub"}],
    }
    doc.update(changes)
    return doc


def _errors(model: Any, doc: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(doc)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in err.value.errors()]


def test_valid_store_config_and_defaults() -> None:
    cfg = StoreConfig.model_validate(_store())
    assert cfg.limits.max_blobs_per_event == 16
    assert cfg.retention.unconfirmed_days == 30
    assert cfg.web.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"listen": "127.0.0.1"}, "listen"),
        ({"listen": "127.0.0.1:70000"}, "listen"),
        ({"database": {"kind": "mysql", "path": "x"}}, "database"),
        ({"database": {"kind": "postgresql", "url": "mysql://x"}}, "database.postgresql.url"),
        ({"users": [{"name": "admin", "role": "root", "token_sha256": HEX}]}, "users.0.role"),
        ({"users": [{"name": "Admin!", "role": "admin", "token_sha256": HEX}]}, "users.0.name"),
        (
            {"users": [{"name": "a", "role": "admin", "token_sha256": "secret"}]},
            "users.0.token_sha256",
        ),
        ({"gateways": [{"id": "gw-1"}]}, "gateways.0"),
        ({"colour": "blue"}, "colour"),
        (
            {"database": {"kind": "postgresql", "url": "postgresql://h/d", "pool": {"size": 3}}},
            "database.postgresql.pool.size",
        ),
        (
            {
                "database": {
                    "kind": "postgresql",
                    "url": "postgresql://h/d",
                    "pool": {"max_size": 0},
                }
            },
            "database.postgresql.pool.max_size",
        ),
    ],
)
def test_store_config_errors_name_the_key(changes: dict[str, Any], path: str) -> None:
    assert path in [p for p, _ in _errors(StoreConfig, _store(**changes))]


def test_pool_settings_and_their_errors() -> None:
    pg = {"kind": "postgresql", "url": "postgresql://h/d"}
    cfg = StoreConfig.model_validate(_store(database=pg))
    assert cfg.database.kind == "postgresql"
    assert (cfg.database.pool.min_size, cfg.database.pool.max_size) == (1, 10)
    bad = {**pg, "pool": {"min_size": 5, "max_size": 2}}
    msgs = [m for _, m in _errors(StoreConfig, _store(database=bad))]
    assert any("max_size 2 is below min_size 5" in m for m in msgs)


def test_a_blob_folder_key_says_how_to_move_its_evidence() -> None:
    msgs = [m for _, m in _errors(StoreConfig, _store(blobs="/var/lib/edgewatch/blobs"))]
    assert any(
        "'/var/lib/edgewatch/blobs'" in m and "edgewatch store migrate-blobs" in m for m in msgs
    )


def test_duplicate_users_and_gateways_are_refused() -> None:
    user = {"name": "a", "role": "viewer", "token_sha256": HEX}
    msgs = [m for _, m in _errors(StoreConfig, _store(users=[user, user]))]
    assert any("duplicate ids ['a']" in m for m in msgs)


def test_gateway_config_checks_regions_and_outbox_policy() -> None:
    base: dict[str, Any] = {
        "kind": "gateway",
        "gateway_id": "gw-1",
        "store": "127.0.0.1:7443",
        "tls": {"ca": "ca.pem", "cert": "gw.pem", "key": "gw.key"},
        "signing_key": "gw.signing.key",
        "data_dir": "data",
        "cameras": [{"id": "cam-1", "source": "rtsp://127.0.0.1/x", "roi": [0, 0, 0.5, 0.5]}],
    }
    cfg = GatewayConfig.model_validate(base)
    assert cfg.outbox.when_full == "refuse_new" and cfg.cameras[0].recognisers == (
        "faces",
        "plates",
    )
    bad_roi = {**base, "cameras": [{"id": "c", "source": "x", "roi": [0.5, 0, 0.2, 1]}]}
    assert _errors(GatewayConfig, bad_roi)[0][0] == "cameras.0.roi"
    drop = {**base, "outbox": {"when_full": "drop_oldest"}}
    assert _errors(GatewayConfig, drop)[0][0] == "outbox.when_full"
    twice = {**base, "cameras": [base["cameras"][0], base["cameras"][0]]}
    assert "duplicate ids ['cam-1']" in _errors(GatewayConfig, twice)[0][1]
    assert (cfg.scheduler.workers, cfg.scheduler.queue_per_camera) == (0, 2)
    assert cfg.metrics is not None and cfg.metrics.listen == "127.0.0.1:9811"
    assert GatewayConfig.model_validate({**base, "metrics": None}).metrics is None
    [(where, msg)] = _errors(GatewayConfig, {**base, "metrics": {"listen": "9811"}})
    assert where == "metrics.listen" and "'9811' must be host:port" in msg
    assert "metrics: null" in msg
    [(where, msg)] = _errors(GatewayConfig, {**base, "scheduler": {"queue_per_camera": 0}})
    assert where == "scheduler.queue_per_camera"
    [(where, msg)] = _errors(GatewayConfig, {**base, "scheduler": {"worker": 2}})
    assert where == "scheduler.worker" and "Extra inputs are not permitted" in msg
    [(_, msg)] = _errors(GatewayConfig, {**base, "sampler": {"queue_per_camera": 4}})
    assert "sampler: was replaced by scheduler:" in msg
    assert "scheduler.queue_per_camera" in msg


def test_client_token_is_secret_in_reprs() -> None:
    token = "t" * 43
    cfg = ClientConfig.model_validate(
        {"kind": "client", "store": "localhost:7443", "ca": "ca.pem", "cert": "a.pem",
         "key": "a.key", "name": "admin", "token": token, "role": "admin"}
    )  # fmt: skip
    assert token not in repr(cfg) and token not in str(cfg.model_dump())
    assert cfg.token.get_secret_value() == token
