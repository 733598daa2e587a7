"""Watchlist CLI end to end: enrol from real photos and plates, then `analyze` matches.

Real model pack, real SQLite watchlist file, the CLI in a subprocess; photos come from
the evaluation set and are transformed in tmp only.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from edge.vision.plate_grammar import validate_plate
from edge.vision.types import Box, FaceEmbedding
from edge.watchlist.plate_index import CONFUSABLE_GROUPS
from edge.watchlist.store import WatchlistFile

pytestmark = [pytest.mark.models, pytest.mark.eval]

PERSON = "faces/deepface/angelina_jolie"
ENROL = ("img1.jpg", "img2.jpg")
PROBE = "img4.jpg"
OTHER = "faces/deepface/deepface_person_02/img3.jpg"
GROUP = "faces/multi/deepface_couple.jpg"
EXACT_TOLL, FUZZY_TOLL = "toll_001.jpg", "toll_004.jpg"


def _truth(eval_dir: Path, name: str) -> str:
    with (eval_dir / "plates_manifest.csv").open(encoding="utf-8") as f:
        return next(r["plate_text"] for r in csv.DictReader(f) if Path(r["file"]).name == name)


def confusable_variant(text: str) -> str:
    """The same plate with one serial character swapped for an OCR-confusable one."""
    partner = {c: g[(g.index(c) + 1) % len(g)] for g in CONFUSABLE_GROUPS for c in g}
    for i in range(len(text) - 1, 1, -1):
        if text[i] in partner:
            variant = text[:i] + partner[text[i]] + text[i + 1 :]
            if validate_plate(variant).valid:
                return variant
    raise AssertionError(f"no valid confusable variant of {text}")


def _box(row: dict[str, Any]) -> Box:
    return Box(*row["bbox"])


@pytest.fixture(scope="module")
def enrolled(
    tmp_path_factory: pytest.TempPathFactory,
    eval_dir: Path,
    models_dir: Path,
    edge_cli: Callable[..., Any],
) -> dict[str, Any]:
    """One watchlist with a face subject and two plate subjects, then one analyze run."""
    tmp = tmp_path_factory.mktemp("wl")
    wl = tmp / "sub" / "watchlist.db"  # folder and file created on first enrolment
    env = {"EDGE_MODELS_DIR": str(models_dir)}
    photos = [str(eval_dir / PERSON / n) for n in ENROL]
    face = edge_cli("watchlist", "add-face", "--watchlist", str(wl), "--label", "摊贩 甲", *photos)
    assert face.code == 0, face.err
    exact_text = _truth(eval_dir, EXACT_TOLL)
    fuzzy_text = confusable_variant(_truth(eval_dir, FUZZY_TOLL))
    exact = edge_cli("watchlist", "add-plate", "--watchlist", str(wl), "--label", "车A", exact_text)
    fuzzy = edge_cli("watchlist", "add-plate", "--watchlist", str(wl), "--label", "车B", fuzzy_text)
    assert exact.code == 0 and fuzzy.code == 0, exact.err + fuzzy.err

    rotated = tmp / "rotated_probe.jpg"
    exif = PILImage.Exif()
    exif[0x0112] = 8  # stored rotated 90 degrees clockwise; viewers turn it back
    PILImage.open(eval_dir / PERSON / PROBE).transpose(PILImage.Transpose.ROTATE_270).save(
        rotated, quality=95, exif=exif.tobytes()
    )
    inputs = {
        "probe": eval_dir / PERSON / PROBE,
        "rotated": rotated,
        "other": eval_dir / OTHER,
        "exact": eval_dir / "plates/toll_hyperlpr" / EXACT_TOLL,
        "fuzzy": eval_dir / "plates/toll_hyperlpr" / FUZZY_TOLL,
    }
    run = edge_cli(
        "analyze", "--json", "--watchlist", str(wl), *map(str, inputs.values()), env_extra=env
    )
    assert run.code == 0, run.err
    rows = {json.loads(ln)["path"]: json.loads(ln) for ln in run.out.splitlines()}
    return {
        "wl": wl,
        "env": env,
        "face_id": face.out.strip(),
        "exact_id": exact.out.strip(),
        "fuzzy_id": fuzzy.out.strip(),
        "fuzzy_text": fuzzy_text,
        "rows": {k: rows[str(p)] for k, p in inputs.items()},
    }


def test_enrolment_prints_only_the_subject_id(enrolled: dict[str, Any]) -> None:
    ids = [enrolled["face_id"], enrolled["exact_id"], enrolled["fuzzy_id"]]
    assert len(set(ids)) == 3
    for sid in ids:
        assert len(sid.splitlines()) == 1 and len(sid) == 36  # a UUID


def test_list(enrolled: dict[str, Any], edge_cli: Callable[..., Any]) -> None:
    r = edge_cli("watchlist", "list", "--watchlist", str(enrolled["wl"]), "--json")
    assert r.code == 0, r.err
    rows = {row["subject_id"]: row for row in map(json.loads, r.out.splitlines())}
    assert rows[enrolled["face_id"]] == {
        "subject_id": enrolled["face_id"],
        "label": "摊贩 甲",
        "faces": len(ENROL),
        "plates": [],
    }
    assert rows[enrolled["fuzzy_id"]]["plates"] == [enrolled["fuzzy_text"]]
    table = edge_cli("watchlist", "list", "--watchlist", str(enrolled["wl"]))
    assert any(
        ln.startswith(enrolled["face_id"]) and "摊贩 甲" in ln for ln in table.out.splitlines()
    )


def test_same_person_matches(enrolled: dict[str, Any]) -> None:
    faces = enrolled["rows"]["probe"]["faces"]
    assert len(faces) == 1
    match = faces[0]["match"]
    assert match is not None
    assert match["subject_id"] == enrolled["face_id"] and match["label"] == "摊贩 甲"
    assert 0.36 <= match["similarity"] <= 1.0


def test_other_person_does_not_match(enrolled: dict[str, Any]) -> None:
    faces = enrolled["rows"]["other"]["faces"]
    assert faces and all(f["match"] is None for f in faces)


def test_exif_rotated_photo_found_in_upright_frame(enrolled: dict[str, Any]) -> None:
    upright, rotated = enrolled["rows"]["probe"], enrolled["rows"]["rotated"]
    assert (rotated["width"], rotated["height"]) == (upright["width"], upright["height"])
    assert len(rotated["faces"]) == 1
    assert _box(rotated["faces"][0]).iou(_box(upright["faces"][0])) > 0.85
    assert rotated["faces"][0]["match"]["subject_id"] == enrolled["face_id"]


def test_plate_exact_and_fuzzy(enrolled: dict[str, Any], eval_dir: Path) -> None:
    exact = enrolled["rows"]["exact"]["plates"]
    assert [p["text"] for p in exact] == [_truth(eval_dir, EXACT_TOLL)]
    assert exact[0]["match"] == {
        "subject_id": enrolled["exact_id"],
        "label": "车A",
        "kind": "exact",
    }
    fuzzy = enrolled["rows"]["fuzzy"]["plates"]
    assert [p["text"] for p in fuzzy] == [_truth(eval_dir, FUZZY_TOLL)]
    assert fuzzy[0]["match"] == {
        "subject_id": enrolled["fuzzy_id"],
        "label": "车B",
        "kind": "fuzzy",
    }


def _subjects(wl: Path) -> list[str]:
    with WatchlistFile(wl) as f:
        return [s.subject_id for s in f.subjects()]


@pytest.mark.parametrize(
    ("photos", "extra", "fragment"),
    [
        ([GROUP], [], "2 faces found; crop the photo to one person or pass --largest"),
        (["plates/toll_hyperlpr/toll_001.jpg"], [], "no face found"),
        ([f"{PERSON}/img1.jpg", "BROKEN"], [], "file is empty"),
    ],
)
def test_add_face_refusals_leave_nothing(
    tmp_path: Path,
    eval_dir: Path,
    models_dir: Path,
    edge_cli: Callable[..., Any],
    photos: list[str],
    extra: list[str],
    fragment: str,
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"")
    paths = [str(broken) if p == "BROKEN" else str(eval_dir / p) for p in photos]
    wl = tmp_path / "wl.db"
    r = edge_cli(
        "watchlist", "add-face", "--watchlist", str(wl), "--models", str(models_dir),
        "--label", "x", *extra, *paths,
    )  # fmt: skip
    assert r.code == 1
    assert r.out == ""
    assert "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1 and fragment in r.err
    assert not wl.exists() or _subjects(wl) == []


def test_add_face_largest_takes_the_biggest_face(
    tmp_path: Path, eval_dir: Path, models_dir: Path, edge_cli: Callable[..., Any]
) -> None:
    wl = tmp_path / "wl.db"
    r = edge_cli(
        "watchlist", "add-face", "--watchlist", str(wl), "--models", str(models_dir),
        "--label", "group", "--largest", str(eval_dir / GROUP),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert _subjects(wl) == [r.out.strip()]


def test_models_differ_is_refused(
    tmp_path: Path, eval_dir: Path, models_dir: Path, edge_cli: Callable[..., Any]
) -> None:
    wl = tmp_path / "other_model.db"
    with WatchlistFile(wl) as f:
        sid = f.add_subject("enrolled elsewhere")
        vec = np.random.default_rng(1).standard_normal(512).astype(np.float32)
        f.add_face_template(sid, FaceEmbedding(vec / np.linalg.norm(vec), "arcface_r100_512"))
    photo = str(eval_dir / PERSON / PROBE)
    env = {"EDGE_MODELS_DIR": str(models_dir)}
    add = edge_cli(
        "watchlist", "add-face", "--watchlist", str(wl), "--label", "x", photo, env_extra=env
    )
    ana = edge_cli("analyze", "--watchlist", str(wl), photo, env_extra=env)
    for r in (add, ana):
        assert r.code == 1
        assert "Traceback" not in r.err
        assert len(r.err.strip().splitlines()) == 1
        assert "'arcface_r100_512'" in r.err and "'mobilefacenet_128'" in r.err
    assert _subjects(wl) == [sid]


def test_add_plate_normalises_and_refuses_invalid(
    tmp_path: Path, edge_cli: Callable[..., Any]
) -> None:
    wl = tmp_path / "plates.db"
    ok = edge_cli("watchlist", "add-plate", "--watchlist", str(wl), "--label", "v", "粤ｂ·12345")
    assert ok.code == 0, ok.err
    listed = json.loads(edge_cli("watchlist", "list", "--watchlist", str(wl), "--json").out)
    assert listed["plates"] == ["粤B12345"]

    bad = edge_cli(
        "watchlist", "add-plate", "--watchlist", str(wl), "--label", "v", "粤B22222", "粤B1234"
    )
    assert bad.code == 1
    assert "Traceback" not in bad.err
    assert bad.err.startswith("edgewatch: error: plate '粤B1234' refused: ")
    assert len(bad.err.strip().splitlines()) == 1
    assert _subjects(wl) == [ok.out.strip()]  # nothing of the refused call was stored


def test_remove(tmp_path: Path, enrolled: dict[str, Any], edge_cli: Callable[..., Any]) -> None:
    wl = tmp_path / "copy.db"
    shutil.copy(enrolled["wl"], wl)
    r = edge_cli("watchlist", "remove", "--watchlist", str(wl), enrolled["exact_id"], "nope")
    assert r.code == 1
    assert r.out.strip() == f"removed {enrolled['exact_id']}"
    assert r.err.strip() == "edgewatch: error: unknown subject 'nope'"
    assert enrolled["exact_id"] not in _subjects(wl)
    assert enrolled["face_id"] in _subjects(wl)


def test_list_of_missing_file_is_one_line(tmp_path: Path, edge_cli: Callable[..., Any]) -> None:
    r = edge_cli("watchlist", "list", "--watchlist", str(tmp_path / "none.db"))
    assert r.code == 1
    assert "does not exist" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "none.db").exists()
