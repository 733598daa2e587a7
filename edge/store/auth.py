"""Who may call what: one table of methods, one decision function.

Every peer connects with a client certificate of the deployment CA (mutual TLS is
required at the TLS layer). A certificate naming a *gateway* is that gateway's whole
identity: gateways may only deliver, send heartbeats and sync the watchlist. A
certificate naming a *person* only opens the connection; what the person may do comes
from their bearer token (``authorization: Bearer <token>``), checked against the
stored sha256 of active tokens: viewer < reviewer < admin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from edge.errors import AuthError
from edge.pki import cert_fingerprint, is_revoked, peer_from_cert, token_sha256
from edge.store.repository import GatewayInfo, Role, User

log = logging.getLogger(__name__)

Access = Literal["public", "gateway", "viewer", "reviewer", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 1, "reviewer": 2, "admin": 3}

_GATEWAY_METHODS = (
    "/edge.v1.Ingest/Deliver",
    "/edge.v1.Ingest/Heartbeat",
    "/edge.v1.WatchlistSync/GetSnapshot",
    "/edge.v1.WatchlistSync/GetDeltas",
)
_ADMIN_METHODS = tuple(
    f"/edge.v1.{service}/{m}"
    for service, methods in (
        ("WatchlistAdmin", ("AddFace", "AddPlate", "List", "Remove")),
        (
            "Admin",
            (
                "ListGateways",
                "RegisterGateway",
                "RevokeGateway",
                "ListUsers",
                "CreateUser",
                "RevokeUser",
                "Status",
                "AuditVerify",
            ),
        ),
    )
    for m in methods
)

#: the whole access policy; a method missing here is refused to everyone
METHOD_ACCESS: dict[str, Access] = {
    "/grpc.health.v1.Health/Check": "public",
    "/grpc.health.v1.Health/Watch": "public",
    **dict.fromkeys(_GATEWAY_METHODS, "gateway"),
    "/edge.v1.Review/Search": "viewer",
    "/edge.v1.Review/GetEvent": "viewer",
    "/edge.v1.Review/GetBlob": "viewer",
    "/edge.v1.Review/SetVerdict": "reviewer",
    "/edge.v1.Review/Export": "reviewer",
    **dict.fromkeys(_ADMIN_METHODS, "admin"),
}


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["anonymous", "gateway", "person"]
    name: str
    role: Role | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"{self.kind}:{self.name}"


ANONYMOUS = Principal("anonymous", "-")


class AccessDeniedError(AuthError):
    """A call refused by the policy; becomes UNAUTHENTICATED or PERMISSION_DENIED."""

    def __init__(self, code: Literal["unauthenticated", "permission_denied"], message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Directory(Protocol):
    """Where the authenticator looks people and gateways up (the repository)."""

    def user_by_token_hash(self, token_sha256: str) -> User | None: ...

    def get_gateway(self, gateway_id: str) -> GatewayInfo | None: ...


def _short(method: str) -> str:
    return method.removeprefix("/edge.v1.")


class Authenticator:
    def __init__(self, directory: Directory, revoked: Callable[[], frozenset[str]]) -> None:
        self._directory = directory
        self._revoked = revoked  # read per call: the list is reloaded when its file changes

    def authenticate(self, method: str, cert_pem: bytes | None, token: str | None) -> Principal:
        access = METHOD_ACCESS.get(method)
        if access is None:
            raise AccessDeniedError("permission_denied", f"method {method} is not available")
        if access == "public":
            return ANONYMOUS
        if not cert_pem:
            raise AccessDeniedError(
                "unauthenticated", "no client certificate: connect with mutual TLS"
            )
        if is_revoked(cert_pem, self._revoked()):
            raise AccessDeniedError("unauthenticated", "client certificate is revoked")
        peer = peer_from_cert(cert_pem)
        if peer is None:
            raise AccessDeniedError(
                "unauthenticated", "client certificate names no EdgeWatch identity"
            )
        if access == "gateway":
            if peer.kind != "gateway":
                raise AccessDeniedError(
                    "permission_denied", f"{_short(method)} is only for gateway certificates"
                )
            return self._gateway(peer.name, cert_pem)
        if peer.kind == "gateway":
            raise AccessDeniedError(
                "permission_denied",
                f"gateway {peer.name} may only deliver events, send heartbeats and sync "
                f"the watchlist; {_short(method)} is for people",
            )
        return self._person(method, access, token)

    def _gateway(self, gateway_id: str, cert_pem: bytes) -> Principal:
        info = self._directory.get_gateway(gateway_id)
        if info is None:
            raise AccessDeniedError("permission_denied", f"gateway {gateway_id} is not registered")
        if info.revoked:
            raise AccessDeniedError("permission_denied", f"gateway {gateway_id} is revoked")
        if info.cert_fingerprint and info.cert_fingerprint != cert_fingerprint(cert_pem):
            raise AccessDeniedError(
                "unauthenticated",
                f"certificate of gateway {gateway_id} is not the one registered for it",
            )
        return Principal("gateway", gateway_id)

    def _person(self, method: str, access: Access, token: str | None) -> Principal:
        if not token:
            raise AccessDeniedError(
                "unauthenticated",
                "missing bearer token: send metadata 'authorization: Bearer <token>' "
                "(the token is in your client config)",
            )
        user = self._directory.user_by_token_hash(token_sha256(token))
        if user is None or user.revoked:
            raise AccessDeniedError(
                "unauthenticated", "bearer token is not valid (unknown or revoked)"
            )
        if ROLE_RANK[user.role] < ROLE_RANK[access]:
            raise AccessDeniedError(
                "permission_denied",
                f"user {user.name} has role {user.role}; {_short(method)} needs {access} or higher",
            )
        return Principal("person", user.name, user.role)


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    """The token of an ``authorization: Bearer ...`` header, if any."""
    for key, value in metadata or ():
        if key.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class RepoDirectory:
    """The repository seen as a Directory."""

    def __init__(self, users: _UserLookup, gateways: _GatewayLookup) -> None:
        self._users = users
        self._gateways = gateways

    def user_by_token_hash(self, token_sha256: str) -> User | None:
        return self._users.user_by_token_hash(token_sha256)

    def get_gateway(self, gateway_id: str) -> GatewayInfo | None:
        return self._gateways.get_gateway(gateway_id)


class _UserLookup(Protocol):
    def user_by_token_hash(self, token_sha256: str) -> User | None: ...


class _GatewayLookup(Protocol):
    def get_gateway(self, gateway_id: str) -> GatewayInfo | None: ...
