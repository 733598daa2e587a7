"""Thin gRPC servicers: map the request, call one service method, map the answer.

Identity comes from the auth interceptor (``principal_of``); errors the user can cause
become one status with one clear line (``errors_to_status``); anything else is logged
with its traceback here and reaches the caller only as INTERNAL.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from edge.api.types import Ack
from edge.errors import (
    AuthError,
    EdgeError,
    EvidenceError,
    ImageTooLargeError,
    InputError,
    ModelMismatchError,
    ModelPackError,
    NotFoundError,
    QueryError,
)
from edge.store import api_views as views
from edge.store.admin_service import AdminService
from edge.store.ingest import Delivery, IngestService
from edge.store.interceptor import principal_of
from edge.store.review_service import ReviewService
from edge.store.watchlist_service import WatchlistService
from edge.wire import admin_mapping as am
from edge.wire import review_mapping as rm
from edge.wire import watchlist_mapping as wm
from edge.wire.export import package_to_chunks
from edge.wire.mapping import (
    ROLES,
    enum_from_proto,
    event_from_proto,
    health_from_proto,
    snapshot_to_proto,
)
from edge.wire.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    events_pb2,
    ingest_pb2,
    ingest_pb2_grpc,
    review_pb2,
    review_pb2_grpc,
    watchlist_pb2,
    watchlist_pb2_grpc,
)

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: most specific first
_CODES: tuple[tuple[type[EdgeError], grpc.StatusCode], ...] = (
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (QueryError, grpc.StatusCode.INVALID_ARGUMENT),
    (ImageTooLargeError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (InputError, grpc.StatusCode.INVALID_ARGUMENT),
    (ModelMismatchError, grpc.StatusCode.FAILED_PRECONDITION),
    (ModelPackError, grpc.StatusCode.FAILED_PRECONDITION),
    (AuthError, grpc.StatusCode.PERMISSION_DENIED),
    (EdgeError, grpc.StatusCode.INVALID_ARGUMENT),
)


def status_for(error: EdgeError) -> grpc.StatusCode:
    return next(code for cls, code in _CODES if isinstance(error, cls))


def errors_to_status(fn: F) -> F:
    """EdgeError -> its status with the message; anything else -> INTERNAL (logged)."""

    @functools.wraps(fn)
    def run(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return fn(self, request, context)
        except EdgeError as e:
            context.abort(status_for(e), str(e))
        except Exception:
            log.exception("unexpected error", extra={"rpc": fn.__name__})
            context.abort(grpc.StatusCode.INTERNAL, "internal error in the store (see its log)")

    return run  # type: ignore[return-value]


class _StreamError(Exception):
    """A request that cannot be answered event by event: the stream is refused."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _delivery(pb: events_pb2.SignedEvent) -> Delivery | Ack:
    """A structurally broken event becomes its REJECTED ack (the stream goes on)."""
    try:
        return event_from_proto(pb)
    except EdgeError as e:
        eid = pb.event.event_id[:128]
        if not eid:
            raise _StreamError(grpc.StatusCode.INVALID_ARGUMENT, f"malformed event: {e}") from None
        return Ack(eid, "rejected", None, f"malformed event: {e}"[:500], pb.event.sequence)


def _batches(
    requests: Iterator[ingest_pb2.DeliverRequest], most: int
) -> Iterator[list[Delivery | Ack]]:
    for req in requests:
        if not req.events:
            raise _StreamError(grpc.StatusCode.INVALID_ARGUMENT, "DeliverRequest holds no events")
        if len(req.events) > most:
            raise _StreamError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"DeliverRequest holds {len(req.events)} events; the store accepts at most "
                f"{most} per request (limits.max_events_per_message)",
            )
        yield [_delivery(pb) for pb in req.events]


