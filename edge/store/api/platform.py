"""REST: the one-click transfer of a confirmed event to the GA/T 1400 platform.

The REST form of the event page's "一键流转 / Transfer now" button: the same role (the
page's ``dispatch`` action, which needs what Review/Export needs: reviewer), the same
call (``platform.viid.transfer``, audited as ``viid.transfer``), and the event's push
rows as the answer, so a case system sees what was queued and what the platform said.
"""

# no `from __future__ import annotations`: FastAPI reads these annotations at run time,
# and the role dependencies are local names of router()

from typing import Annotated

from fastapi import APIRouter, HTTPException

from edge.store.api.access import require
from edge.store.api.models import TransferOut, transfer_out
from edge.store.auth import Principal
from edge.store.web.policy import ACTION_METHOD
from edge.store.web.services import WebServices


def router(s: WebServices) -> APIRouter:
    api = APIRouter(tags=["platform"])
    transferrer = Annotated[Principal, require(s.repo.users, ACTION_METHOD["dispatch"])]

    @api.post(
        "/events/{event_id}/transfer",
        response_model=TransferOut,
        summary="Push a confirmed event to the GA/T 1400 platform now (again, if refused)",
        responses={404: {"description": "unknown event, or no GA/T 1400 platform configured"}},
    )
    def transfer(who: transferrer, event_id: str) -> TransferOut:
        platform = s.platform
        if platform is None or platform.viid is None:
            raise HTTPException(404, "no GA/T 1400 platform is configured (viid: in store.yaml)")
        rows = platform.viid.transfer(who, event_id)  # audited: viid.transfer
        return transfer_out(event_id, rows)

    return api
