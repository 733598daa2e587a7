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
    from edge.health import CameraHealth


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
        "cameras": [_camera(c) for c in h.cameras] if h else [],
    }


def _camera(c: CameraHealth) -> dict[str, Any]:
    return {
        "camera_id": c.camera_id,
        "up": c.up,
        "fps": round(c.fps, 2),
        "received": c.frames_received,
        "decoded": c.frames_decoded,
        "analysed": c.frames_analysed,
        "dropped": c.frames_dropped,
        "dropped_by_reason": dict(c.dropped_by_reason),
        "frame_age_p50_s": round(c.frame_age_p50_s, 3),
        "frame_age_p99_s": round(c.frame_age_p99_s, 3),
        "decode_errors": c.decode_errors,
        "reconnects": c.reconnects,
        "lag_reason": c.lag_reason or None,
        "last_error": c.last_error or None,
    }


_CAMERA_HEADER = (
    f"  {'camera':<16} {'state':<5} {'received':>9} {'decoded':>9} {'analysed':>9} "
    f"{'dropped':>8} {'age p50':>8} {'age p99':>8} {'dec err':>7} {'reconn':>6}  lag / error"
)


def camera_line(c: dict[str, Any]) -> str:
    """One row of the per-camera table under a gateway."""
    why = ", ".join(f"{r} {n}" for r, n in c["dropped_by_reason"].items())
    notes = [f"lagging: {c['lag_reason']}" if c["lag_reason"] else "", why and f"({why})"]
    if c["last_error"]:
        notes.append(f"error: {c['last_error']}")
    return (
        f"  {c['camera_id']:<16} {'up' if c['up'] else 'DOWN':<5} {c['received']:>9} "
        f"{c['decoded']:>9} {c['analysed']:>9} {c['dropped']:>8} "
        f"{c['frame_age_p50_s']:>7.2f}s {c['frame_age_p99_s']:>7.2f}s "
        f"{c['decode_errors']:>7} {c['reconnects']:>6}  {' '.join(n for n in notes if n) or '-'}"
    )


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
        if g["cameras"]:
            print(_CAMERA_HEADER)
            for c in g["cameras"]:
                print(camera_line(c))
    for link in doc["links"]:
        error = f"  last error: {link['last_error']}" if link["last_error"] else ""
        print(
            f"link {link['name']} {link['target']}  {link['state'].upper()} since "
            f"{link['since'] or '-'}  last ok {link['last_ok'] or 'never'}  pending "
            f"{link['pending']} (oldest {link['oldest_pending'] or '-'})  delivered "
            f"{link['delivered']}  refused {link['refused']}{error}"
        )
    return 0
