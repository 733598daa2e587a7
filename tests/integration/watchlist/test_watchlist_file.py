"""The local watchlist file on a real SQLite database in tmp_path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from edge.config import MatchConfig
from edge.errors import ModelMismatchError, WatchlistError
from edge.vision.types import FaceEmbedding
from edge.watchlist.matcher import WatchlistMatcher
from edge.watchlist.store import WatchlistFile
from edge.watchlist.types import Subject

MODEL = "mobilefacenet_128"


def _emb(seed: int, dim: int = 128, model: str = MODEL) -> FaceEmbedding:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return FaceEmbedding(vector=v / np.linalg.norm(v), model_id=model)


def test_enroll_snapshot_and_match_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "gw" / "watchlist.db"
    with WatchlistFile(path) as wl:
        assert wl.version() == 0 and wl.face_model_id() is None
        a = wl.add_subject("vendor A")
        b = wl.add_subject("vendor B")
        wl.add_face_template(a, _emb(1))
        wl.add_face_template(a, _emb(2))
        wl.add_face_template(b, _emb(3))
        wl.add_plate(b, "粤B12345")
        assert wl.version() == 6
    # a gateway restart: everything is still there, WAL mode is persistent
    with WatchlistFile(path) as wl:
        snap = wl.snapshot()
        assert wl.face_model_id() == MODEL
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert snap.version == 6
    assert snap.face_model_id == MODEL
    assert snap.face_matrix.shape == (3, 128) and snap.face_matrix.dtype == np.float32
    assert snap.face_subject_ids == (a, a, b)
    assert set(snap.subjects) == {Subject(a, "vendor A"), Subject(b, "vendor B")}
    assert snap.plates == ((b, "粤B12345"),)
    np.testing.assert_allclose(np.linalg.norm(snap.face_matrix, axis=1), 1.0, rtol=1e-6)

    matcher = WatchlistMatcher(snap, MatchConfig(face_threshold=0.9))
    hit = matcher.match_face(_emb(2))
    assert hit is not None and hit.subject_id == a and hit.similarity == pytest.approx(1.0)
    assert matcher.match_face(_emb(99)) is None
    plate = matcher.match_plate("粤B1234S")
    assert plate is not None and plate.subject_id == b and plate.kind == "fuzzy"


def test_refuses_templates_of_another_model(tmp_path: Path) -> None:
    with WatchlistFile(tmp_path / "w.db") as wl:
        sid = wl.add_subject("x")
        wl.add_face_template(sid, _emb(1))
        before = wl.version()
        with pytest.raises(ModelMismatchError) as err:
            wl.add_face_template(sid, _emb(2, dim=512, model="buffalo_l_w600k_r50"))
        assert MODEL in str(err.value) and "buffalo_l_w600k_r50" in str(err.value)
        with pytest.raises(ModelMismatchError, match="512 dimensions"):
            wl.add_face_template(sid, _emb(2, dim=512))
        assert wl.version() == before  # refused changes do not bump the version
        assert wl.snapshot().face_matrix.shape == (1, 128)


def test_remove_cascades_and_counts_versions(tmp_path: Path) -> None:
    with WatchlistFile(tmp_path / "w.db") as wl:
        keep = wl.add_subject("keep")
        gone = wl.add_subject("gone")
        wl.add_face_template(gone, _emb(5))
        wl.add_plate(gone, "京A12345")
        wl.add_plate(keep, "京A54321")
        v = wl.version()
        wl.add_plate(keep, "京A54321")  # already there: no change, no new version
        assert wl.version() == v
        assert wl.remove(gone) is True
        assert wl.version() == v + 1
        assert wl.remove(gone) is False
        assert wl.version() == v + 1
        snap = wl.snapshot()
        assert [s.subject_id for s in snap.subjects] == [keep]
        assert snap.face_subject_ids == () and snap.face_model_id is None
        assert snap.plates == ((keep, "京A54321"),)


def test_rejects_bad_input_with_clear_errors(tmp_path: Path) -> None:
    with WatchlistFile(tmp_path / "w.db") as wl:
        with pytest.raises(WatchlistError, match="unknown subject"):
            wl.add_plate("nope", "粤B12345")
        with pytest.raises(WatchlistError, match="unknown subject"):
            wl.add_face_template("nope", _emb(1))
        with pytest.raises(WatchlistError, match="label"):
            wl.add_subject("   ")
        sid = wl.add_subject("x", subject_id="central-id-1")
        assert sid == "central-id-1"
        with pytest.raises(WatchlistError, match="already exists"):
            wl.add_subject("y", subject_id="central-id-1")
        with pytest.raises(WatchlistError, match="normalise"):
            wl.add_plate(sid, " 粤B12345")
        with pytest.raises(WatchlistError, match="all-zero"):
            wl.add_face_template(sid, FaceEmbedding(np.zeros(128, np.float32), MODEL))
    with pytest.raises(WatchlistError, match="not open"):
        WatchlistFile(tmp_path / "w.db").snapshot()


def test_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WatchlistError, match="cannot be opened as SQLite"):
        WatchlistFile(bad).open()


def test_install_snapshot_replaces_content_and_keeps_version(tmp_path: Path) -> None:
    with WatchlistFile(tmp_path / "src.db") as src:
        a = src.add_subject("a")
        src.add_face_template(a, _emb(1))
        src.add_plate(a, "粤B12345")
        snap = src.snapshot()
    with WatchlistFile(tmp_path / "gw.db") as gw:
        old = gw.add_subject("old")
        gw.add_plate(old, "京A00000")
        gw.install_snapshot(snap)
        got = gw.snapshot()
    assert got.version == snap.version
    assert got.subjects == snap.subjects and got.plates == snap.plates
    np.testing.assert_array_equal(got.face_matrix, snap.face_matrix)
