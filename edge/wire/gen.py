"""Regenerate (or check) the committed gRPC stubs in edge/wire/v1 from proto/edge/v1.

``python -m edge.wire.gen`` regenerates; ``python -m edge.wire.gen --check`` exits 1
when the committed files differ from what protoc produces now (a CI check).

protoc, run with ``-I proto`` on ``proto/edge/v1/*.proto``, writes modules that import
each other as ``edge.v1.x_pb2``. We generate into a temporary folder and rewrite those
module references to ``edge.wire.v1.x_pb2``; the serialized descriptors keep the proto
package ``edge.v1`` untouched (rewriting inside them would corrupt length prefixes).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
OUT_DIR = Path(__file__).resolve().parent / "v1"
INIT_TEXT = '"""Generated from proto/edge/v1 by `python -m edge.wire.gen`; do not edit."""\n'

_MODULE_REF = re.compile(r"\bedge\.v1\.(\w+_pb2(?:_grpc)?)\b")
_FROM_IMPORT = re.compile(r"^from edge\.v1 import ", re.MULTILINE)


def _rewrite(text: str) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        if "AddSerializedFile" in line:
            out.append(line)
            continue
        line = _FROM_IMPORT.sub("from edge.wire.v1 import ", line)
        out.append(_MODULE_REF.sub(r"edge.wire.v1.\1", line))
    return "".join(out)


def _run_protoc(protos: list[Path], out: Path) -> None:
    from grpc_tools import protoc  # type: ignore[import-untyped]  # dev-only dependency

    include = Path(protoc.__file__).resolve().parent / "_proto"
    # mypy-protobuf's plugins sit beside this interpreter (venv bin/), maybe not on PATH
    bin_dir = Path(sys.executable).parent
    plugins = []
    for name in ("protoc-gen-mypy", "protoc-gen-mypy_grpc"):
        plugin = bin_dir / name
        if not plugin.is_file():
            raise SystemExit(f"{plugin} not found: install the dev extra (mypy-protobuf)")
        plugins.append(f"--plugin={name}={plugin}")
    args = [
        "grpc_tools.protoc",
        *plugins,
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *(str(p.relative_to(PROTO_DIR)) for p in protos),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


def generate() -> dict[str, str]:
    """File name -> content of every file edge/wire/v1 should hold."""
    protos = sorted((PROTO_DIR / "edge" / "v1").glob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_DIR / 'edge' / 'v1'}")
    with tempfile.TemporaryDirectory(prefix="edge-wire-gen-") as tmp:
        _run_protoc(protos, Path(tmp))
        gen_dir = Path(tmp) / "edge" / "v1"
        files = {
            p.name: _rewrite(p.read_text(encoding="utf-8"))
            for p in sorted(gen_dir.iterdir())
            if p.is_file()
        }
    files["__init__.py"] = INIT_TEXT
    return files


def current() -> dict[str, str]:
    if not OUT_DIR.is_dir():
        return {}
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(OUT_DIR.iterdir())
        if p.is_file() and p.suffix in (".py", ".pyi")
    }


def diff(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    problems = [f"missing: {n}" for n in sorted(expected.keys() - actual.keys())]
    problems += [f"stale (no proto produces it): {n}" for n in sorted(actual.keys() - expected)]
    problems += [
        f"out of date: {n}"
        for n in sorted(expected.keys() & actual.keys())
        if expected[n] != actual[n]
    ]
    return problems


def write(files: dict[str, str]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in diff(files, current()):
        if name.startswith("stale"):
            (OUT_DIR / name.split(": ", 1)[1]).unlink()
    for name, text in files.items():
        (OUT_DIR / name).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.wire.gen", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed stubs are stale"
    )
    args = parser.parse_args(argv)
    files = generate()
    if args.check:
        problems = diff(files, current())
        for line in problems:
            sys.stderr.write(f"edge/wire/v1: {line}\n")
        if problems:
            sys.stderr.write("run `python -m edge.wire.gen` (or `make proto`) and commit\n")
            return 1
        sys.stdout.write(f"edge/wire/v1: {len(files)} files up to date\n")
        return 0
    write(files)
    sys.stdout.write(f"edge/wire/v1: wrote {len(files)} files\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