class IngestServicer(ingest_pb2_grpc.IngestServicer):
    def __init__(self, ingest: IngestService, max_events_per_message: int) -> None:
        self._ingest = ingest
        self._most = max_events_per_message

    def Deliver(  # noqa: N802 - gRPC method name
        self, requests: Iterator[ingest_pb2.DeliverRequest], context: grpc.ServicerContext
    ) -> Iterator[ingest_pb2.DeliverReply]:
        gateway = principal_of(context).name
        try:
            for acks in self._ingest.deliver_stream(gateway, _batches(requests, self._most)):
                yield ingest_pb2.DeliverReply(acks=[rm.ack_to_proto(a) for a in acks])
        except _StreamError as e:
            context.abort(e.code, e.message)

    @errors_to_status
    def Heartbeat(  # noqa: N802
        self, request: ingest_pb2.HeartbeatRequest, context: grpc.ServicerContext
    ) -> ingest_pb2.HeartbeatReply:
        gateway = principal_of(context).name
        result = self._ingest.heartbeat(gateway, health_from_proto(request))
        return rm.heartbeat_reply_to_proto(result)


class WatchlistSyncServicer(watchlist_pb2_grpc.WatchlistSyncServicer):
    def __init__(self, watchlist: WatchlistService) -> None:
        self._wl = watchlist

    @errors_to_status
    def GetSnapshot(  # noqa: N802
        self, request: watchlist_pb2.GetSnapshotRequest, context: grpc.ServicerContext
    ) -> watchlist_pb2.WatchlistSnapshot:
        return snapshot_to_proto(self._wl.snapshot(), request.face_model_id or None)

    @errors_to_status
    def GetDeltas(  # noqa: N802
        self, request: watchlist_pb2.GetDeltasRequest, context: grpc.ServicerContext
    ) -> watchlist_pb2.GetDeltasReply:
        d = self._wl.deltas(request.since_version)
        model = self._wl.face_model_id
        return wm.deltas_to_proto(
            d.version,
            [views.subject_change(c, model) for c in d.changes],
            d.snapshot_required,
            model,
            self._wl.template_count(),
            request.face_model_id or None,
        )


class WatchlistAdminServicer(watchlist_pb2_grpc.WatchlistAdminServicer):
    def __init__(self, watchlist: WatchlistService) -> None:
        self._wl = watchlist

    @errors_to_status
    def AddFace(  # noqa: N802
        self, request: watchlist_pb2.AddFaceRequest, context: grpc.ServicerContext
    ) -> watchlist_pb2.AddFaceReply:
        result = self._wl.add_face(
            principal_of(context),
            request.subject_id or None,
            request.label,
            list(request.photos),
            request.largest,
        )
        return am.add_face_to_proto(views.add_face_outcome(result))

    @errors_to_status
    def AddPlate(  # noqa: N802
        self, request: watchlist_pb2.AddPlateRequest, context: grpc.ServicerContext
    ) -> watchlist_pb2.AddPlateReply:
        sid, version, text = self._wl.add_plate(
            principal_of(context), request.subject_id or None, request.label, request.text
        )
        return watchlist_pb2.AddPlateReply(subject_id=sid, version=version, text=text)

    @errors_to_status
    def List(  # noqa: N802
        self, request: watchlist_pb2.ListWatchlistRequest, context: grpc.ServicerContext
    ) -> watchlist_pb2.ListWatchlistReply:
        size = min(request.page_size or 100, 1000)
        start = int(request.page_token) if request.page_token.isdigit() else 0
        subjects, version = self._wl.list_subjects(principal_of(context))
        model = self._wl.face_model_id
        page = [views.watchlist_row(s, model) for s in subjects[start : start + size]]
        more = start + size < len(subjects)
        return watchlist_pb2.ListWatchlistReply(
            entries=[am.entry_to_proto(r) for r in page],
            version=version,
            next_page_token=str(start + size) if more else "",
        )

    @errors_to_status
    def Remove(  # noqa: N802
        self, request: watchlist_pb2.RemoveRequest, context: grpc.ServicerContext
    ) -> watchlist_pb2.RemoveReply:
        removed, version = self._wl.remove(principal_of(context), request.subject_id)
        return watchlist_pb2.RemoveReply(removed=removed, version=version)


