"""`edgewatch status --config admin.yaml [--json]`: store health, gateways, event counts.

Exit 0 only when the store answered.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.api.types import GatewayRow, PlatformLink, StatusView


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="show the store's health, gateways and counts (admin)")
    p.add_argument("--config", required=True, type=Path, metavar="FILE", help="admin config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_status)


def _gateway(g: GatewayRow) -> dict[str, Any]:
    from edge.api.json_views import us_to_iso

    h = g.health
    return {
        "gateway_id": g.gateway_id,
        "revoked": g.revoked,
        "last_seen": us_to_iso(g.last_seen_us) if g.last_seen_us else None,
        "last_sequence": g.last_sequence,
        "last_hash": g.last_hash,
        "problems": list(g.problems),
        "face_model_id": h.face_model_id if h else None,
        "model_ids": list(h.model_ids) if h else [],
        "watchlist_version": h.watchlist_version if h else None,
        "outbox_events": h.outbox_events if h else None,
        "cameras": [
            {"camera_id": c.camera_id, "up": c.up, "fps": round(c.fps, 2)} for c in h.cameras
        ]
        if h
        else [],
    }


def status_json(s: StatusView) -> dict[str, Any]:
    from edge.api.json_views import us_to_iso

    return {
        "software_version": s.software_version,
        "database": s.database,
        "database_ok": s.database_ok,
        "events_stored": s.events_stored,
        "events_pending_review": s.events_pending_review,
        "events_by_integrity": s.events_by_integrity,
        "watchlist_version": s.watchlist_version,
        "server_time": us_to_iso(s.server_time_us),
        "gateways": [_gateway(g) for g in s.gateways],
        "links": [_link(link) for link in s.links],
    }


def _link(link: PlatformLink) -> dict[str, Any]:
    from edge.api.json_views import us_to_iso

    def when(us: int | None) -> str | None:
        return us_to_iso(us) if us else None

    return {
        "name": link.name,
        "target": link.target,
        "device_id": link.device_id or None,
        "state": link.state,
        "since": when(link.since_us),
        "last_ok": when(link.last_ok_us),
        "last_error": link.last_error or None,
        "pending": link.pending,
        "delivered": link.delivered,
        "refused": link.refused,
        "oldest_pending": when(link.oldest_pending_us),
        "attempts": link.attempts,
    }


def run_status(args: argparse.Namespace) -> int:
    from edge.review.client import open_client

    with open_client(args.config) as client:
        status = client.status()
    doc = status_json(status)
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=1))
        return 0
    print(
        f"store {doc['software_version']}  database {doc['database']} "
        f"({'ok' if doc['database_ok'] else 'NOT OK'})  time {doc['server_time']}"
    )
    print(
        f"events {doc['events_stored']}  pending review {doc['events_pending_review']}  "
        f"by integrity {doc['events_by_integrity']}  watchlist v{doc['watchlist_version']}"
    )
    for g in doc["gateways"]:
        print(
            f"gateway {g['gateway_id']}{' (REVOKED)' if g['revoked'] else ''}  last seen "
            f"{g['last_seen'] or 'never'}  chain seq {g['last_sequence']}  face model "
            f"{g['face_model_id'] or '-'}  problems {len(g['problems'])}"
        )
    for link in doc["links"]:
        error = f"  last error: {link['last_error']}" if link["last_error"] else ""
        print(
            f"link {link['name']} {link['target']}  {link['state'].upper()} since "
            f"{link['since'] or '-'}  last ok {link['last_ok'] or 'never'}  pending "
            f"{link['pending']} (oldest {link['oldest_pending'] or '-'})  delivered "
            f"{link['delivered']}  refused {link['refused']}{error}"
        )
    return 0
