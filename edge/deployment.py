"""A complete, secure deployment on this machine (what `edgewatch init DIR` writes).

Creates a private CA, the store's TLS certificate, per gateway a client certificate
and an Ed25519 signing key, per person (admin, reviewer, viewer) a client certificate
and a bearer token, and the config files that tie them together. Every private key
and every config file is mode 0600. Ports are free loopback ports at the time of init.
"""

from __future__ import annotations

import socket
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from edge.errors import ConfigError
from edge.evidence.signing import (
    generate_signing_key,
    save_private_key,
    save_public_key,
    write_secret,
)
from edge.gateway.config import CameraConfig, ClientTls, GatewayConfig, MetricsConfig
from edge.pki import (
    CertKey,
    cert_fingerprint,
    create_ca,
    issue_client_cert,
    issue_server_cert,
    new_token,
    token_sha256,
)
from edge.review.config import ClientConfig
from edge.store.config import (
    Database,
    GatewayEntry,
    PostgresDatabase,
    Role,
    ServerTls,
    SqliteDatabase,
    StoreConfig,
    UserEntry,
    WebConfig,
)

PERSONS: tuple[tuple[str, Role], ...] = (
    ("admin", "admin"),
    ("reviewer", "reviewer"),
    ("viewer", "viewer"),
)


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago (bound together)."""
    with ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def _write_config(path: Path, model: BaseModel, secrets: dict[str, Any] | None = None) -> None:
    data: dict[str, Any] = {"kind": getattr(model, "kind")}  # noqa: B009 - every config has one
    data.update(model.model_dump(mode="json", exclude_unset=True))
    data.update(secrets or {})
    header = f"# EdgeWatch {data['kind']} config, written by `edgewatch init`\n"
    text = header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    write_secret(path, text.encode("utf-8"))


def _check_target(root: Path, force: bool) -> None:
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{str(root)!r} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise ConfigError(f"{str(root)!r} is not empty; pass --force to overwrite its files")


def _database(root: Path, url: str | None) -> Database:
    if url is None:
        return SqliteDatabase(kind="sqlite", path=root / "store.db")
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"--database-url must start with postgresql:// (got {url[:20]!r})")
    return PostgresDatabase(kind="postgresql", url=url)


def _gateway(
    root: Path, ca: CertKey, n: int, store: str, metrics_port: int
) -> tuple[GatewayConfig, GatewayEntry]:
    gid = f"gw-{n}"
    tls = issue_client_cert(ca, "gateway", gid)
    tls.save(root / f"{gid}.pem", root / f"{gid}.key")
    key = generate_signing_key()
    save_private_key(key, root / f"{gid}.signing.key")
    save_public_key(key.public_key(), root / f"{gid}.signing.pub")
    data = root / gid
    (data / "drop").mkdir(parents=True, exist_ok=True)
    cfg = GatewayConfig(
        gateway_id=gid,
        store=store,
        tls=ClientTls(ca=root / "ca.pem", cert=root / f"{gid}.pem", key=root / f"{gid}.key"),
        signing_key=root / f"{gid}.signing.key",
        data_dir=data,
        cameras=[CameraConfig(id="cam-1", source=f"folder:{data / 'drop'}")],
        # one port per gateway: several may run on this machine
        metrics=MetricsConfig(listen=f"127.0.0.1:{metrics_port}"),
    )
    entry = GatewayEntry(
        id=gid,
        public_key_file=root / f"{gid}.signing.pub",
        cert_fingerprint=cert_fingerprint(tls.cert_pem),
    )
    return cfg, entry


def init_deployment(
    root: Path, gateways: int, database_url: str | None = None, force: bool = False
) -> tuple[str, list[str]]:
    """Create everything under ``root``; return the store address and commands to run."""
    if not 1 <= gateways <= 100:
        raise ConfigError(f"--gateways must be 1..100 (got {gateways})")
    root = root.resolve()
    _check_target(root, force)
    root.mkdir(parents=True, exist_ok=True)
    grpc_port, web_port, *metrics_ports = free_ports(2 + gateways)
    store = f"127.0.0.1:{grpc_port}"

    ca = create_ca()
    ca.save(root / "ca.pem", root / "ca.key")
    issue_server_cert(ca).save(root / "store.pem", root / "store.key")
    (root / "revoked.txt").write_text(
        "# revoked client certificates: one serial (hex) or sha256 DER fingerprint per line\n"
    )
    gw_configs, gw_entries = zip(
        *(_gateway(root, ca, n, store, metrics_ports[n - 1]) for n in range(1, gateways + 1)),
        strict=True,
    )
    users, tokens = _persons(root, ca)
    _write_config(
        root / "store.yaml",
        _store_config(root, store, database_url, users, list(gw_entries), web_port),
    )
    for n, cfg in enumerate(gw_configs, 1):
        _write_config(root / f"gateway-{n}.yaml", cfg)
    for name, role in PERSONS:
        client = ClientConfig(
            store=store,
            ca=root / "ca.pem",
            cert=root / f"{name}.pem",
            key=root / f"{name}.key",
            name=name,
            token=tokens[name],
            role=role,
            web_url=f"http://127.0.0.1:{web_port}/",
        )
        _write_config(root / f"{name}.yaml", client, {"token": tokens[name]})
    return store, _commands(root, gateways)


def _persons(root: Path, ca: CertKey) -> tuple[list[UserEntry], dict[str, str]]:
    """A client certificate and a fresh token per person; the store keeps only hashes."""
    users, tokens = [], {}
    for name, role in PERSONS:
        issue_client_cert(ca, "user", name).save(root / f"{name}.pem", root / f"{name}.key")
        tokens[name] = new_token()
        users.append(UserEntry(name=name, role=role, token_sha256=token_sha256(tokens[name])))
    return users, tokens


def _store_config(
    root: Path,
    store: str,
    database_url: str | None,
    users: list[UserEntry],
    gateways: list[GatewayEntry],
    web_port: int,
) -> StoreConfig:
    return StoreConfig(
        listen=store,
        tls=ServerTls(
            cert=root / "store.pem",
            key=root / "store.key",
            ca=root / "ca.pem",
            revoked=root / "revoked.txt",
        ),
        database=_database(root, database_url),
        users=users,
        gateways=gateways,
        web=WebConfig(host="127.0.0.1", port=web_port),
    )


def _commands(root: Path, gateways: int) -> list[str]:
    cmds = [f"edgewatch store serve --config {root / 'store.yaml'}"]
    cmds += [
        f"edgewatch gateway run --config {root / f'gateway-{n}.yaml'}"
        for n in range(1, gateways + 1)
    ]
    cmds.append(f"edgewatch review --config {root / 'reviewer.yaml'} search")
    cmds.append(f"edgewatch config check {root}/*.yaml")
    return cmds
