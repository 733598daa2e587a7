"""What the central store keeps, and the small protocols that keep it.

The store's metadata lives behind one ``Repository`` made of capability protocols
(events, gateways, watchlist, users, audit). SQLite and PostgreSQL implement them with
the same SQL (edge/store/sql_*.py) over a thin dialect adapter, and one test suite runs
against both. Values crossing the boundary are frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from edge.api.types import EventQuery as EventQuery
from edge.api.types import Role as Role
from edge.api.types import Verdict as Verdict
from edge.evidence.model import MatchEvent

#: How an event's hash chain link looked on arrival; anything but "ok" is shown to
#: reviewers and recorded as a problem on the gateway.
Integrity = Literal["ok", "gap", "fork", "replay", "bad_signature", "bad_blob"]
INTEGRITY_STATES: tuple[str, ...] = ("ok", "gap", "fork", "replay", "bad_signature", "bad_blob")
#: search filter on verdicts: "pending" = no verdict yet
VerdictFilter = Literal["pending", "confirmed", "rejected"]
VERDICT_FILTERS: tuple[str, ...] = ("pending", "confirmed", "rejected")
#: "conflict": the id exists with different content (never overwritten)
InsertStatus = Literal["inserted", "duplicate", "conflict"]


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """One attachment of a stored event (content addressed by sha256)."""

    name: str
    role: str
    media_type: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last accepted link of a gateway's hash chain (sequence 0 = nothing yet)."""

    last_sequence: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """What the chain check decided for one arriving event."""

    integrity: Integrity
    note: str  # empty when ok; otherwise says what is wrong, for reviewers
    advance: bool  # whether the gateway's chain head moves to this event


#: stored event hash of this gateway at a sequence (None when nothing is stored there)
HashAt = Callable[[int], str | None]
#: called inside the insert transaction with the gateway's current head
ChainClassifier = Callable[[ChainHead, HashAt], LinkDecision]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event that passed signature and blob checks, ready to persist."""

    event: MatchEvent
    canonical: bytes
    event_hash: str
    signature: bytes
    received_at_us: int
    #: (sha256, bytes) of the event's blobs, stored in the transaction of its rows
    contents: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class InsertOutcome:
    status: InsertStatus
    integrity: str
    note: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event: MatchEvent
    event_hash: str
    signature: bytes
    integrity: str
    integrity_note: str
    received_at_us: int
    verdict: str | None = None
    verdict_note: str | None = None
    verdict_by: str | None = None
    verdict_at_us: int | None = None
    case_open: bool = False
    #: watchlist label of the first matched subject (None if unknown/removed)
    label: str | None = None

    @property
    def subject_ids(self) -> tuple[str, ...]:
        ids = [f.subject_id for f in self.event.faces] + [p.subject_id for p in self.event.plates]
        return tuple(dict.fromkeys(ids))

    @property
    def plate_texts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.text for p in self.event.plates))

    @property
    def best_similarity(self) -> float | None:
        sims = [f.similarity for f in self.event.faces]
        return max(sims) if sims else None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[StoredEvent, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    gateway_id: str
    public_key: bytes  # raw 32-byte Ed25519 public key
    registered_at_us: int
    last_heartbeat_us: int | None
    health_json: str  # last heartbeat's health, JSON object text
    head: ChainHead
    problems: tuple[str, ...]
    face_model_id: str | None
    cert_fingerprint: str | None = None
    revoked: bool = False
    last_seen_us: int | None = None  # last delivery or heartbeat


@dataclass(frozen=True, slots=True)
class FaceTemplate:
    template_id: str
    subject_id: str
    model_id: str
    vector: bytes  # float32 little-endian, L2-normalised


@dataclass(frozen=True, slots=True)
class Subject:
    subject_id: str
    label: str
    plates: tuple[str, ...] = ()
    templates: tuple[FaceTemplate, ...] = ()
    created_at_us: int = 0


@dataclass(frozen=True, slots=True)
class WatchlistChange:
    version: int
    op: Literal["upsert", "remove"]
    subject_id: str
    subject: Subject | None  # the entry as it is now, for "upsert"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    token_sha256: str
    created_at_us: int = 0
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class VerdictRecord:
    verdict: Verdict
    note: str
    reviewer: str
    at_us: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at_us: int
    actor: str
    action: str
    detail_json: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class EventCounts:
    total: int
    by_integrity: dict[str, int] = field(default_factory=dict)
    by_verdict: dict[str, int] = field(default_factory=dict)


class EventRepository(Protocol):
    def insert_event(
        self, new: NewEvent, blobs: Sequence[StoredBlob], classify: ChainClassifier
    ) -> InsertOutcome:
        """Insert atomically with the gateway's chain update; "duplicate" if the id exists."""
        ...

    def insert_events(
        self,
        items: Sequence[tuple[NewEvent, Sequence[StoredBlob], ChainClassifier]],
    ) -> list[InsertOutcome]:
        """``insert_event`` for several events in one durable transaction, in order;
        an inserted event's ``contents`` (its blob bytes) are in the same transaction."""
        ...

    def get_event(self, event_id: str) -> StoredEvent | None: ...

    def event_blobs(self, event_id: str) -> tuple[StoredBlob, ...]: ...

    def search(self, query: EventQuery) -> EventPage: ...

    def set_verdict(
        self, event_id: str, verdict: Verdict, note: str, reviewer: str, at_us: int
    ) -> StoredEvent: ...

    def verdict_history(self, event_id: str) -> tuple[VerdictRecord, ...]: ...

    def set_case_open(self, event_id: str, case_open: bool) -> None: ...

    def counts(self) -> EventCounts: ...

    def expired_event_ids(self, captured_before_us: int, limit: int) -> list[str]:
        """Events captured before the cut, except confirmed ones whose case is open."""
        ...

    def delete_events(self, event_ids: Sequence[str]) -> list[str]:
        """Delete events and the blobs (rows and bytes) no other event uses, in one
        transaction; returns those blobs' sha256s."""
        ...

    def events_of_chain(self, gateway_id: str, from_seq: int, to_seq: int) -> list[StoredEvent]:
        """Stored events of one gateway with from_seq <= sequence <= to_seq, by sequence."""
        ...


