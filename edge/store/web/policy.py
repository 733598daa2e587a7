"""Who may do what on the web page: the gRPC access table, looked up, never restated.

Each web action names the gRPC method it is the page's form of; its required role is
that method's entry in ``edge.store.auth.METHOD_ACCESS``. Web-only actions borrow the
rule of the method closest in what it reveals or does (dispatch sends an evidence
package, so it needs what Export needs), so changing the table changes both doors.
"""

from __future__ import annotations

from typing import Literal

from edge.store.auth import METHOD_ACCESS, ROLE_RANK

Action = Literal[
    "search",
    "view",
    "blob",
    "verdict",
    "export",
    "dispatch",
    "event_audit",
    "analytics",
    "watchlist",
    "watchlist_add_face",
    "watchlist_add_plate",
    "watchlist_remove",
    "gateways",
    "audit",
    "audit_verify",
]

ACTION_METHOD: dict[str, str] = {
    "search": "/edge.v1.Review/Search",
    "view": "/edge.v1.Review/GetEvent",
    "blob": "/edge.v1.Review/GetBlob",
    "verdict": "/edge.v1.Review/SetVerdict",
    "export": "/edge.v1.Review/Export",
    # web-only: a dispatched case carries the evidence package
    "dispatch": "/edge.v1.Review/Export",
    # the event's audit trail is part of its evidence package
    "event_audit": "/edge.v1.Review/Export",
    # counts of what a search would show
    "analytics": "/edge.v1.Review/Search",
    "watchlist": "/edge.v1.WatchlistAdmin/List",
    "watchlist_add_face": "/edge.v1.WatchlistAdmin/AddFace",
    "watchlist_add_plate": "/edge.v1.WatchlistAdmin/AddPlate",
    "watchlist_remove": "/edge.v1.WatchlistAdmin/Remove",
    "gateways": "/edge.v1.Admin/ListGateways",
    "audit": "/edge.v1.Admin/AuditVerify",
    "audit_verify": "/edge.v1.Admin/AuditVerify",
}


def required_role(action: str) -> str:
    access = METHOD_ACCESS.get(ACTION_METHOD[action])
    if access not in ROLE_RANK:  # unknown or not for people: nobody on the web page
        return "nobody"
    return str(access)


def allowed(role: str | None, action: str) -> bool:
    need = required_role(action)
    return role is not None and need in ROLE_RANK and ROLE_RANK[role] >= ROLE_RANK[need]
