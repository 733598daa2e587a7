"""`edgewatch analyze PATH...`: faces, plates and watchlist matches in still images.

Models load once per call. A bad input never stops the run: it is reported (stdout
row or JSON object, plus one line on stderr) and the exit code is 1 at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.errors import InputError, WatchlistError

if TYPE_CHECKING:
    from edge.analysis import ImageAnalysis
    from edge.config import AnalyzeConfig
    from edge.watchlist.types import WatchlistSnapshot


_EXTENSIONS = ".jpg .jpeg .png .bmp .webp .tif .tiff"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "analyze",
        help="find faces and plates in image files or folders, with watchlist matches",
        description="Analyse image files (folders are searched recursively). Exit 1 if any "
        "input could not be analysed; the others are still analysed.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image file or folder")
    p.add_argument("--watchlist", type=Path, metavar="FILE", help="local watchlist file to match")
    p.add_argument(
        "--models", type=Path, metavar="DIR", help="model pack folder (default: EDGE_MODELS_DIR)"
    )
    p.add_argument("--config", type=Path, metavar="FILE", help="analyze config (kind: analyze)")
    p.add_argument("--json", action="store_true", help="one JSON object per image per line")
    p.set_defaults(handler=run_analyze)


def load_config(path: Path | None) -> AnalyzeConfig:
    from edge.config import AnalyzeConfig, load_model

    if path is None:
        return AnalyzeConfig()
    cfg = load_model(AnalyzeConfig, path)
    models_dir = cfg.vision.models_dir
    if models_dir is not None and not models_dir.is_absolute():
        # a relative pack folder in a config file means "next to this file"
        vision = cfg.vision.model_copy(update={"models_dir": path.parent / models_dir})
        cfg = cfg.model_copy(update={"vision": vision})
    return cfg


def read_watchlist(path: Path) -> WatchlistSnapshot:
    from edge.watchlist.store import WatchlistFile

    if not path.is_file():
        raise WatchlistError(
            f"watchlist file {str(path)!r} does not exist; create it with "
            "`edgewatch watchlist add-face` or `add-plate`"
        )
    with WatchlistFile(path) as wl:
        return wl.snapshot()


def run_analyze(args: argparse.Namespace) -> int:
    from edge.analysis import analysis_to_json, load_analyzer
    from edge.config import resolve_models_dir
    from edge.imageio import iter_image_paths, load_image
    from edge.modelpack import load_manifest

    cfg = load_config(args.config)
    paths = list(iter_image_paths(args.paths))
    if not paths:
        names = ", ".join(str(p) for p in args.paths)
        raise InputError(f"no image files found in {names} (looked for {_EXTENSIONS})")
    models_dir = resolve_models_dir(args.models, cfg.vision.models_dir)
    snapshot = read_watchlist(args.watchlist) if args.watchlist else None
    analyzer = load_analyzer(models_dir, cfg.vision, load_manifest(), snapshot)
    failed = 0
    for path in paths:
        start = time.perf_counter()
        try:
            loaded = load_image(path, cfg.vision.images)
            result = analyzer.analyze(loaded.image)
        except InputError as e:
            failed += 1
            _report_error(path, e, as_json=args.json)
            continue
        ms = (time.perf_counter() - start) * 1000.0
        for note in loaded.warnings:
            print(f"edgewatch: warning: {note}", file=sys.stderr)
        if args.json:
            row = analysis_to_json(str(path), result, ms)
            print(json.dumps(row, ensure_ascii=False), flush=True)
        else:
            _print_table(str(path), result, ms)
    return 1 if failed else 0


def _report_error(path: Path, err: InputError, *, as_json: bool) -> None:
    message = " ".join(str(err).split())  # always one line
    if as_json:
        print(json.dumps({"path": str(path), "error": message}, ensure_ascii=False), flush=True)
    else:
        print(f"{path}  ERROR  {message}", flush=True)
    print(f"edgewatch: error: {message}", file=sys.stderr)


def _box(values: list[float]) -> str:
    return "[" + ",".join(str(round(v)) for v in values) + "]"


def _print_table(path: str, result: ImageAnalysis, ms: float) -> None:
    print(
        f"{path}  {result.width}x{result.height}  {ms:.1f} ms  "
        f"faces {len(result.faces)}  plates {len(result.plates)}"
    )
    for f in result.faces:
        det, q = f.face.detection, f.face.quality
        line = (
            f"  face   {_box(det.box.as_list()):<22} score {det.score:.2f}  quality {q.score:.2f}"
        )
        if f.match is not None:
            m = f.match
            line += f"  MATCH {m.label} ({m.subject_id}) similarity {m.similarity:.3f}"
        print(line)
    for p in result.plates:
        pl = p.plate
        fields: list[Any] = [
            f"  plate  {_box(pl.detection.box.as_list()):<22}",
            f"{pl.text or '?':<10}",
            f"conf {pl.confidence:.2f}",
            f"{pl.color or '-':<6}",
            "valid" if pl.valid else "invalid",
        ]
        line = "  ".join(fields)
        if p.match is not None:
            m2 = p.match
            line += f"  MATCH {m2.kind} {m2.label} ({m2.subject_id}) plate {m2.plate}"
        print(line, flush=True)
