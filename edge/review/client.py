"""A person's gRPC client of the store (mutual TLS + bearer token).

Every gRPC failure becomes an EdgeError with one clear line, so the CLI never shows
a traceback: UNAVAILABLE names the address and the usual TLS causes, UNAUTHENTICATED
and PERMISSION_DENIED carry the store's explanation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc

from edge.api.types import (
    AuditCheck,
    EventDetailView,
    EventQuery,
    EventRow,
    StatusView,
    VerdictView,
)
from edge.errors import (
    AuthError,
    ConfigError,
    EdgeError,
    NotFoundError,
    QueryError,
    StoreError,
    TransportError,
)
from edge.review.config import ClientConfig
from edge.tlscheck import TlsFiles, check_tls
from edge.wire import admin_mapping as am
from edge.wire import review_mapping as rm
from edge.wire.export import write_package_chunks
from edge.wire.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    review_pb2,
    review_pb2_grpc,
    watchlist_pb2_grpc,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_MESSAGE = 64 << 20


def translate(e: grpc.RpcError, address: str) -> EdgeError:
    code, details = e.code(), (e.details() or "").strip()
    if code == grpc.StatusCode.UNAVAILABLE:
        return TransportError(
            f"store at {address} is unreachable or refused the TLS handshake: check the "
            "address, that the store runs, that your certificate is from the store's CA "
            f"and not expired or revoked ({details[:200]})"
        )
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return TransportError(f"store at {address} did not answer in time")
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        word = "not authenticated" if code == grpc.StatusCode.UNAUTHENTICATED else "not allowed"
        return AuthError(f"{word}: {details}")
    if code == grpc.StatusCode.NOT_FOUND:
        return NotFoundError(details)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return QueryError(details)
    return StoreError(f"store refused ({code.name}): {details}")


def open_client(path: Path | None, timeout: float = 30.0) -> StoreClient:
    """A client for the store named in the client config ``path`` (not yet connected)."""
    from edge.config import load_model

    if path is None:
        raise ConfigError("pass --config FILE (a client config, e.g. reviewer.yaml)")
    return StoreClient(load_model(ClientConfig, path), timeout)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{what} {str(path)!r} cannot be read: {e.strerror}") from None


class StoreClient:
    def __init__(self, config: ClientConfig, timeout: float = 30.0) -> None:
        self._config = config
        self._timeout = timeout
        self._channel: grpc.Channel | None = None

    def __enter__(self) -> StoreClient:
        self.open()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        c = self._config
        creds = grpc.ssl_channel_credentials(
            root_certificates=_read(c.ca, "CA certificate"),
            private_key=_read(c.key, "client key"),
            certificate_chain=_read(c.cert, "client certificate"),
        )
        self._channel = grpc.secure_channel(
            c.store,
            creds,
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE),
                ("grpc.max_send_message_length", MAX_MESSAGE),
            ],
        )

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self.open()
        assert self._channel is not None
        return self._channel

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._config.token.get_secret_value()}"),)

    def call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return method(request, metadata=self._metadata(), timeout=self._timeout)
        except grpc.RpcError as e:
            raise self._error(e) from None

    def _error(self, e: grpc.RpcError) -> EdgeError:
        """UNAVAILABLE is explained by a TLS check (which side refused what), the rest
        by ``translate``."""
        if e.code() == grpc.StatusCode.UNAVAILABLE:
            c = self._config
            verdict = check_tls(c.store, TlsFiles(c.ca, c.cert, c.key, "", "this client"))
            if verdict.outcome != "ok":
                return TransportError(verdict.message)
        return translate(e, self._config.store)

    # --- review ---------------------------------------------------------------------

    def search(
        self, query: EventQuery, face_photo: bytes | None = None, min_similarity: float = 0.0
    ) -> tuple[list[EventRow], str | None]:
        stub = review_pb2_grpc.ReviewStub(self.channel)
        reply = self.call(stub.Search, rm.query_to_proto(query, face_photo, min_similarity))
        rows = [rm.summary_from_proto(s, face_photo is not None) for s in reply.events]
        return rows, reply.next_page_token or None

    def get_event(self, event_id: str) -> EventDetailView:
        stub = review_pb2_grpc.ReviewStub(self.channel)
        return rm.detail_from_proto(
            self.call(stub.GetEvent, review_pb2.GetEventRequest(event_id=event_id))
        )

    def get_blob(self, event_id: str, name: str) -> bytes:
        stub = review_pb2_grpc.ReviewStub(self.channel)
        reply = self.call(stub.GetBlob, review_pb2.GetBlobRequest(event_id=event_id, name=name))
        return rm.blob_from_proto(reply).content

    def set_verdict(self, event_id: str, verdict: str, note: str) -> VerdictView:
        stub = review_pb2_grpc.ReviewStub(self.channel)
        reply = self.call(stub.SetVerdict, rm.verdict_request(event_id, verdict, note))
        return rm.verdict_from_proto(reply.record)

    def export(self, event_ids: list[str], out_dir: Path) -> list[str]:
        """Stream the evidence package into ``out_dir`` (new or empty); return its files."""
        # checked first as well, so a bad folder costs the store no package (nor audit)
        if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
            raise StoreError(f"{str(out_dir)!r} exists and is not an empty folder")
        stub = review_pb2_grpc.ReviewStub(self.channel)
        request = review_pb2.ExportRequest(event_ids=event_ids)
        try:
            chunks = stub.Export(request, metadata=self._metadata(), timeout=self._timeout * 10)
            return write_package_chunks(out_dir, chunks)
        except grpc.RpcError as e:
            raise self._error(e) from None

    # --- admin ------------------------------------------------------------------------

    def status(self) -> StatusView:
        stub = admin_pb2_grpc.AdminStub(self.channel)
        return am.status_from_proto(self.call(stub.Status, admin_pb2.StatusRequest()))

    def audit_verify(self) -> AuditCheck:
        stub = admin_pb2_grpc.AdminStub(self.channel)
        return am.audit_from_proto(self.call(stub.AuditVerify, admin_pb2.AuditVerifyRequest()))

    def watchlist_stub(self) -> watchlist_pb2_grpc.WatchlistAdminStub:
        return watchlist_pb2_grpc.WatchlistAdminStub(self.channel)
