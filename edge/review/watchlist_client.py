"""The central store's watchlist behind the `edgewatch watchlist ... --config admin.yaml` CLI.

Implements the same operations as the local watchlist file (edge/cli/watchlist.py's
``WatchlistAdmin``) over the store's WatchlistAdmin gRPC service. One difference is on
purpose: faces are embedded by the store with its configured model pack, so the
client sends photos (``add_face_photos``), and every template in the central
watchlist comes from one model the store knows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from edge.errors import QueryError, WatchlistError
from edge.review.client import StoreClient, open_client
from edge.watchlist.types import SubjectSummary
from edge.wire import admin_mapping as am
from edge.wire.v1 import watchlist_pb2

if TYPE_CHECKING:
    from edge.api.types import AddFaceOutcome


T = TypeVar("T")


class StoreWatchlistAdmin:
    def __init__(self, client: StoreClient) -> None:
        self._client = client

    @staticmethod
    def from_config(path: Path) -> StoreWatchlistAdmin:
        return StoreWatchlistAdmin(open_client(path))

    def close(self) -> None:
        self._client.close()

    def _call(self, method: Callable[..., T], request: Any) -> T:
        try:
            return self._client.call(method, request)
        except QueryError as e:  # INVALID_ARGUMENT from the watchlist service
            raise WatchlistError(str(e)) from None

    def face_model_id(self) -> str | None:
        """None: the store embeds photos itself, with its own configured model."""
        return None

    def add_face_subject(self, label: str, templates: Sequence[object]) -> str:
        # any templates are refused, so their type (vision's FaceEmbedding) is not needed
        raise WatchlistError(
            "the central store embeds enrolment photos itself; send photos (add_face_photos)"
        )

    def add_face_photos(
        self, label: str, photos: Sequence[Path], largest: bool, subject_id: str | None = None
    ) -> AddFaceOutcome:
        data = []
        for p in photos:
            try:
                data.append(p.read_bytes())
            except OSError as e:
                raise WatchlistError(f"{p}: cannot be read: {e.strerror}") from None
        stub = self._client.watchlist_stub()
        reply = self._call(stub.AddFace, am.photos_request(subject_id, label, data, largest))
        return am.add_face_from_proto(reply)

    def add_plate_subject(self, label: str, plates: Sequence[str]) -> str:
        stub = self._client.watchlist_stub()
        subject_id = ""
        for text in plates:
            reply = self._call(
                stub.AddPlate,
                watchlist_pb2.AddPlateRequest(subject_id=subject_id, label=label, text=text),
            )
            subject_id = reply.subject_id
        return subject_id

    def list_subjects(self) -> list[SubjectSummary]:
        stub = self._client.watchlist_stub()
        out: list[SubjectSummary] = []
        token = ""
        while True:
            reply = self._call(
                stub.List, watchlist_pb2.ListWatchlistRequest(page_size=1000, page_token=token)
            )
            for pb in reply.entries:
                row = am.entry_from_proto(pb)
                out.append(
                    SubjectSummary(row.subject_id, row.label, row.face_templates, row.plates)
                )
            token = reply.next_page_token
            if not token:
                return out

    def remove_subject(self, subject_id: str) -> bool:
        stub = self._client.watchlist_stub()
        reply = self._call(stub.Remove, watchlist_pb2.RemoveRequest(subject_id=subject_id))
        return bool(reply.removed)
