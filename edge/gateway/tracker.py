"""Multi-object tracking of faces and plates across analysed frames (pure logic).

An IoU tracker with ByteTrack's two-stage association: confident detections are
matched first against every live track, then weak detections may only extend tracks
that already exist (they never start one), so a face that blurs for a frame keeps its
identity. Boxes are predicted forward with a damped constant-velocity model because
the sampler may analyse only a few frames per second.

A track keeps its top-N best shots by quality, votes its plate reads, and decides
when its current detection deserves a (re)embedding: only when it is a clearly
better shot than the last one embedded, and at most a few times per track.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from edge.gateway.config import TrackerConfig as TrackerConfig
from edge.vision.types import Box

P = TypeVar("P")
TrackState = Literal["tentative", "confirmed", "finished"]


@dataclass(frozen=True, slots=True)
class Detection(Generic[P]):
    """One detection handed to the tracker; ``payload`` is kept only for best shots."""

    box: Box
    score: float  # detector confidence
    quality: float  # best-shot ranking in [0, 1]
    payload: P
    text: str | None = None  # a plate read, None when there is no usable read
    text_confidence: float = 0.0


@dataclass(frozen=True, slots=True)
class BestShot(Generic[P]):
    frame_index: int
    quality: float
    box: Box
    payload: P


@dataclass(frozen=True, slots=True)
class PlateVote:
    text: str  # character-level weighted majority
    confidence: float  # agreement x mean read confidence, in [0, 1]
    best_read: str  # string-level weighted majority (a string actually read)
    reads: int


@dataclass(frozen=True, slots=True)
class Track(Generic[P]):
    track_id: int
    kind: str
    state: TrackState
    box: Box  # last observed box
    first_frame: int
    last_frame: int
    hits: int
    missed: int
    #: index into this update's detections, None when not seen in this frame
    detection_index: int | None
    best_shots: tuple[BestShot[P], ...]  # best first
    #: embed this frame's detection: it is a clearly better shot than the last embedded
    embed: bool
    vote: PlateVote | None


class PlateBallot:
    """Accumulates reads; memory is bounded by plate length, not by track length."""

    def __init__(self) -> None:
        self._by_length: dict[int, list[defaultdict[str, float]]] = {}
        self._length_weight: defaultdict[int, float] = defaultdict(float)
        self._length_reads: defaultdict[int, int] = defaultdict(int)
        self._strings: defaultdict[str, float] = defaultdict(float)
        self._reads = 0

    def add(self, text: str, confidence: float) -> None:
        if not text or confidence <= 0.0:
            return
        w = min(float(confidence), 1.0)
        n = len(text)
        slots = self._by_length.setdefault(n, [defaultdict(float) for _ in range(n)])
        for slot, ch in zip(slots, text, strict=True):
            slot[ch] += w
        self._length_weight[n] += w
        self._length_reads[n] += 1
        if len(self._strings) < 64 or text in self._strings:
            self._strings[text] += w
        self._reads += 1

    def result(self) -> PlateVote | None:
        if not self._reads:
            return None
        n = max(self._length_weight, key=lambda k: (self._length_weight[k], k))
        chars, agreement = [], []
        for slot in self._by_length[n]:
            ch = max(slot, key=lambda c: (slot[c], c))
            chars.append(ch)
            agreement.append(slot[ch] / sum(slot.values()))
        mean_conf = self._length_weight[n] / self._length_reads[n]
        best = max(self._strings, key=lambda s: (self._strings[s], s))
        return PlateVote(
            text="".join(chars),
            confidence=min(agreement) * mean_conf,
            best_read=best,
            reads=self._reads,
        )


@dataclass
class _Live(Generic[P]):
    track_id: int
    box: Box
    first_frame: int
    last_frame: int
    state: TrackState = "tentative"
    hits: int = 1
    missed: int = 0
    vx: float = 0.0
    vy: float = 0.0
    shots: list[BestShot[P]] = field(default_factory=list)
    ballot: PlateBallot = field(default_factory=PlateBallot)
    embedded_quality: float | None = None
    embeds: int = 0

    def predict(self, frame_index: int) -> Box:
        dt = frame_index - self.last_frame
        dx, dy = self.vx * dt, self.vy * dt
        b = self.box
        return Box(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy)


def _assign(
    tracks: Sequence[_Live[P]],
    predicted: dict[int, Box],
    dets: Sequence[tuple[int, Detection[P]]],
    threshold: float,
) -> list[tuple[_Live[P], int]]:
    """Greedy one-to-one assignment by descending IoU (ties: lower ids first)."""
    pairs = []
    for t in tracks:
        for di, d in dets:
            iou = predicted[t.track_id].iou(d.box)
            if iou >= threshold:
                pairs.append((-iou, t.track_id, di, t))
    pairs.sort(key=lambda p: (p[0], p[1], p[2]))
    used_t: set[int] = set()
    used_d: set[int] = set()
    out = []
    for _, tid, di, t in pairs:
        if tid not in used_t and di not in used_d:
            used_t.add(tid)
            used_d.add(di)
            out.append((t, di))
    return out


class IouTracker(Generic[P]):
    """Tracks one kind of object ("face" or "plate"); one instance per camera and kind."""

    def __init__(self, kind: str, config: TrackerConfig) -> None:
        self._kind = kind
        self._cfg = config
        self._live: list[_Live[P]] = []
        self._next_id = 1
        self.dropped_new_tracks = 0

    @property
    def live_count(self) -> int:
        return len(self._live)

    def update(self, detections: Sequence[Detection[P]], frame_index: int) -> list[Track[P]]:
        """Associate this frame's detections; returns confirmed live tracks plus the
        tracks that finished in this update (state "finished", reported once)."""
        seen, embeds = self._associate(detections, frame_index)
        finished = self._retire(seen)
        alive = [
            self._snapshot(t, seen.get(t.track_id), embed=t.track_id in embeds)
            for t in self._live
            if t.state == "confirmed"
        ]
        return alive + finished

    def _associate(
        self, detections: Sequence[Detection[P]], frame_index: int
    ) -> tuple[dict[int, int], set[int]]:
        """Two-stage matching; returns {track_id: detection index} and tracks to embed."""
        cfg = self._cfg
        high = [(i, d) for i, d in enumerate(detections) if d.score >= cfg.high_score]
        low = [
            (i, d) for i, d in enumerate(detections) if cfg.low_score <= d.score < cfg.high_score
        ]
        predicted = {t.track_id: t.predict(frame_index) for t in self._live}
        first = _assign(self._live, predicted, high, cfg.iou_match)
        matched = {t.track_id for t, _ in first}
        rest = [t for t in self._live if t.track_id not in matched and t.state == "confirmed"]
        second = _assign(rest, predicted, low, cfg.iou_match_low)

        seen: dict[int, int] = {}
        embeds: set[int] = set()
        for t, di in (*first, *second):
            seen[t.track_id] = di
            if self._hit(t, detections[di], frame_index):
                embeds.add(t.track_id)
        used = {di for _, di in first}
        for di, d in high:
            new = None if di in used else self._start(d, frame_index)
            if new is not None:
                seen[new.track_id] = di
                if self._consider_embedding(new, d):
                    embeds.add(new.track_id)
        return seen, embeds

    def _retire(self, seen: dict[int, int]) -> list[Track[P]]:
        finished: list[Track[P]] = []
        keep: list[_Live[P]] = []
        for t in self._live:
            if t.track_id not in seen:
                t.missed += 1
                if t.state == "tentative":
                    continue  # unconfirmed and lost: noise
                if t.missed > self._cfg.max_missed:
                    t.state = "finished"
                    finished.append(self._snapshot(t, None, embed=False))
                    continue
            keep.append(t)
        self._live = keep
        return finished

    def flush(self) -> list[Track[P]]:
        """Finish every confirmed track (end of stream, shutdown)."""
        out = []
        for t in self._live:
            if t.state == "confirmed":
                t.state = "finished"
                out.append(self._snapshot(t, None, embed=False))
        self._live = []
        return out

    def _start(self, d: Detection[P], frame_index: int) -> _Live[P] | None:
        if len(self._live) >= self._cfg.max_tracks:
            self.dropped_new_tracks += 1
            return None
        t: _Live[P] = _Live(self._next_id, d.box, frame_index, frame_index)
        self._next_id += 1
        if self._cfg.min_hits <= 1:
            t.state = "confirmed"
        self._record(t, d, frame_index)
        self._live.append(t)
        return t

    def _hit(self, t: _Live[P], d: Detection[P], frame_index: int) -> bool:
        dt = max(frame_index - t.last_frame, 1)
        (ox, oy), (nx, ny) = t.box.center, d.box.center
        vx, vy = (nx - ox) / dt, (ny - oy) / dt
        # damped velocity: one jittery box must not fling the prediction away
        t.vx, t.vy = (vx, vy) if t.hits == 1 else (0.5 * t.vx + 0.5 * vx, 0.5 * t.vy + 0.5 * vy)
        t.box, t.last_frame = d.box, frame_index
        t.hits += 1
        t.missed = 0
        if t.state == "tentative" and t.hits >= self._cfg.min_hits:
            t.state = "confirmed"
        self._record(t, d, frame_index)
        return self._consider_embedding(t, d)

    def _record(self, t: _Live[P], d: Detection[P], frame_index: int) -> None:
        if d.text is not None:
            t.ballot.add(d.text, d.text_confidence)
        shots, n = t.shots, self._cfg.best_shots
        if len(shots) < n or d.quality > shots[-1].quality:
            shots.append(BestShot(frame_index, d.quality, d.box, d.payload))
            shots.sort(key=lambda s: (-s.quality, s.frame_index))
            del shots[n:]

    def _consider_embedding(self, t: _Live[P], d: Detection[P]) -> bool:
        cfg = self._cfg
        if t.state != "confirmed" or t.embeds >= cfg.max_embeds:
            return False
        if d.quality < cfg.embed_min_quality:
            return False
        if t.embedded_quality is not None and d.quality < t.embedded_quality + cfg.embed_margin:
            return False
        t.embedded_quality = d.quality
        t.embeds += 1
        return True

    def _snapshot(self, t: _Live[P], det_index: int | None, *, embed: bool) -> Track[P]:
        return Track(
            track_id=t.track_id,
            kind=self._kind,
            state=t.state,
            box=t.box,
            first_frame=t.first_frame,
            last_frame=t.last_frame,
            hits=t.hits,
            missed=t.missed,
            detection_index=det_index,
            best_shots=tuple(t.shots),
            embed=embed,
            vote=t.ballot.result(),
        )
