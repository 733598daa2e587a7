"""Who may call an API operation: the store users' bearer tokens and the gRPC table.

Each operation names the gRPC method it is the REST form of; its required role is
that method's entry in ``edge.store.auth.METHOD_ACCESS`` (the same table the gRPC
interceptor and the web page use), so one change of policy changes every door. A
token is never compared as text: its sha256 picks the user (as for gRPC), and the
token itself is neither stored nor logged.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.pki import token_sha256
from edge.store.auth import METHOD_ACCESS, ROLE_RANK, Principal
from edge.store.repository import UserRepository

log = logging.getLogger(__name__)

#: documents the scheme in the OpenAPI description; refusals are ours (401 + header)
bearer = HTTPBearer(auto_error=False, description="a store user's token (admin/reviewer.yaml)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _refuse(status: int, message: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    headers = {"WWW-Authenticate": challenge} if status == 401 else None
    return HTTPException(status, message, headers=headers)


def principal_of(
    users: UserRepository, method: str, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller of ``method``, or the 401/403 that refuses it."""
    access = METHOD_ACCESS.get(method)
    operation = method.removeprefix("/edge.v1.")
    if access not in ROLE_RANK:
        raise _refuse(403, f"{operation} is not available to people")
    if credentials is None or not credentials.credentials.strip():
        raise _refuse(401, "missing bearer token: send the header 'Authorization: Bearer TOKEN'")
    user = users.user_by_token_hash(token_sha256(credentials.credentials.strip()))
    if user is None or user.revoked:
        raise _refuse(401, "bearer token is not valid (unknown or revoked)", "invalid_token")
    if ROLE_RANK[user.role] < ROLE_RANK[str(access)]:
        log.info("api call refused", extra={"operation": operation, "user": user.name})
        raise _refuse(403, f"user {user.name} has role {user.role}; {operation} needs {access}")
    return Principal("person", user.name, user.role)


def require(users: UserRepository, method: str) -> Any:
    """A FastAPI dependency (``Annotated[Principal, require(...)]``): the caller
    allowed to call ``method``. Synchronous, so FastAPI runs it on a worker thread."""

    def dependency(credentials: Credentials) -> Principal:
        return principal_of(users, method, credentials)

    return Depends(dependency)
