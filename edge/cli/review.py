"""`edgewatch review search|show|verdict|export --config reviewer.yaml`: a reviewer's CLI.

Everything goes through the store's gRPC Review service (mutual TLS + the token in the
client config); every call is audited by the store.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import EvidenceError, QueryError

if TYPE_CHECKING:
    from edge.api.types import EventRow

MAX_RESULTS = 10_000


def add_config(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        required=required,
        help="client config with the store address, certificates and token",
    )


def iso_to_us(text: str | None, what: str) -> int | None:
    """ISO 8601 date or time to UTC microseconds; a time without zone is UTC."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{what} {text!r} is not an ISO date/time (e.g. 2024-05-01T08:00)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1_000_000)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("review", help="search, inspect, judge and export evidence")
    p.add_argument(
        "--config", dest="review_config", type=Path, metavar="FILE", help="client config"
    )
    rsub = p.add_subparsers(dest="review_command", required=True)

    s = rsub.add_parser("search", help="search match events (newest first)")
    add_config(s)
    s.add_argument("--plate", help="plate text; OCR-confusable reads match too")
    s.add_argument("--subject", metavar="ID", help="watchlist subject id")
    s.add_argument("--camera", metavar="ID")
    s.add_argument("--gateway", metavar="ID")
    s.add_argument("--since", metavar="ISO", help="captured at or after (UTC unless zoned)")
    s.add_argument("--until", metavar="ISO", help="captured before")
    s.add_argument("--verdict", choices=["pending", "confirmed", "rejected"])
    s.add_argument(
        "--integrity", choices=["ok", "gap", "fork", "replay", "bad_signature", "bad_blob"]
    )
    s.add_argument("--face", type=Path, metavar="PHOTO", help="search by a face photo")
    s.add_argument("--min-similarity", type=float, default=0.0, metavar="S")
    s.add_argument("--limit", type=int, default=50, metavar="N", help="results (default 50)")
    s.add_argument("--json", action="store_true", help="print one JSON array")
    s.set_defaults(handler=run_search)

    sh = rsub.add_parser("show", help="show one event with its verdicts and integrity")
    add_config(sh)
    sh.add_argument("event_id", metavar="EVENT")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(handler=run_show)

    v = rsub.add_parser("verdict", help="confirm or reject a match")
    add_config(v)
    v.add_argument("event_id", metavar="EVENT")
    v.add_argument("decision", choices=["confirm", "reject"])
    v.add_argument("--note", required=True, help="why (kept with the evidence)")
    v.set_defaults(handler=run_verdict)

    x = rsub.add_parser("export", help="export a verifiable evidence package")
    add_config(x)
    x.add_argument("event_ids", nargs="+", metavar="EVENT")
    x.add_argument("--out", required=True, type=Path, metavar="DIR", help="new or empty folder")
    x.set_defaults(handler=run_export)


def _config(args: argparse.Namespace) -> Path | None:
    return args.config or getattr(args, "review_config", None)


def run_search(args: argparse.Namespace) -> int:
    from edge.api.json_views import event_row_json
    from edge.api.types import EventQuery
    from edge.review.client import open_client

    if not 1 <= args.limit <= MAX_RESULTS:
        raise QueryError(f"--limit must be 1..{MAX_RESULTS} (got {args.limit})")
    photo = None
    if args.face is not None:
        try:
            photo = args.face.read_bytes()
        except OSError as e:
            raise QueryError(f"--face {str(args.face)!r} cannot be read: {e.strerror}") from None
    query = EventQuery(
        plate=args.plate,
        subject_ids=(args.subject,) if args.subject else (),
        camera_id=args.camera,
        gateway_id=args.gateway,
        since_us=iso_to_us(args.since, "--since"),
        until_us=iso_to_us(args.until, "--until"),
        verdict=args.verdict,
        integrity=args.integrity,
        limit=min(args.limit, 500),
    )
    rows: list[EventRow] = []
    with open_client(_config(args)) as client:
        while len(rows) < args.limit:
            page, cursor = client.search(query, photo, args.min_similarity)
            rows += page
            if cursor is None or photo is not None:
                break
            query = dataclasses.replace(query, cursor=cursor)
    rows = rows[: args.limit]
    if args.json:
        print(json.dumps([event_row_json(r) for r in rows], ensure_ascii=False, indent=1))
    else:
        for r in rows:
            j = event_row_json(r)
            sim = "-" if j["similarity"] is None else f"{j['similarity']:.3f}"
            print(
                f"{j['time']}  {r.event_id}  {r.gateway_id}/{r.camera_id}  {r.kind:<6} "
                f"plate {j['plate'] or '-'}  subject {j['subject_id'] or '-'} "
                f"({r.label or '-'})  sim {sim}  {r.verdict}  integrity {r.integrity}"
            )
        print(f"{len(rows)} event(s)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from edge.api.json_views import event_detail_json, us_to_iso
    from edge.review.client import open_client

    with open_client(_config(args)) as client:
        d = client.get_event(args.event_id)
    if args.json:
        print(json.dumps(event_detail_json(d), ensure_ascii=False, indent=1))
        return 0
    e = d.event
    print(f"event      {e.event_id}  ({e.kind})")
    print(f"captured   {us_to_iso(e.captured_at_us)}  gateway {e.gateway_id}  camera {e.camera_id}")
    print(f"chain      sequence {e.sequence}  prev {e.prev_hash[:16]}  hash {d.event_hash[:16]}")
    print(
        f"integrity  {d.integrity}{'  (' + d.integrity_detail + ')' if d.integrity_detail else ''}"
    )
    print(f"signed by  key {d.gateway_key_fingerprint[:16]}")
    for f in e.faces:
        print(
            f"face       subject {f.subject_id} ({d.label or '-'})  similarity {f.similarity:.3f}"
        )
    for p in e.plates:
        print(f"plate      {p.text}  listed {p.listed_text} ({p.kind})  subject {p.subject_id}")
    for b in e.blobs:
        print(f"blob       {b.name}  {b.role}  {b.size} bytes  sha256 {b.sha256[:16]}")
    print(f"verdict    {d.verdict}")
    for v in d.verdicts:
        print(f"           {us_to_iso(v.at_us)}  {v.reviewer}: {v.verdict}  {v.note}")
    return 0


def run_verdict(args: argparse.Namespace) -> int:
    from edge.api.json_views import us_to_iso
    from edge.review.client import open_client

    verdict = "confirmed" if args.decision == "confirm" else "rejected"
    with open_client(_config(args)) as client:
        record = client.set_verdict(args.event_id, verdict, args.note)
    print(
        f"event {args.event_id}: {record.verdict} by {record.reviewer} at {us_to_iso(record.at_us)}"
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from edge.evidence.package import verify_package
    from edge.review.client import open_client

    with open_client(_config(args)) as client:
        files = client.export(list(args.event_ids), args.out)
    problems = verify_package(args.out)
    if problems:
        raise EvidenceError(f"exported package does not verify: {problems[0]}")
    print(f"exported {len(args.event_ids)} event(s), {len(files)} files to {args.out} (verified)")
    return 0