class ReviewServicer(review_pb2_grpc.ReviewServicer):
    def __init__(self, review: ReviewService) -> None:
        self._review = review

    @errors_to_status
    def Search(  # noqa: N802
        self, request: review_pb2.SearchRequest, context: grpc.ServicerContext
    ) -> review_pb2.SearchReply:
        query, photo, min_sim = rm.query_from_proto(request)
        result = self._review.search(principal_of(context), query, photo, min_sim)
        return review_pb2.SearchReply(
            events=[rm.summary_to_proto(views.event_row(h)) for h in result.hits],
            next_page_token=result.next_cursor or "",
        )

    @errors_to_status
    def GetEvent(  # noqa: N802
        self, request: review_pb2.GetEventRequest, context: grpc.ServicerContext
    ) -> review_pb2.EventDetail:
        view = self._review.get_event(principal_of(context), request.event_id)
        return rm.detail_to_proto(views.event_detail(view))

    @errors_to_status
    def GetBlob(  # noqa: N802
        self, request: review_pb2.GetBlobRequest, context: grpc.ServicerContext
    ) -> review_pb2.BlobContent:
        blob, data = self._review.get_blob(principal_of(context), request.event_id, request.name)
        return rm.blob_to_proto(views.blob_content(blob, data))

    @errors_to_status
    def SetVerdict(  # noqa: N802
        self, request: review_pb2.SetVerdictRequest, context: grpc.ServicerContext
    ) -> review_pb2.SetVerdictReply:
        verdict = rm.verdict_value_from_proto(request.verdict)
        record = self._review.set_verdict(
            principal_of(context), request.event_id, verdict, request.note
        )
        return review_pb2.SetVerdictReply(record=rm.verdict_to_proto(views.verdict_view(record)))

    def Export(  # noqa: N802
        self, request: review_pb2.ExportRequest, context: grpc.ServicerContext
    ) -> Iterator[review_pb2.ExportChunk]:
        try:
            files = self._review.export_files(principal_of(context), list(request.event_ids))
        except EvidenceError as e:  # e.g. a chain proof cannot be built
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(e))
        except EdgeError as e:
            context.abort(status_for(e), str(e))
        yield from package_to_chunks(files)


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    @errors_to_status
    def ListGateways(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        gateways = [am.gateway_to_proto(views.gateway_row(g)) for g in self._admin.list_gateways()]
        return admin_pb2.ListGatewaysReply(gateways=gateways)

    @errors_to_status
    def RegisterGateway(  # noqa: N802
        self, request: admin_pb2.RegisterGatewayRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GatewayInfo:
        info = self._admin.register_gateway(
            principal_of(context),
            request.gateway_id,
            request.public_key_pem,
            request.cert_fingerprint or None,
        )
        return am.gateway_to_proto(views.gateway_row(info))

    @errors_to_status
    def RevokeGateway(  # noqa: N802
        self, request: admin_pb2.RevokeGatewayRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GatewayInfo:
        info = self._admin.revoke_gateway(principal_of(context), request.gateway_id, request.reason)
        return am.gateway_to_proto(views.gateway_row(info))

    @errors_to_status
    def ListUsers(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return admin_pb2.ListUsersReply(
            users=[am.user_to_proto(views.user_row(u)) for u in self._admin.list_users()]
        )

    @errors_to_status
    def CreateUser(  # noqa: N802
        self, request: admin_pb2.CreateUserRequest, context: grpc.ServicerContext
    ) -> admin_pb2.CreateUserReply:
        role = enum_from_proto(ROLES, request.role, "CreateUserRequest.role")
        user, token = self._admin.create_user(principal_of(context), request.name, role)  # type: ignore[arg-type]
        return admin_pb2.CreateUserReply(user=am.user_to_proto(views.user_row(user)), token=token)

    @errors_to_status
    def RevokeUser(  # noqa: N802
        self, request: admin_pb2.RevokeUserRequest, context: grpc.ServicerContext
    ) -> admin_pb2.User:
        user = self._admin.revoke_user(principal_of(context), request.name)
        return am.user_to_proto(views.user_row(user))

    @errors_to_status
    def Status(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return am.status_to_proto(views.status_view(self._admin.status()))

    @errors_to_status
    def AuditVerify(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        check = self._admin.audit_verify(principal_of(context))
        return am.audit_to_proto(views.audit_check(check))
