"""REST: search events, read one, its blobs byte-exact, judge it, export its package.

Every operation calls the service object the gRPC Review servicer uses (same
queries, same audit entries: ``review.search``, ``review.view``, ``review.blob``,
``review.verdict``, ``review.export``) on a worker thread.
"""

# no `from __future__ import annotations`: FastAPI reads these annotations at run time,
# and the role dependencies are local names of router()

import hashlib
from datetime import datetime
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from edge.api.json_views import us_to_iso
from edge.errors import QueryError
from edge.store.api.access import require
from edge.store.api.models import (
    EventDetail,
    EventPage,
    VerdictIn,
    VerdictOut,
    event_detail,
    event_row,
    iso_to_us,
)
from edge.store.auth import Principal
from edge.store.dispatch_io import zip_package
from edge.store.repository import EventQuery
from edge.store.web.http import parse_form
from edge.store.web.services import WebServices

SHA256_HEADER = "X-Content-SHA256"
MAX_PAGE = 500
Integrity = Literal["ok", "gap", "fork", "replay", "bad_signature", "bad_blob"]
PlateQ = Annotated[str | None, Query(max_length=32, description="confusable reads match too")]
ExactQ = Annotated[bool, Query(description="only the exact normalised plate")]
SubjectQ = Annotated[str | None, Query(max_length=64, description="watchlist subject id")]
IdQ = Annotated[str | None, Query(max_length=64)]
SinceQ = Annotated[
    datetime | None, Query(description="captured at or after (ISO 8601; UTC unless zoned)")
]
UntilQ = Annotated[datetime | None, Query(description="captured before")]
LimitQ = Annotated[int, Query(ge=1, le=MAX_PAGE)]
CursorQ = Annotated[str | None, Query(max_length=200, description="`next` of the last page")]
_PHOTO_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photo"],
                    "properties": {
                        "photo": {"type": "string", "format": "binary"},
                        "min_similarity": {"type": "number", "minimum": 0, "maximum": 1},
                        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                    },
                }
            }
        },
    }
}


def _float(text: str, name: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise QueryError(f"{name} {text[:20]!r} is not a number") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be {low:g}..{high:g} (got {value:g})")
    return value


def router(s: WebServices) -> APIRouter:
    api = APIRouter(tags=["events"])
    viewer = Annotated[Principal, require(s.repo.users, "/edge.v1.Review/Search")]
    getter = Annotated[Principal, require(s.repo.users, "/edge.v1.Review/GetEvent")]
    blob_reader = Annotated[Principal, require(s.repo.users, "/edge.v1.Review/GetBlob")]
    judge = Annotated[Principal, require(s.repo.users, "/edge.v1.Review/SetVerdict")]
    exporter = Annotated[Principal, require(s.repo.users, "/edge.v1.Review/Export")]

    @api.get("/events", response_model=EventPage, summary="Search match events, newest first")
    def search(
        who: viewer,
        plate: PlateQ = None,
        exact: ExactQ = False,
        subject: SubjectQ = None,
        camera: IdQ = None,
        gateway: IdQ = None,
        since: SinceQ = None,
        until: UntilQ = None,
        verdict: Literal["pending", "confirmed", "rejected"] | None = None,
        integrity: Integrity | None = None,
        limit: LimitQ = 50,
        cursor: CursorQ = None,
    ) -> EventPage:
        query = EventQuery(
            plate=plate or None,
            subject_ids=(subject,) if subject else (),
            camera_id=camera or None,
            gateway_id=gateway or None,
            since_us=iso_to_us(since),
            until_us=iso_to_us(until),
            verdict=verdict,
            integrity=integrity,
            plate_exact=exact,
            limit=limit,
            cursor=cursor or None,
        )
        result = s.review.search(who, query, None, 0.0)
        return EventPage(events=[event_row(h) for h in result.hits], next=result.next_cursor)

    @api.post(
        "/events/face-search",
        response_model=EventPage,
        summary="Events of watchlist subjects whose face resembles a photo",
        openapi_extra=_PHOTO_FORM,
    )
    async def face_search(who: viewer, request: Request) -> EventPage:
        body = await request.body()  # bounded by web.max_upload_bytes

        def run() -> EventPage:
            fields, files = parse_form(request.headers.get("content-type", ""), body)
            photos = [u.data for u in files.get("photo", []) if u.data]
            if not photos:
                raise QueryError("send the photo as the multipart file field 'photo'")
            min_sim = _float((fields.get("min_similarity") or ["0"])[0], "min_similarity", 0, 1)
            limit = int(_float((fields.get("limit") or ["100"])[0], "limit", 1, MAX_PAGE))
            result = s.review.search(who, EventQuery(limit=limit), photos[0], min_sim)
            rows = [event_row(h, photo=True) for h in result.hits]
            return EventPage(events=rows, next=None)

        return await anyio.to_thread.run_sync(run)

    @api.get("/events/{event_id}", response_model=EventDetail, summary="One event")
    def get_event(who: getter, event_id: str) -> EventDetail:
        view = s.review.get_event(who, event_id)
        return event_detail(view, s.repo.events.event_blobs(event_id))

    @api.get(
        "/events/{event_id}/blobs/{name}",
        response_class=Response,
        summary="A blob of the event, byte-exact (its sha256 in X-Content-SHA256)",
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
    )
    def get_blob(who: blob_reader, event_id: str, name: str) -> Response:
        info, data = s.review.get_blob(who, event_id, name)
        headers = {SHA256_HEADER: info.sha256, "Cache-Control": "private, no-store"}
        return Response(data, media_type=info.media_type, headers=headers)

    @api.post("/events/{event_id}/verdict", response_model=VerdictOut, summary="Confirm or reject")
    def set_verdict(who: judge, event_id: str, body: VerdictIn) -> VerdictOut:
        note = body.note.strip()
        if not note:
            raise QueryError("note must not be blank: say why")
        record = s.review.set_verdict(who, event_id, body.verdict, note)
        at = us_to_iso(record.at_us)
        return VerdictOut(verdict=record.verdict, note=record.note, reviewer=record.reviewer, at=at)

    @api.get(
        "/events/{event_id}/package.zip",
        response_class=Response,
        summary="The evidence package (the files `review export` writes) as a zip",
        responses={200: {"content": {"application/zip": {}}}},
    )
    def package(who: exporter, event_id: str) -> Response:
        files = s.review.export_files(who, [event_id])
        return zip_response(zip_package(files, f"evidence-{event_id}"), f"evidence-{event_id}.zip")

    return api


def zip_response(data: bytes, filename: str) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        SHA256_HEADER: hashlib.sha256(data).hexdigest(),
    }
    return Response(data, media_type="application/zip", headers=headers)
