"""`edgewatch models verify|fetch` against the real pack and a real local HTTP server."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.cli import main
from edge.modelpack import PackManifest, sha256_file

pytestmark = pytest.mark.models


def _flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_verify_ok_on_shared_pack(
    edge_cli: Callable[..., Any], models_dir: Path, manifest: PackManifest
) -> None:
    r = edge_cli("models", "verify", str(models_dir))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    ok_lines = [ln for ln in lines if ln.startswith("OK ")]
    assert len(ok_lines) == len(manifest.models)
    for entry in manifest.models:
        assert any(entry.file in ln for ln in ok_lines)
    assert r.err == ""


def test_verify_json_uses_env_dir(
    edge_cli: Callable[..., Any], models_dir: Path, manifest: PackManifest
) -> None:
    r = edge_cli("models", "verify", "--json", env_extra={"EDGE_MODELS_DIR": str(models_dir)})
    assert r.code == 0, r.err
    rows = [json.loads(ln) for ln in r.out.splitlines()]
    assert {row["id"] for row in rows} == {m.id for m in manifest.models}
    for row in rows:
        assert row["status"] == "ok"
        assert row["actual_sha256"] == row["expected_sha256"]


def test_verify_names_each_broken_file(
    edge_cli: Callable[..., Any], tmp_path: Path, models_dir: Path
) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(models_dir, pack)
    _flip_byte(pack / "plate/y5fu_320x_sim.onnx")
    (pack / "plate/litemodel_cls_96x_r1.onnx").write_bytes(b"\x00" * 100)
    (pack / "plate/plate_rec_color.onnx").unlink()

    r = edge_cli("models", "verify", str(pack))
    assert r.code == 1
    assert "Traceback" not in r.err
    hash_line = next(ln for ln in r.out.splitlines() if "y5fu_320x" in ln)
    assert hash_line.startswith("BAD HASH")
    assert "2a985dc63a5cc947ec36d18503d6fc0fd54525b9dba17f2fe29a71e86b44456d" in hash_line
    assert sha256_file(pack / "plate/y5fu_320x_sim.onnx") in hash_line
    assert f"fix: edgewatch models fetch --to {pack} --only y5fu_320x" in hash_line
    size_line = next(ln for ln in r.out.splitlines() if "litemodel_cls_96x_r1" in ln)
    assert size_line.startswith("BAD SIZE") and "100 bytes, manifest expects 1604473" in size_line
    missing = next(ln for ln in r.out.splitlines() if "plate_rec_color" in ln)
    assert missing.startswith("MISSING") and "plate/plate_rec_color.onnx" in missing
    assert sum(ln.startswith("OK ") for ln in r.out.splitlines()) == 5
    assert r.err.strip().splitlines() == [
        f"edgewatch: error: 3 of 8 model files in {pack} failed verification"
    ]


def test_verify_checks_graph_names_and_shapes(
    edge_cli: Callable[..., Any], tmp_path: Path, models_dir: Path
) -> None:
    from edge.modelpack import DEFAULT_MANIFEST

    data = yaml.safe_load(DEFAULT_MANIFEST.read_text(encoding="utf-8"))
    rec = next(m for m in data["models"] if m["id"] == "plate_rec_color")
    rec["input"]["shape"] = [1, 3, 48, 160]  # the real graph takes 168 wide
    changed = tmp_path / "manifest.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    r = edge_cli("models", "verify", str(models_dir), "--manifest", str(changed))
    assert r.code == 1
    line = next(ln for ln in r.out.splitlines() if "plate_rec_color" in ln)
    assert line.startswith("BAD GRAPH") and "[1, 3, 48, 160]" in line
    assert "Traceback" not in r.err


def test_fetch_all_then_skip(
    tmp_path: Path,
    models_dir: Path,
    manifest: PackManifest,
    serve_folder: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve_folder(models_dir)
    dest = tmp_path / "fetched"
    assert main(["models", "fetch", "--to", str(dest), "--base-url", server.url]) == 0
    out = capsys.readouterr().out
    assert out.count("DOWNLOADED") == len(manifest.models)
    assert len(server.requests) == len(manifest.models)
    assert all(rng is None for _, rng in server.requests)
    for entry in manifest.models:
        assert sha256_file(dest / entry.file) == entry.sha256
    assert not list(dest.rglob("*.part"))

    assert main(["models", "verify", str(dest)]) == 0
    capsys.readouterr()
    assert main(["models", "fetch", "--to", str(dest), "--base-url", server.url]) == 0
    assert capsys.readouterr().out.count("PRESENT") == len(manifest.models)
    assert len(server.requests) == len(manifest.models)  # nothing downloaded again


@pytest.mark.parametrize("honour_range", [True, False])
def test_fetch_resumes_part_file(
    tmp_path: Path,
    models_dir: Path,
    manifest: PackManifest,
    serve_folder: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    honour_range: bool,
) -> None:
    entry = manifest.by_id("plate_rec_color")
    server = serve_folder(models_dir, honour_range=honour_range)
    dest = tmp_path / "fetched"
    part = dest / (entry.file + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes((models_dir / entry.file).read_bytes()[:1_000_000])

    args = ["models", "fetch", "--to", str(dest), "--base-url", server.url, "--only", entry.id]
    assert main(args) == 0
    assert server.requests == [("/" + entry.file, "bytes=1000000-")]
    out = capsys.readouterr().out
    assert "RESUMED" in out
    expected_bytes = entry.size - 1_000_000 if honour_range else entry.size
    assert f"({expected_bytes} bytes from {server.url}/{entry.file}" in out
    assert sha256_file(dest / entry.file) == entry.sha256
    assert not part.exists()


def test_interrupted_download_keeps_part_and_resumes(
    tmp_path: Path,
    models_dir: Path,
    manifest: PackManifest,
    serve_folder: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = manifest.by_id("y5fu_320x")
    server = serve_folder(models_dir)
    server.drop_after = 700_000
    dest = tmp_path / "fetched"
    args = ["models", "fetch", "--to", str(dest), "--base-url", server.url, "--only", entry.id]

    assert main(args) == 1
    err = capsys.readouterr().err
    assert entry.file in err and f"{server.url}/{entry.file}" in err and "resume" in err
    part = dest / (entry.file + ".part")
    assert part.stat().st_size == 700_000

    assert main(args) == 0
    assert server.requests[-1] == ("/" + entry.file, "bytes=700000-")
    assert sha256_file(dest / entry.file) == entry.sha256


def test_corrupted_download_is_discarded(
    edge_cli: Callable[..., Any],
    tmp_path: Path,
    models_dir: Path,
    manifest: PackManifest,
    serve_folder: Callable[..., Any],
) -> None:
    entry = manifest.by_id("litemodel_cls_96x_r1")
    mirror = tmp_path / "mirror"
    (mirror / "plate").mkdir(parents=True)
    shutil.copy(models_dir / entry.file, mirror / entry.file)
    _flip_byte(mirror / entry.file)
    server = serve_folder(mirror)
    dest = tmp_path / "fetched"

    r = edge_cli("models", "fetch", "--to", str(dest), "--base-url", server.url, "--only", entry.id)
    assert r.code == 1
    assert "Traceback" not in r.err
    assert f"{server.url}/{entry.file}" in r.err
    assert f"manifest expects {entry.sha256}" in r.err
    assert "discarded" in r.err
    assert not (dest / entry.file).exists()
    assert not (dest / (entry.file + ".part")).exists()


def test_oversized_download_is_refused(
    tmp_path: Path,
    models_dir: Path,
    manifest: PackManifest,
    serve_folder: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = manifest.by_id("litemodel_cls_96x_r1")
    mirror = tmp_path / "mirror"
    (mirror / "plate").mkdir(parents=True)
    (mirror / entry.file).write_bytes((models_dir / entry.file).read_bytes() + b"extra")
    server = serve_folder(mirror)
    args = ["models", "fetch", "--to", str(tmp_path / "d"), "--base-url", server.url]
    assert main([*args, "--only", entry.id]) == 1
    assert "sends more than the manifest's 1604473 bytes" in capsys.readouterr().err


def test_fetch_errors_name_file_and_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    base = f"http://127.0.0.1:{closed_port}"
    dest = str(tmp_path / "d")
    assert main(["models", "fetch", "--to", dest, "--base-url", base, "--only", "y5fu_320x"]) == 1
    err = capsys.readouterr().err
    assert f"plate/y5fu_320x_sim.onnx: download from {base}/plate/y5fu_320x_sim.onnx failed" in err

    # an entry without a URL needs a mirror
    assert main(["models", "fetch", "--to", dest, "--only", "ppocr_v4_rec"]) == 1
    err = capsys.readouterr().err
    assert "plate/ch_PP-OCRv4_rec_infer.onnx (ppocr_v4_rec) has no download URL" in err
    assert "--base-url" in err

    assert main(["models", "fetch", "--to", dest, "--only", "no_such_model"]) == 1
    assert "model 'no_such_model' is not in pack" in capsys.readouterr().err


def test_http_404_is_one_line(
    edge_cli: Callable[..., Any], tmp_path: Path, serve_folder: Callable[..., Any]
) -> None:
    server = serve_folder(tmp_path)  # serves nothing
    r = edge_cli(
        "models",
        "fetch",
        "--to",
        str(tmp_path / "d"),
        "--base-url",
        server.url,
        "--only",
        "y5fu_320x",
    )
    assert r.code == 1
    assert "Traceback" not in r.err
    assert "HTTP 404" in r.err and "plate/y5fu_320x_sim.onnx" in r.err
    assert len(r.err.strip().splitlines()) == 2  # the file's line and the summary
