"""Configuration of the central evidence store (`kind: store`).

`edgewatch init` writes one with absolute paths; relative paths are taken relative to
the working directory of the process.

One gRPC port, mutual TLS for every caller (see edge/pki.py): a client certificate with
URI SAN ``spiffe://edgewatch/gateway/ID`` may only ingest and sync; one with
``spiffe://edgewatch/user/NAME`` must also send ``authorization: Bearer TOKEN``
metadata, whose sha256 picks the user and role below. Secrets are never in this file: users appear
only as a sha256 of their token, gateways only by their public keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, field_validator, model_validator

# Role and ID_PATTERN are re-exported for the web page's modules, which still import
# them from here; new code takes them from edge.api.types and edge.ids.
from edge.api.types import Role as Role
from edge.config import Address, StrictModel, VisionConfig
from edge.ids import HEX64
from edge.ids import ID_PATTERN as ID_PATTERN
from edge.store.dispatch_rules import DispatchRule, check_rules
from edge.store.locations import KeyLocation, check_unique
from edge.store.viid_config import ViidConfig


class ServerTls(StrictModel):
    cert: Path = Field(description="PEM server certificate (SAN 127.0.0.1, localhost)")
    key: Path = Field(description="PEM private key of the server certificate (mode 0600)")
    ca: Path = Field(description="PEM CA that signs gateway client certificates")
    revoked: Path | None = Field(
        default=None,
        description="text file of revoked client certificates: one serial (hex) or "
        "sha256 DER fingerprint (hex) per line, '#' comments",
    )


class SqliteDatabase(StrictModel):
    kind: Literal["sqlite"] = "sqlite"
    path: Path = Field(description="SQLite file (WAL mode)")


class PostgresPool(StrictModel):
    """Connection pool of one store process (psycopg_pool.ConnectionPool).

    Every connection is checked when taken from the pool, so after a PostgreSQL restart
    the first request gets a fresh connection instead of a dead one.
    """

    min_size: int = Field(default=1, ge=1, le=100, description="connections kept open")
    max_size: int = Field(
        default=10, ge=1, le=500, description="most connections this process opens at once"
    )
    checkout_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="wait for a free connection before failing"
    )
    max_lifetime_s: float = Field(
        default=3600.0, ge=60, le=7 * 86400, description="a connection is replaced after this"
    )
    max_idle_s: float = Field(
        default=600.0, ge=10, le=86400, description="idle connections above min_size close"
    )
    connect_timeout_s: int = Field(default=10, ge=1, le=300, description="per connect attempt")

    @model_validator(mode="after")
    def _sizes(self) -> PostgresPool:
        if self.max_size < self.min_size:
            raise ValueError(
                f"max_size {self.max_size} is below min_size {self.min_size}; "
                "max_size must be at least min_size"
            )
        return self


class PostgresDatabase(StrictModel):
    kind: Literal["postgresql"] = "postgresql"
    url: str = Field(description="postgresql://user@127.0.0.1:5432/dbname")
    pool: PostgresPool = PostgresPool()

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// or postgres://")
        return v


Database = Annotated[SqliteDatabase | PostgresDatabase, Field(discriminator="kind")]


class UserEntry(StrictModel):
    name: str = Field(pattern=ID_PATTERN, description="person's account name")
    role: Role = Field(description="viewer (search, view), reviewer (+verdicts, export), admin")
    token_sha256: str = Field(pattern=HEX64, description="sha256 hex of the bearer token")


class GatewayEntry(StrictModel):
    id: str = Field(pattern=ID_PATTERN, description="gateway id, also in its certificate")
    public_key_file: Path | None = Field(
        default=None, description="PEM Ed25519 public key that verifies its event signatures"
    )
    public_key_pem: str | None = Field(default=None, description="the same key inline")
    cert_fingerprint: str | None = Field(
        default=None, pattern=HEX64, description="pin: sha256 hex of its client cert DER"
    )

    @model_validator(mode="after")
    def _one_key(self) -> GatewayEntry:
        if (self.public_key_file is None) == (self.public_key_pem is None):
            raise ValueError("give exactly one of public_key_file or public_key_pem")
        return self


class Limits(StrictModel):
    max_message_bytes: int = Field(default=32 << 20, ge=1 << 20, le=256 << 20)
    max_events_per_message: int = Field(
        default=256, ge=1, le=4096, description="events in one Deliver request (a batch)"
    )
    max_blobs_per_event: int = Field(default=16, ge=1, le=64)
    max_blob_bytes: int = Field(default=8 << 20, ge=64 << 10, le=64 << 20)
    max_image_pixels: int = Field(default=50_000_000, ge=1_000_000)


class Retention(StrictModel):
    unconfirmed_days: int = Field(
        default=30, ge=1, le=3650, description="unconfirmed matches expire after this"
    )
    purge_interval_s: int = Field(default=3600, ge=60, le=7 * 86400)


class WebTls(StrictModel):
    cert: Path = Field(description="PEM certificate of the reviewer page (HTTPS)")
    key: Path = Field(description="its PEM private key (mode 0600)")


class DispatchConfig(StrictModel):
    """Where confirmed cases are sent (web page "dispatch" button)."""

    url: str = Field(description="webhook URL (http:// or https://) that receives case JSON")
    hmac_key_file: Path = Field(
        description="file holding the HMAC-SHA256 key (at least 32 bytes) that signs payloads"
    )
    max_attempts: int = Field(default=8, ge=1, le=50, description="attempts before giving up")
    backoff_initial_s: float = Field(
        default=5.0, ge=0.01, le=3600.0, description="wait after the first failed attempt"
    )
    backoff_max_s: float = Field(
        default=900.0, ge=0.01, le=86400.0, description="longest wait between attempts"
    )
    timeout_s: float = Field(default=10.0, gt=0.0, le=120.0, description="per-attempt timeout")

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s]*)?$", v):
            raise ValueError("must be an http:// or https:// URL, e.g. https://cases.example/hook")
        return v


class MetricsConfig(StrictModel):
    """Prometheus metrics at /metrics of the web port."""

    enabled: bool = Field(default=True, description="serve /metrics on the web port")
    token_sha256: str | None = Field(
        default=None,
        pattern=HEX64,
        description="sha256 hex of a bearer token scrapers must send (Authorization: Bearer "
        "TOKEN); required when the web port listens on a non-loopback address, where "
        "/metrics is not served without it",
    )


class WebConfig(StrictModel):
    enabled: bool = True
    host: str = Field(default="127.0.0.1", description="listen host of the reviewer page")
    port: int = Field(default=0, ge=0, le=65535, description="0 = pick a free port")
    tls: WebTls | None = Field(default=None, description="serve HTTPS (Secure cookies)")
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s?#]+$",
        description="base URL reviewers reach the page at (links in dispatched cases); "
        "default http(s)://host:port",
    )
    session_idle_s: int = Field(default=1800, ge=60, le=86400, description="idle logout")
    session_max_s: int = Field(default=43200, ge=300, le=7 * 86400, description="hard logout")
    lockout_failures: int = Field(
        default=5, ge=1, le=100, description="failed logins (per name or address) before lock"
    )
    lockout_s: int = Field(default=900, ge=1, le=86400, description="how long a lock lasts")
    max_upload_bytes: int = Field(default=10 << 20, ge=64 << 10, le=64 << 20)
    utc_offset_minutes: int = Field(
        default=480, ge=-720, le=840, description="local time shown and used for day buckets"
    )
    language: Literal["zh-CN", "en"] = Field(default="zh-CN", description="default language")
    dispatch: DispatchConfig | None = Field(default=None, description="case webhook")
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="reverse proxies (addresses or CIDRs, e.g. 10.0.0.5/32) whose "
        "X-Forwarded-For / X-Forwarded-Proto are believed; nobody else's are",
    )
    threads: int = Field(
        default=16, ge=1, le=256, description="worker threads for database and model work"
    )
    max_connections: int = Field(
        default=512, ge=8, le=65536, description="open connections before answering 503"
    )
    header_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="time a client has to send a request head"
    )
    body_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="time a client has to send a request body"
    )
    keep_alive_s: int = Field(default=5, ge=1, le=300, description="idle keep-alive time")
    api_link_ttl_s: int = Field(
        default=7 * 86400,
        ge=60,
        le=90 * 86400,
        description="how long a dispatched case's signed package link stays valid",
    )
    metrics: MetricsConfig = MetricsConfig()


class StoreConfig(StrictModel):
    """`edgewatch store serve --config store.yaml`."""

    kind: Literal["store"] = "store"
    listen: Address = Field(description="gRPC listen address host:port, e.g. 127.0.0.1:7443")
    tls: ServerTls
    database: Database = Field(description="events, evidence images and everything else")
    users: list[UserEntry] = Field(default_factory=list)
    gateways: list[GatewayEntry] = Field(default_factory=list)
    limits: Limits = Limits()
    retention: Retention = Retention()
    web: WebConfig = WebConfig()
    vision: VisionConfig = Field(
        default=VisionConfig(), description="face models used to embed enrolment photos"
    )
    # platform integration (edge/store/viid_config.py, dispatch_rules.py, locations.py)
    viid: ViidConfig | None = Field(default=None, description="GA/T 1400 platform to push to")
    locations: list[KeyLocation] = Field(default_factory=list, description="key locations")
    dispatch_rules: list[DispatchRule] = Field(
        default_factory=list, description="automatic dispatch rules"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_blob_folder(cls, data: Any) -> Any:
        if isinstance(data, dict) and "blobs" in data:
            raise ValueError(
                f"blobs: {str(data['blobs'])[:200]!r}: evidence now lives in the database; "
                "remove the 'blobs' key and move that folder's blobs in with "
                "`edgewatch store migrate-blobs --config STORE_YAML --from FOLDER`"
            )
        return data

    @model_validator(mode="after")
    def _platform(self) -> StoreConfig:
        check_unique(self.locations)
        has_webhook = self.web.dispatch is not None and self.web.enabled
        check_rules(self.dispatch_rules, self.locations, has_webhook, self.viid is not None)
        return self

    @model_validator(mode="after")
    def _unique(self) -> StoreConfig:
        for what, ids in (
            ("users", [u.name for u in self.users]),
            ("gateways", [g.id for g in self.gateways]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{what}: duplicate ids {dupes}")
        tokens = [u.token_sha256 for u in self.users]
        if len(set(tokens)) != len(tokens):
            raise ValueError("users: two users share one token")
        return self
