"""REST for administrators: the watchlist (list, add plates and faces, remove) and the
store's status, through the services the gRPC WatchlistAdmin and Admin servicers use
(audited as ``watchlist.*``)."""

# no `from __future__ import annotations`: FastAPI reads these annotations at run time,
# and the role dependencies are local names of router()

from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Request

from edge.errors import WatchlistError
from edge.store.api.access import require
from edge.store.api.models import (
    FaceAdded,
    PlateAdded,
    PlateIn,
    Removed,
    StatusOut,
    WatchlistOut,
    face_added,
    status_out,
    subject_out,
)
from edge.store.auth import Principal
from edge.store.web.http import parse_form
from edge.store.web.services import WebServices

_FACE_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["photos"],
                    "properties": {
                        "photos": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "1..8 photos of the person",
                        },
                        "subject_id": {"type": "string"},
                        "label": {"type": "string"},
                        "largest": {"type": "boolean", "description": "use the largest face"},
                    },
                }
            }
        },
    }
}


def router(s: WebServices) -> APIRouter:
    api = APIRouter(tags=["administration"])
    lister = Annotated[Principal, require(s.repo.users, "/edge.v1.WatchlistAdmin/List")]
    plate_adder = Annotated[Principal, require(s.repo.users, "/edge.v1.WatchlistAdmin/AddPlate")]
    face_adder = Annotated[Principal, require(s.repo.users, "/edge.v1.WatchlistAdmin/AddFace")]
    remover = Annotated[Principal, require(s.repo.users, "/edge.v1.WatchlistAdmin/Remove")]
    operator = Annotated[Principal, require(s.repo.users, "/edge.v1.Admin/Status")]

    @api.get("/watchlist", response_model=WatchlistOut, summary="Watchlist subjects")
    def list_watchlist(who: lister) -> WatchlistOut:
        subjects, version = s.watchlist.list_subjects(who)
        return WatchlistOut(version=version, subjects=[subject_out(x) for x in subjects])

    @api.post("/watchlist/plates", response_model=PlateAdded, summary="Watch a plate")
    def add_plate(who: plate_adder, body: PlateIn) -> PlateAdded:
        sid, version, text = s.watchlist.add_plate(
            who, body.subject_id or None, body.label.strip(), body.plate
        )
        return PlateAdded(subject_id=sid, version=version, plate=text)

    @api.post(
        "/watchlist/faces",
        response_model=FaceAdded,
        summary="Enrol a face from photos (embedded with the store's face model)",
        openapi_extra=_FACE_FORM,
    )
    async def add_face(who: face_adder, request: Request) -> FaceAdded:
        body = await request.body()  # bounded by web.max_upload_bytes

        def run() -> FaceAdded:
            fields, files = parse_form(request.headers.get("content-type", ""), body)
            photos = [u.data for u in files.get("photos", []) if u.data]
            if not photos:
                raise WatchlistError("send 1..8 photos as multipart file fields 'photos'")
            result = s.watchlist.add_face(
                who,
                (fields.get("subject_id") or [""])[0].strip() or None,
                (fields.get("label") or [""])[0].strip(),
                photos,
                (fields.get("largest") or [""])[0].lower() in ("1", "true", "on", "yes"),
            )
            return face_added(result)

        return await anyio.to_thread.run_sync(run)

    @api.delete(
        "/watchlist/{subject_id}", response_model=Removed, summary="Stop watching a subject"
    )
    def remove(who: remover, subject_id: str) -> Removed:
        removed, version = s.watchlist.remove(who, subject_id)
        if not removed:
            raise HTTPException(404, f"no watchlist subject {subject_id!r}")
        return Removed(subject_id=subject_id, version=version)

    @api.get("/status", response_model=StatusOut, summary="Store status (as `edgewatch status`)")
    def status(who: operator) -> StatusOut:
        return status_out(s.admin.status())

    return api