class GatewayRepository(Protocol):
    def register_gateway(
        self, gateway_id: str, public_key: bytes, cert_fingerprint: str | None, at_us: int
    ) -> GatewayInfo:
        """Register or re-key a gateway (its chain state is kept)."""
        ...

    def revoke_gateway(self, gateway_id: str) -> GatewayInfo | None: ...

    def get_gateway(self, gateway_id: str) -> GatewayInfo | None: ...

    def list_gateways(self) -> list[GatewayInfo]: ...

    def record_heartbeat(
        self, gateway_id: str, at_us: int, health_json: str, face_model_id: str | None
    ) -> None: ...

    def add_problem(self, gateway_id: str, problem: str) -> None: ...


class WatchlistRepository(Protocol):
    def upsert_subject(self, subject: Subject, actor: str, at_us: int) -> int:
        """Insert or replace an entry; returns the new watchlist version."""
        ...

    def remove_subject(self, subject_id: str, actor: str, at_us: int) -> int | None:
        """Remove an entry; returns the new version, None if it did not exist."""
        ...

    def get_subject(self, subject_id: str) -> Subject | None: ...

    def list_subjects(self) -> list[Subject]: ...

    def version(self) -> int: ...

    def changes_since(self, version: int, limit: int = 1000) -> list[WatchlistChange]:
        """Per subject touched after ``version``: its state now, oldest change first."""
        ...

    def all_templates(self, model_id: str) -> list[FaceTemplate]: ...

    def template_models(self) -> dict[str, int]:
        """Template count per embedder model id."""
        ...


class UserRepository(Protocol):
    def put_user(self, user: User) -> None:
        """Insert or replace a user (same name)."""
        ...

    def revoke_user(self, name: str) -> User | None: ...

    def user_by_token_hash(self, token_sha256: str) -> User | None: ...

    def list_users(self) -> list[User]: ...


@dataclass(frozen=True, slots=True)
class WebSession:
    """A reviewer page login, stored under the sha256 of its cookie value."""

    sid_sha256: str
    user: str
    token_sha256: str  # the user's token hash at login (never the token)
    csrf: str
    created_us: int
    last_us: int


class WebSessionRepository(Protocol):
    """Sessions of the reviewer page, shared by every store process on the database."""

    def put_session(self, session: WebSession) -> None: ...

    def get_session(self, sid_sha256: str) -> WebSession | None: ...

    def touch_session(self, sid_sha256: str, last_us: int) -> None: ...

    def delete_session(self, sid_sha256: str) -> None: ...

    def delete_user_sessions(self, user: str) -> int: ...

    def delete_expired_sessions(self, idle_before_us: int, created_before_us: int) -> int:
        """Sessions unused since ``idle_before_us`` or made before ``created_before_us``."""
        ...

    def remember_events(self, sid_sha256: str, event_ids: Sequence[str], at_us: int) -> None:
        """Events an audited search of the session returned (newest ``MAX_SEEN`` kept)."""
        ...

    def has_seen_event(self, sid_sha256: str, event_id: str) -> bool: ...


class AuditRepository(Protocol):
    def append(self, at_us: int, actor: str, action: str, detail_json: str) -> AuditEntry: ...

    def entries(self, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]: ...

    def entries_about(self, event_ids: Collection[str], limit: int = 10_000) -> list[AuditEntry]:
        """The first ``limit`` entries naming any of ``event_ids``, by seq (indexed)."""
        ...

    def head(self) -> tuple[int, str]:
        """(last seq, last entry hash); (0, genesis) when empty."""
        ...


class Repository(Protocol):
    """The store's metadata, opened by open() and closed by close()."""

    @property
    def events(self) -> EventRepository: ...

    @property
    def gateways(self) -> GatewayRepository: ...

    @property
    def watchlist(self) -> WatchlistRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def sessions(self) -> WebSessionRepository: ...

    @property
    def backend(self) -> str: ...

    def open(self) -> None: ...

    def close(self) -> None: ...

    def ping(self) -> bool: ...
