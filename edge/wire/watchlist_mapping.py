"""Watchlist sync deltas: protobuf -> domain (the gateway side)."""

from __future__ import annotations

from edge.errors import WatchlistError
from edge.watchlist.delta import SubjectChange
from edge.watchlist.types import Subject, empty_matrix
from edge.wire.mapping import face_matrix_from_proto
from edge.wire.v1 import watchlist_pb2

_OPS = {
    watchlist_pb2.WatchlistChange.OP_UPSERT: "upsert",
    watchlist_pb2.WatchlistChange.OP_REMOVE: "remove",
}


def changes_from_proto(reply: watchlist_pb2.GetDeltasReply) -> tuple[SubjectChange, ...]:
    out = []
    for c in reply.changes:
        op = _OPS.get(c.op)
        if op is None:
            raise WatchlistError(f"watchlist change v{c.version} has unknown op {c.op}")
        sid = c.subject.subject_id
        if c.HasField("faces"):
            ids, matrix = face_matrix_from_proto(c.faces)
            if any(i != sid for i in ids):
                raise WatchlistError(f"watchlist change v{c.version} mixes subjects' templates")
        else:
            matrix = empty_matrix()
        if any(p.subject_id != sid for p in c.plates):
            raise WatchlistError(f"watchlist change v{c.version} mixes subjects' plates")
        out.append(
            SubjectChange(
                version=c.version,
                op="upsert" if op == "upsert" else "remove",
                subject=Subject(sid, c.subject.label),
                faces=matrix,
                plates=tuple(p.text for p in c.plates),
            )
        )
    return tuple(out)
