"""Operator operations: gateways, users, store status and audit verification."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization

from edge import __version__
from edge.api.types import PlatformLink
from edge.errors import NotFoundError, StoreError
from edge.evidence.signing import load_public_key_pem
from edge.ids import ID_PATTERN
from edge.pki import new_token, token_sha256
from edge.store.audit import Auditor
from edge.store.audit_chain import AuditVerification
from edge.store.auth import ROLE_RANK, Principal
from edge.store.repository import GatewayInfo, Repository, Role, User

log = logging.getLogger(__name__)

_ID = re.compile(ID_PATTERN)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class StoreStatus:
    software_version: str
    database: str
    healthy: bool
    events_stored: int
    events_pending_review: int
    by_integrity: dict[str, int]
    watchlist_version: int
    gateways: tuple[GatewayInfo, ...]
    server_time_us: int
    links: tuple[PlatformLink, ...] = ()


def raw_public_key(pem: str | bytes, source: str) -> bytes:
    key = load_public_key_pem(pem, source)
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class AdminService:
    def __init__(
        self,
        repo: Repository,
        auditor: Auditor,
        clock: Callable[[], int],
        links: Callable[[], tuple[PlatformLink, ...]] | None = None,
    ) -> None:
        self._repo = repo
        self._auditor = auditor
        self._clock = clock
        self._links = links

    def list_gateways(self) -> list[GatewayInfo]:
        return self._repo.gateways.list_gateways()

    def register_gateway(
        self, who: Principal, gateway_id: str, public_key_pem: str, cert_fingerprint: str | None
    ) -> GatewayInfo:
        if not _ID.match(gateway_id):
            raise StoreError(f"gateway id {gateway_id[:70]!r} must match {ID_PATTERN}")
        if len(public_key_pem) > 4096:
            raise StoreError("public key PEM is larger than 4 KiB")
        if cert_fingerprint and not _HEX64.match(cert_fingerprint):
            raise StoreError("cert fingerprint must be 64 lowercase hex characters")
        raw = raw_public_key(public_key_pem, f"public key of gateway {gateway_id}")
        info = self._repo.gateways.register_gateway(
            gateway_id, raw, cert_fingerprint or None, self._clock()
        )
        self._auditor.record(who, "admin.register_gateway", {"gateway_id": gateway_id})
        return info

    def revoke_gateway(self, who: Principal, gateway_id: str, reason: str) -> GatewayInfo:
        info = self._repo.gateways.revoke_gateway(gateway_id)
        if info is None:
            raise NotFoundError(f"gateway {gateway_id!r} is not registered")
        self._auditor.record(
            who, "admin.revoke_gateway", {"gateway_id": gateway_id, "reason": reason[:500]}
        )
        return info

    def list_users(self) -> list[User]:
        return self._repo.users.list_users()

    def create_user(self, who: Principal, name: str, role: Role) -> tuple[User, str]:
        """A new user with a fresh token; only the token's sha256 is kept."""
        if not _ID.match(name):
            raise StoreError(f"user name {name[:70]!r} must match {ID_PATTERN}")
        if role not in ROLE_RANK:
            raise StoreError(f"role must be one of {', '.join(ROLE_RANK)} (got {role!r})")
        token = new_token()
        user = User(name, role, token_sha256(token), self._clock())
        self._repo.users.put_user(user)
        self._auditor.record(who, "admin.create_user", {"user": name, "role": role})
        return user, token

    def revoke_user(self, who: Principal, name: str) -> User:
        user = self._repo.users.revoke_user(name)
        if user is None:
            raise NotFoundError(f"no user {name!r}")
        self._auditor.record(who, "admin.revoke_user", {"user": name})
        return user

    def status(self) -> StoreStatus:
        counts = self._repo.events.counts()
        return StoreStatus(
            software_version=__version__,
            database=self._repo.backend,
            healthy=self._repo.ping(),
            events_stored=counts.total,
            events_pending_review=counts.by_verdict.get("pending", 0),
            by_integrity=counts.by_integrity,
            watchlist_version=self._repo.watchlist.version(),
            gateways=tuple(self._repo.gateways.list_gateways()),
            server_time_us=self._clock(),
            links=self._links() if self._links is not None else (),
        )

    def audit_verify(self, who: Principal) -> AuditVerification:
        result = self._auditor.verify()
        self._auditor.record(
            who, "admin.audit_verify", {"ok": result.ok, "entries": result.entries}
        )
        return result
