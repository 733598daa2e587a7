"""Watchlist sync deltas: edge.watchlist.delta.SubjectChange <-> protobuf.

The store sends each change as one subject's complete entry; the gateway applies
them in version order (edge/watchlist/delta.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.errors import WatchlistError
from edge.watchlist.delta import SubjectChange
from edge.watchlist.types import Subject, empty_matrix
from edge.wire.mapping import face_matrix_from_proto, face_matrix_to_proto, face_model_status
from edge.wire.v1 import watchlist_pb2

_OPS = {
    watchlist_pb2.WatchlistChange.OP_UPSERT: "upsert",
    watchlist_pb2.WatchlistChange.OP_REMOVE: "remove",
}
_OP_NUMBERS = {name: number for number, name in _OPS.items()}


def change_to_proto(c: SubjectChange, send_faces: bool) -> watchlist_pb2.WatchlistChange:
    """``send_faces`` False withholds the templates (the gateway runs another model)."""
    pb = watchlist_pb2.WatchlistChange(version=c.version, op=_OP_NUMBERS[c.op])
    sid = c.subject.subject_id
    pb.subject.subject_id = sid
    pb.subject.label = c.subject.label
    pb.plates.extend(watchlist_pb2.PlateEntry(subject_id=sid, text=t) for t in c.plates)
    if send_faces and c.faces.shape[0]:
        pb.faces.CopyFrom(face_matrix_to_proto([sid] * c.faces.shape[0], c.faces))
    return pb


def deltas_to_proto(
    version: int,
    changes: Sequence[SubjectChange],
    snapshot_required: bool,
    store_model_id: str,
    templates: int,
    gateway_model_id: str | None,
) -> watchlist_pb2.GetDeltasReply:
    """One page of changes for a gateway running ``gateway_model_id``; face templates
    only when they were built with that model (``templates``: the store's count)."""
    status, message = face_model_status(store_model_id, templates, gateway_model_id)
    send = status == watchlist_pb2.FACE_MODEL_STATUS_MATCH
    return watchlist_pb2.GetDeltasReply(
        version=version,
        face_model_id=store_model_id if templates else "",
        face_model_status=status,  # type: ignore[arg-type]
        message=message,
        snapshot_required=snapshot_required,
        changes=[change_to_proto(c, send) for c in changes],
    )


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
