"""Face search by photo, end to end, as a reviewer runs it (used by bench/ingest.py).

A real SQLite store with ``events`` synthetic events (subjects s-0 ... s-19999) and a
watchlist of ``templates`` face templates (5 per subject): the subjects s-0 ... s-18
are enrolled with real embeddings of eval identities (their first photo), every other
template is a random unit vector. Each query is a *different* photo of an enrolled
identity, sent through ``ReviewService.search`` with the photo: decode, detect and
embed it with the real model pack, search the template gallery, fetch the matched
subjects' events, append the audit entry. The gallery-only search (what an index
alone costs) is timed beside it.
"""

from __future__ import annotations

import csv
import random
import secrets
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import VisionConfig
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.faces import CentralFaces, FaceSearchIndex
from edge.store.repository import EventQuery, FaceTemplate, Subject
from edge.store.review_service import ReviewService
from edge.store.sqlite_repo import sqlite_repository

PER_SUBJECT = 5


def _identities(eval_dir: Path) -> list[list[Path]]:
    """Photos of each eval identity with at least two, in manifest order."""
    photos: dict[str, list[Path]] = defaultdict(list)
    with (eval_dir / "faces_manifest.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["role"] == "enroll_or_probe":
                photos[row["identity"]].append(eval_dir / row["file"])
    return [p for p in photos.values() if len(p) >= 2]


def _vector(v: np.ndarray) -> bytes:
    return bytes((v / np.linalg.norm(v)).astype("<f4").tobytes())


def _enrol(
    repo: Any, faces: CentralFaces, people: list[list[Path]], templates: int
) -> list[tuple[str, Path]]:
    """The watchlist; returns (subject id, probe photo) pairs for the queries."""
    rng = np.random.default_rng(7)
    probes: list[tuple[str, Path]] = []
    model = faces.model_id
    for s in range(templates // PER_SUBJECT):
        sid = f"s-{s}"
        vectors = [_vector(rng.standard_normal(128)) for _ in range(PER_SUBJECT)]
        if s < len(people):
            got = faces.embed_photo(people[s][0].read_bytes(), people[s][0].name, largest=True)
            assert got.embedding is not None, f"{people[s][0]}: {got.reason}"
            vectors[0] = _vector(got.embedding.vector)
            probes += [(sid, p) for p in people[s][1:]]
        subject = Subject(
            sid,
            f"subject {s}",
            templates=tuple(FaceTemplate(secrets.token_hex(8), sid, model, v) for v in vectors),
        )
        repo.watchlist.upsert_subject(subject, "bench", 0)
    return probes


def bench_photo_search(
    templates: int,
    events: int,
    work: Path,
    models_dir: Path,
    eval_dir: Path,
    populate: Any,
    reps: int = 200,
) -> dict[str, Any]:
    repo = sqlite_repository(work / f"photo-{templates}.db")
    repo.open()
    blobs = repo.blobs
    try:
        t0 = time.perf_counter()
        populate(repo, events, random.Random(5))
        vision = VisionConfig()
        faces = CentralFaces(vision, models_dir)
        probes = _enrol(repo, faces, _identities(eval_dir), templates)
        load_s = time.perf_counter() - t0
        index = FaceSearchIndex(repo.watchlist, faces.model_id)
        auditor = Auditor(repo.audit, lambda: time.time_ns() // 1000)
        threshold = vision.match.face_threshold
        review = ReviewService(
            repo, blobs, faces, index, auditor, lambda: time.time_ns() // 1000, threshold
        )
        who = Principal("person", "bench", "reviewer")
        photos = [(sid, p.read_bytes()) for sid, p in probes]
        review.search(who, EventQuery(limit=50), photos[0][1], 0.0)  # load model, build index
        total, gallery, found, hits = [], [], 0, 0
        for i in range(reps):
            sid, data = photos[i % len(photos)]
            a = time.perf_counter()
            result = review.search(who, EventQuery(limit=50), data, 0.0)
            total.append((time.perf_counter() - a) * 1000)
            hits += len(result.hits)
            emb = faces.embed_photo(data, "probe", largest=True).embedding
            assert emb is not None
            b = time.perf_counter()
            matches = index.search(emb, 50, threshold)
            gallery.append((time.perf_counter() - b) * 1000)
            found += any(m.subject_id == sid for m in matches)
    finally:
        repo.close()

    def pct(values: list[float], q: float) -> float:
        return round(sorted(values)[min(len(values) - 1, int(q * len(values)))], 2)

    return {
        "templates": templates,
        "events": events,
        "queries": reps,
        "probe_photos": len(photos),
        "load_s": round(load_s, 1),
        "photo_search_p50_ms": pct(total, 0.5),
        "photo_search_p99_ms": pct(total, 0.99),
        "gallery_only_p50_ms": pct(gallery, 0.5),
        "gallery_only_p99_ms": pct(gallery, 0.99),
        "own_subject_matched": round(found / reps, 3),  # at the shipped face threshold
        "events_per_query": round(hits / reps, 1),
    }
