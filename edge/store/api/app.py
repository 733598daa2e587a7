"""The REST/JSON API for case-management systems, mounted at /api/v1 of the web port.

FastAPI generates the OpenAPI description (/api/v1/openapi.json; no bundled docs UI:
it would load scripts from a CDN). Callers authenticate with a store user's bearer
token; errors are JSON ``{"detail": ...}`` with the status the error calls for.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from edge import __version__
from edge.errors import AuthError, EdgeError, EvidenceError, NotFoundError
from edge.store.api import admin, events, links, platform
from edge.store.api.models import Problem
from edge.store.web.services import WebServices

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Evidence of the EdgeWatch central store for case-management systems. "
    "Authenticate with `Authorization: Bearer TOKEN` (a store user's token; roles as for "
    "gRPC: viewer < reviewer < admin). Every read and decision is audited."
)


def _status(e: EdgeError) -> int:
    if isinstance(e, NotFoundError):
        return 404
    if isinstance(e, EvidenceError):
        return 409
    if isinstance(e, AuthError):
        return 403
    return 400


def build_api(services: WebServices) -> FastAPI:
    api = FastAPI(
        title="EdgeWatch store API",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses={
            400: {"model": Problem},
            401: {"model": Problem},
            403: {"model": Problem},
            404: {"model": Problem},
        },
    )

    @api.exception_handler(EdgeError)
    async def edge_error(request: Request, e: EdgeError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=_status(e))

    @api.exception_handler(Exception)
    async def failure(request: Request, e: Exception) -> JSONResponse:
        log.error("api request failed", exc_info=e)
        return JSONResponse({"detail": "internal error (see the store's log)"}, status_code=500)

    api.include_router(events.router(services))
    api.include_router(admin.router(services))
    api.include_router(links.router(services))
    api.include_router(platform.router(services))
    return api
