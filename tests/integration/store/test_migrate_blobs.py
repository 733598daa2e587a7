"""`edgewatch store migrate-blobs`: an older store's blob folder moves into the database.

The folder is written here in the old format byte by byte (pack records and one file
per blob, as edge/store/blob_migration.py documents them), since no code that writes it
is left; the store is a real deployment made by `edgewatch init`, on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from edge.store.server import build_database
from edge.store.sql_repo import SqlRepository
from tests.support.loadgen import Deployment
from tests.support.samples import sample_jpeg

Cli = Callable[..., CompletedProcess[str]]
_HEADER = struct.Struct("<4s32sQ")


def _record(data: bytes, magic: bytes = b"EWB1", sha: bytes | None = None) -> bytes:
    raw = sha if sha is not None else hashlib.sha256(data).digest()
    return _HEADER.pack(magic, raw, len(data)) + data


def old_folder(root: Path, blobs: list[bytes]) -> None:
    """Two packs (one with an erased record), one loose file, a stale index and lock."""
    (root / "packs").mkdir(parents=True)
    erased = _HEADER.pack(b"EWB0", hashlib.sha256(b"gone").digest(), 4) + bytes(4)
    (root / "packs" / "00000001.pack").write_bytes(_record(blobs[0]) + erased + _record(blobs[1]))
    (root / "packs" / "00000002.pack").write_bytes(_record(blobs[2]) + _record(blobs[0]))
    loose = hashlib.sha256(blobs[3]).hexdigest()
    (root / loose[:2]).mkdir()
    (root / loose[:2] / loose).write_bytes(blobs[3])
    (root / "index.sqlite").write_bytes(b"")
    (root / "LOCK").write_bytes(b"")


def open_repo(dep: Deployment) -> SqlRepository:
    repo = SqlRepository(build_database(dep.store_config()))
    repo.open()
    return repo


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest) -> Deployment:
    name = "deployment" if request.param == "sqlite" else "pg_deployment"
    dep: Deployment = request.getfixturevalue(name)
    return dep


def migrate(cli: Cli, dep: Deployment, folder: Path) -> tuple[int, dict[str, object]]:
    args = ("store", "migrate-blobs", "--config", str(dep.path("store.yaml")))
    done = cli(*args, "--from", str(folder), "--json")
    return done.returncode, json.loads(done.stdout)


def test_folder_moves_verified_and_a_second_run_copies_nothing(
    target: Deployment, cli: Cli, tmp_path: Path
) -> None:
    blobs = [sample_jpeg(i, 48, 32) for i in range(4)]
    old_folder(tmp_path / "old", blobs)
    code, got = migrate(cli, target, tmp_path / "old")
    assert (code, got) == (
        0,
        {"found": 4, "copied": 4, "present": 0, "verified": 4, "damaged": []},
    )
    repo = open_repo(target)
    try:
        for data in blobs:
            assert repo.blobs.get(hashlib.sha256(data).hexdigest()) == data
        assert not repo.blobs.exists(hashlib.sha256(b"gone").hexdigest())
    finally:
        repo.close()
    code, again = migrate(cli, target, tmp_path / "old")
    assert (code, again["copied"], again["present"], again["verified"]) == (0, 0, 4, 4)


def test_damaged_records_are_named_not_copied_and_fail_the_run(
    deployment: Deployment, cli: Cli, tmp_path: Path
) -> None:
    good, bad = sample_jpeg(1, 40, 40), sample_jpeg(2, 40, 40)
    folder = tmp_path / "old"
    (folder / "packs").mkdir(parents=True)
    claimed = hashlib.sha256(b"what it was").digest()
    torn = _record(good)[:-10]  # a tail cut short by a crash
    pack = _record(bad, sha=claimed) + _record(good) + torn
    (folder / "packs" / "00000001.pack").write_bytes(pack)
    args = ("store", "migrate-blobs", "--config", str(deployment.path("store.yaml")))
    done = cli(*args, "--from", str(folder))
    assert done.returncode == 1
    assert "1 blobs found, 1 copied" in done.stdout
    assert f"00000001.pack@0: bytes do not hash to {claimed.hex()[:16]}" in done.stderr
    assert "cut short" in done.stderr
    repo = open_repo(deployment)
    try:
        assert repo.blobs.get(hashlib.sha256(good).hexdigest()) == good
        assert not repo.blobs.exists(hashlib.sha256(bad).hexdigest())
    finally:
        repo.close()


def test_a_missing_folder_is_a_clear_error(
    deployment: Deployment, cli: Cli, tmp_path: Path
) -> None:
    args = ("store", "migrate-blobs", "--config", str(deployment.path("store.yaml")))
    done = cli(*args, "--from", str(tmp_path / "nowhere"))
    assert done.returncode != 0
    assert "nowhere' does not exist or is not a folder" in done.stderr
