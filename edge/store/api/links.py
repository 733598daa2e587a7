"""REST: the package link of a dispatched case, fetched by the case system itself.

The webhook's ``package_url`` is ``/api/v1/dispatches/ID/package.zip?expires=T&sig=S``:
S is an HMAC (key kept in the store's database, never sent anywhere) over the dispatch
id, its event id and T; the link works without a login until T and for nothing else.
Each use is audited (``dispatch.package`` with ``via: signed link`` and the client
address); a bad or expired link gets 403 and says which.
"""

# no `from __future__ import annotations`: FastAPI reads these annotations at run time,
# and the role dependencies are local names of router()

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from edge.errors import AuthError
from edge.store.api.events import zip_response
from edge.store.web.services import WebServices


def router(s: WebServices) -> APIRouter:
    api = APIRouter(tags=["dispatch"])

    @api.get(
        "/dispatches/{dispatch_id}/package.zip",
        response_class=Response,
        summary="A dispatched case's evidence package, by its signed link (no login)",
        responses={200: {"content": {"application/zip": {}}}, 403: {"description": "bad link"}},
    )
    def package(
        request: Request,
        dispatch_id: str,
        expires: Annotated[int, Query(ge=0, description="unix seconds, from the link")],
        sig: Annotated[str, Query(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")],
    ) -> Response:
        if s.dispatch is None:
            raise HTTPException(404, "dispatch is not configured on this store")
        client = request.client.host if request.client else "-"
        try:
            record, data = s.dispatch.package_by_link(dispatch_id, expires, sig, client)
        except AuthError as e:
            raise HTTPException(403, str(e)) from None
        name = f"evidence-{record.event_id}-{record.package_sha256[:12]}.zip"
        return zip_response(data, name)

    return api
