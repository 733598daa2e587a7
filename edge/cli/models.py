"""`edgewatch models verify|fetch|quantize`: check a model pack, download missing files,
make int8 variants of verified files."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import ConfigError, ModelPackError

if TYPE_CHECKING:
    from edge.modelpack import PackManifest

_LABEL = {
    "ok": "OK",
    "missing": "MISSING",
    "bad_size": "BAD SIZE",
    "bad_hash": "BAD HASH",
    "bad_graph": "BAD GRAPH",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("models", help="verify or fetch the model pack")
    msub = p.add_subparsers(dest="models_command", required=True)

    v = msub.add_parser(
        "verify",
        help="check every model file: present, size, sha256, input/output names and shapes",
    )
    v.add_argument(
        "dir", nargs="?", type=Path, metavar="DIR", help="pack folder (default: EDGE_MODELS_DIR)"
    )
    v.add_argument(
        "--manifest", type=Path, metavar="M", help="manifest (default: the built-in one)"
    )
    v.add_argument("--json", action="store_true", help="one JSON object per model file")
    v.add_argument(
        "--variants",
        type=Path,
        metavar="V",
        help="also check the variants folder made by `models quantize`",
    )
    v.set_defaults(handler=run_verify)

    f = msub.add_parser("fetch", help="download missing or damaged model files, verified")
    f.add_argument("--to", required=True, type=Path, metavar="DIR", help="pack folder to fill")
    f.add_argument(
        "--manifest", type=Path, metavar="M", help="manifest (default: the built-in one)"
    )
    f.add_argument(
        "--base-url",
        metavar="URL",
        help="mirror serving the pack layout (URL/<file>); used for every file; "
        "needed for entries without a url",
    )
    f.add_argument("--only", nargs="+", metavar="ID", help="fetch only these model ids")
    f.add_argument("--timeout", type=float, default=60.0, metavar="S", help="socket timeout")
    f.set_defaults(handler=run_fetch)
    _register_quantize(msub)


def _register_quantize(msub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = msub.add_parser(
        "quantize",
        help="make int8 variants of verified pack models, calibrated on the evaluation set "
        "(needs the `quantize` extra)",
    )
    q.add_argument("--to", required=True, type=Path, metavar="DIR", help="variants folder")
    q.add_argument("--only", required=True, nargs="+", metavar="ID", help="model ids")
    q.add_argument("--models", type=Path, metavar="DIR", help="pack (default: EDGE_MODELS_DIR)")
    q.add_argument(
        "--eval", type=Path, metavar="DIR", help="evaluation set (default: EDGE_EVAL_DIR)"
    )
    q.add_argument(
        "--manifest", type=Path, metavar="M", help="manifest (default: the built-in one)"
    )
    q.add_argument(
        "--method",
        default="static-qdq",
        choices=["static-qdq", "static-qoperator", "dynamic"],
        help="static QDQ (default; conv models), QOperator, or dynamic (no calibration)",
    )
    q.add_argument(
        "--calibrate",
        default="minmax",
        choices=["minmax", "percentile", "entropy"],
        help="activation ranges from the calibration inputs (default minmax)",
    )
    q.add_argument("--seed", type=int, default=0, help="calibration sample seed (default 0)")
    q.add_argument("--images", type=int, metavar="N", help="calibration images (default: per role)")
    q.set_defaults(handler=run_quantize)


def _fix_hint(pack_dir: Path, model_id: str) -> str:
    return f"fix: edgewatch models fetch --to {pack_dir} --only {model_id}"


def run_verify(args: argparse.Namespace) -> int:
    from edge.config import RuntimeConfig, resolve_models_dir
    from edge.modelpack import load_manifest
    from edge.models_fetch import verify_pack

    pack_dir = resolve_models_dir(args.dir)
    manifest = load_manifest(args.manifest)
    checks = verify_pack(pack_dir, manifest, RuntimeConfig())
    for c in checks:
        if args.json:
            row = {
                "id": c.entry.id,
                "file": c.entry.file,
                "status": c.status,
                "expected_size": c.entry.size,
                "actual_size": c.actual_size,
                "expected_sha256": c.entry.sha256,
                "actual_sha256": c.actual_sha256,
                "detail": c.detail,
            }
            print(json.dumps(row, ensure_ascii=False))
            continue
        line = f"{_LABEL[c.status]:<9} {c.entry.id:<22} {c.entry.file}"
        if not c.ok:
            line += f": {c.detail}; {_fix_hint(pack_dir, c.entry.id)}"
        print(line)
    failed = sum(not c.ok for c in checks)
    variants = 0
    if args.variants is not None:
        bad, variants = _verify_variants(args.variants, manifest, args.json)
        failed += bad
    also = f" and {variants} variants in {args.variants}" if args.variants else ""
    if failed:
        raise ModelPackError(
            f"{failed} of {len(checks) + variants} model files in {pack_dir}{also} "
            "failed verification"
        )
    if not args.json:
        print(f"all {len(checks)} model files in {pack_dir}{also} verified")
    return 0


def _verify_variants(folder: Path, manifest: PackManifest, as_json: bool) -> tuple[int, int]:
    """(failed, checked) variants of the folder, one line each."""
    from edge.variants import verify_variants

    checks = verify_variants(folder, manifest)
    for c in checks:
        v = c.entry
        if as_json:
            row = {"variant_of": v.parent_id, "variant": v.variant, "file": v.file}
            print(json.dumps(row | {"status": "ok" if c.ok else "bad", "detail": c.detail}))
            continue
        line = f"{'OK' if c.ok else 'BAD':<9} {v.parent_id + ' ' + v.variant:<22} {v.file}"
        if not c.ok:
            line += (
                f": {c.detail}; fix: edgewatch models quantize --to {folder} --only {v.parent_id}"
            )
        print(line)
    return sum(not c.ok for c in checks), len(checks)


def run_fetch(args: argparse.Namespace) -> int:
    from edge.modelpack import load_manifest
    from edge.models_fetch import fetch_model, select_entries

    manifest = load_manifest(args.manifest)
    entries = select_entries(manifest, args.only)
    failed = 0
    for entry in entries:
        try:
            out = fetch_model(entry, args.to, args.base_url, timeout=args.timeout)
        except ModelPackError as e:
            failed += 1
            print(f"FAILED    {entry.id:<22} {e}", file=sys.stderr)
            continue
        if out.action == "present":
            print(f"PRESENT   {entry.id:<22} {entry.file} (already verified)")
        else:
            print(
                f"{out.action.upper():<9} {entry.id:<22} {entry.file} "
                f"({out.downloaded_bytes} bytes from {out.url}, sha256 verified)"
            )
    if failed:
        raise ModelPackError(f"{failed} of {len(entries)} model files could not be fetched")
    return 0


def _eval_dir(explicit: Path | None) -> Path:
    env = os.environ.get("EDGE_EVAL_DIR")
    value = explicit or (Path(env) if env else None)
    if value is None:
        raise ConfigError("no evaluation set for calibration: pass --eval DIR or set EDGE_EVAL_DIR")
    if not value.is_dir():
        raise ConfigError(f"evaluation set folder {str(value)!r} does not exist")
    return value


def run_quantize(args: argparse.Namespace) -> int:
    from edge.config import resolve_models_dir
    from edge.modelpack import load_manifest
    from edge.vision.quantize import QuantizeRequest, quantize_model, select

    if args.images is not None and args.images < 1:
        raise ConfigError(f"--images {args.images}: must be at least 1")
    manifest = load_manifest(args.manifest)
    req = QuantizeRequest(
        pack_dir=resolve_models_dir(args.models),
        manifest=manifest,
        eval_dir=_eval_dir(args.eval),
        out_dir=args.to,
        method=args.method,
        calibrate=args.calibrate,
        seed=args.seed,
        images=args.images,
    )
    for entry in select(manifest, args.only):
        v = quantize_model(req, entry)
        calib = (
            f", calibration {v.calibration.inputs} inputs from {len(v.calibration.files)} "
            f"images sha256 {v.calibration.sha256[:12]}"
            if v.calibration
            else ""
        )
        print(f"INT8      {entry.id:<22} {v.file} sha256 {v.sha256} ({v.size} bytes{calib})")
    return 0
