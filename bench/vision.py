"""Vision benchmark: our face and plate pipelines against the naive path, interleaved.

The naive path is what a user would write first: insightface ``FaceAnalysis.get`` on
every frame (same SCRFD and MobileFaceNet files) and rapidocr's full-frame OCR with
plate-like strings picked by our grammar. Every session on both sides gets the same
onnxruntime SessionOptions (spinning off), so ratios measure pipelines, not settings.

    EDGE_MODELS_DIR=../shared/models EDGE_EVAL_DIR=../shared/eval \\
        .venv/bin/python bench/vision.py --quick

The last stdout line is one JSON object with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from vision_frames import H, PlateFrame, W, face_frames, plate_frames  # bench/ is on sys.path

from edge.config import FaceConfig, PlateConfig, RuntimeConfig
from edge.modelpack import PackManifest, load_manifest, load_verified
from edge.vision.faces import DETECTOR_MODEL_IDS as FACE_DETECTORS
from edge.vision.faces import load_face_analyzer
from edge.vision.plate_grammar import validate_plate
from edge.vision.plate_readers import PlateRecColorReader
from edge.vision.plates import DETECTOR_MODEL_IDS, PlateRecognizer, Y5fuPlateDetector
from edge.vision.runtime import create_session, providers_for, session_options
from edge.vision.types import Image, PlateDetection, PlateText


# ---------------------------------------------------------------- timing helpers
class TimedSession:
    """Delegates to an onnxruntime session and adds up the time spent in run()."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.seconds = 0.0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


class TimedDetector:
    def __init__(self, inner: Y5fuPlateDetector) -> None:
        self.inner = inner
        self.seconds = 0.0

    def detect(self, image: Image) -> list[PlateDetection]:
        t0 = time.perf_counter()
        out = self.inner.detect(image)
        self.seconds += time.perf_counter() - t0
        return out


class TimedReader:
    def __init__(self, inner: PlateRecColorReader) -> None:
        self.inner = inner
        self.seconds = 0.0

    def read(self, plate: Image) -> PlateText:
        t0 = time.perf_counter()
        out = self.inner.read(plate)
        self.seconds += time.perf_counter() - t0
        return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000.0, out


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


def spread(values: list[float]) -> dict[str, float]:
    return {"p10": pct(values, 10), "p50": pct(values, 50), "p90": pct(values, 90)}


def rss_mb() -> dict[str, float]:
    """Current and peak resident memory of this process."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rss_mb": fields.get("VmRSS", 0.0),
        "peak_mb": round(max(peak, fields.get("VmHWM", 0)), 1),
    }


# ---------------------------------------------------------------- pipelines
@dataclass
class OurPlates:
    recognizer: PlateRecognizer
    detector: TimedDetector
    reader: TimedReader
    sessions: tuple[TimedSession, TimedSession]

    def inference_seconds(self) -> float:
        return sum(s.seconds for s in self.sessions)


def load_our_plates(pack: Path, runtime: RuntimeConfig, manifest: PackManifest) -> OurPlates:
    """The product's default plate configuration, built with timing around each stage."""
    cfg = PlateConfig()
    assert cfg.reader == "plate_rec_color", "bench wraps the default reader"
    det_entry = manifest.by_id(DETECTOR_MODEL_IDS[cfg.detector])
    det_sess = TimedSession(create_session(load_verified(pack, det_entry), runtime))
    detector = Y5fuPlateDetector.create(det_sess, det_entry, cfg.det_threshold, cfg.nms_iou)
    rd_entry = manifest.by_id("plate_rec_color")
    rd_sess = TimedSession(create_session(load_verified(pack, rd_entry), runtime))
    timed_det = TimedDetector(detector)
    timed_reader = TimedReader(PlateRecColorReader.create(rd_sess, rd_entry))
    recognizer = PlateRecognizer(timed_det, timed_reader, cfg)
    recognizer.warm_up()
    return OurPlates(recognizer, timed_det, timed_reader, (det_sess, rd_sess))


def load_generic_ocr(runtime: RuntimeConfig) -> Any:
    """rapidocr-onnxruntime with its packaged models, sessions rebuilt with our options.

    Its config has thread counts but no spinning switch, so its three sessions are
    recreated from the same packaged files with the product's SessionOptions.
    """
    import onnxruntime as ort
    import rapidocr_onnxruntime
    import yaml
    from rapidocr_onnxruntime import RapidOCR

    root = Path(rapidocr_onnxruntime.__file__).parent
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    ocr = RapidOCR()
    holders = {"Det": ocr.text_det.infer, "Cls": ocr.text_cls.infer, "Rec": ocr.text_rec.session}
    for key, holder in holders.items():
        holder.session = ort.InferenceSession(
            str(root / config[key]["model_path"]),
            sess_options=session_options(runtime),
            providers=providers_for(runtime),
        )
    return ocr


def generic_plates(ocr: Any, frame: Image) -> set[str]:
    result, _ = ocr(frame)
    grammar = (validate_plate(r[1]) for r in (result or []))
    return {g.text for g in grammar if g.valid}


def load_naive_faces(
    pack: Path, runtime: RuntimeConfig, manifest: PackManifest, folder: Path
) -> Any:
    """insightface FaceAnalysis over the pack's own SCRFD + MobileFaceNet files."""
    from insightface.app import FaceAnalysis

    cfg = FaceConfig()
    for model_id in (FACE_DETECTORS[cfg.detector], cfg.embedder):
        entry = manifest.by_id(model_id)
        load_verified(pack, entry)  # same bytes as ours, checked
        (folder / Path(entry.file).name).symlink_to((pack / entry.file).resolve())
    app = FaceAnalysis(
        name=str(folder),
        providers=providers_for(runtime),
        sess_options=session_options(runtime),
    )
    app.prepare(ctx_id=-1, det_thresh=cfg.det_threshold)  # insightface's default sizes
    return app


class FaceInference:
    """The face models' bare sessions, fed the shapes the pipeline feeds them.

    Run right after each frame, under the same machine load, to estimate how much of
    the face pipeline is pure inference: SCRFD at 128 and det_size, plus one embedder
    call per embedded face (the pack's MobileFaceNet is batch-1).
    """

    def __init__(self, pack: Path, runtime: RuntimeConfig, manifest: PackManifest) -> None:
        cfg = FaceConfig()
        det = manifest.by_id(FACE_DETECTORS[cfg.detector])
        emb = manifest.by_id(cfg.embedder)
        det_sess = create_session(load_verified(pack, det), runtime)
        emb_sess = create_session(load_verified(pack, emb), runtime)

        def call(sess: Any, name: str, size: int) -> Callable[[], Any]:
            feed = {name: np.zeros((1, 3, size, size), dtype=np.float32)}
            return partial(sess.run, None, feed)

        self.detect = [call(det_sess, det.input.name, n) for n in (128, cfg.det_size)]
        self.embed = call(emb_sess, emb.input.name, 112)
        for fn in [*self.detect, self.embed]:
            fn()  # first runs allocate

    def ms(self, embedded: int) -> float:
        total = sum(timed(fn)[0] for fn in self.detect)
        return total + sum(timed(self.embed)[0] for _ in range(embedded))


# ---------------------------------------------------------------- measurement
@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def get(self, key: str) -> list[float]:
        return self.values.get(key, [])


def bench_plates(
    ours: OurPlates, ocr: Any, frames: list[PlateFrame], rounds: int, s: Samples
) -> dict[str, int]:
    """Interleave ours and the generic OCR per frame; exactness from the first round."""
    hits = {"rows": 0, "ours": 0, "generic": 0}
    for rnd in range(rounds):
        for i, pf in enumerate(frames):
            d0, r0, i0 = ours.detector.seconds, ours.reader.seconds, ours.inference_seconds()

            def run_ours(frame: Image = pf.frame) -> set[str]:
                return {p.text for p in ours.recognizer.recognize(frame)}

            def run_generic(frame: Image = pf.frame) -> set[str]:
                return generic_plates(ocr, frame)

            if (i + rnd) % 2 == 0:
                t_ours, got_ours = timed(run_ours)
                t_gen, got_gen = timed(run_generic)
            else:
                t_gen, got_gen = timed(run_generic)
                d0, r0, i0 = ours.detector.seconds, ours.reader.seconds, ours.inference_seconds()
                t_ours, got_ours = timed(run_ours)
            detect = (ours.detector.seconds - d0) * 1000
            read = (ours.reader.seconds - r0) * 1000
            s.add("plate_ms", t_ours)
            s.add("plate_generic_ms", t_gen)
            s.add("plate_speedup", t_gen / t_ours)
            s.add("plate_detect_ms", detect)
            s.add("plate_read_ms", read)
            s.add("plate_rectify_ms", t_ours - detect - read)
            s.add("plate_infer_ms", (ours.inference_seconds() - i0) * 1000)
            if rnd == 0:
                hits["rows"] += len(pf.texts)
                hits["ours"] += sum(t in got_ours for t in pf.texts)
                hits["generic"] += sum(t in got_gen for t in pf.texts)
                missed = [
                    name
                    for name, got in (("ours", got_ours), ("generic", got_gen))
                    if not all(t in got for t in pf.texts)
                ]
                if missed:
                    print(f"  missed by {'+'.join(missed)}: {pf.file}", file=sys.stderr)
        print(f"  plates round {rnd + 1}/{rounds} done", file=sys.stderr)
    return hits


def bench_faces(
    analyzer: Any, naive: Any, frames: list[Image], rounds: int, infer: FaceInference, s: Samples
) -> dict[str, int]:
    counts = {"ours": 0, "naive": 0, "embedded_ours": 0, "embedded_naive": 0}
    for rnd in range(rounds):
        for i, frame in enumerate(frames):
            if (i + rnd) % 2 == 0:
                t_ours, faces = timed(partial(analyzer.analyze, frame))
                t_naive, naive_faces = timed(partial(naive.get, frame))
            else:
                t_naive, naive_faces = timed(partial(naive.get, frame))
                t_ours, faces = timed(partial(analyzer.analyze, frame))
            embedded = sum(f.embedding is not None for f in faces)
            s.add("face_ms", t_ours)
            s.add("face_naive_ms", t_naive)
            s.add("face_speedup", t_naive / t_ours)
            s.add("face_infer_ms", infer.ms(embedded))
            if rnd == 0:
                counts["ours"] += len(faces)
                counts["naive"] += len(naive_faces)
                counts["embedded_ours"] += embedded
                counts["embedded_naive"] += sum(
                    getattr(f, "embedding", None) is not None for f in naive_faces
                )
        print(f"  faces round {rnd + 1}/{rounds} done", file=sys.stderr)
    return counts


def ratio_of_medians(a: list[float], b: list[float]) -> float:
    return round(float(np.median(a) / np.median(b)), 2)


def summarise(
    s: Samples, plate_hits: dict[str, int], face_counts: dict[str, int], extra: dict[str, Any]
) -> dict[str, Any]:
    rows = max(plate_hits["rows"], 1)
    return {
        "plate_ms_p50": pct(s.get("plate_ms"), 50),
        "plate_ms_p90": pct(s.get("plate_ms"), 90),
        "plate_stage_ms_p50": {
            k: pct(s.get(f"plate_{k}_ms"), 50) for k in ("detect", "rectify", "read")
        },
        "plate_generic_ocr_ms": spread(s.get("plate_generic_ms")),
        "plate_speedup_vs_generic_ocr": ratio_of_medians(
            s.get("plate_generic_ms"), s.get("plate_ms")
        ),
        "plate_speedup_per_frame": spread(s.get("plate_speedup")),
        "plate_exact_ours": round(plate_hits["ours"] / rows, 4),
        "plate_exact_generic_ocr": round(plate_hits["generic"] / rows, 4),
        "plate_rows": plate_hits["rows"],
        "plate_pipeline_vs_inference": ratio_of_medians(s.get("plate_ms"), s.get("plate_infer_ms")),
        "face_ms_p50": pct(s.get("face_ms"), 50),
        "face_ms_p90": pct(s.get("face_ms"), 90),
        "face_insightface_ms": spread(s.get("face_naive_ms")),
        "face_speedup_vs_insightface": ratio_of_medians(s.get("face_naive_ms"), s.get("face_ms")),
        "face_speedup_per_frame": spread(s.get("face_speedup")),
        "face_pipeline_vs_inference": ratio_of_medians(s.get("face_ms"), s.get("face_infer_ms")),
        "faces_found": {"ours": face_counts["ours"], "insightface": face_counts["naive"]},
        "faces_embedded": {
            "ours": face_counts["embedded_ours"],
            "insightface": face_counts["embedded_naive"],
        },
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="subset of frames, 2 rounds (< 5 min)")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--models", type=Path, default=os.environ.get("EDGE_MODELS_DIR"))
    p.add_argument("--eval", type=Path, default=os.environ.get("EDGE_EVAL_DIR"))
    args = p.parse_args(argv)
    # insightface's norm_crop calls a scikit-image API that warns on every face
    warnings.filterwarnings("ignore", category=FutureWarning)
    if not args.models or not args.eval:
        p.error("set --models/--eval or EDGE_MODELS_DIR/EDGE_EVAL_DIR")
    rounds = args.rounds or (2 if args.quick else 3)
    runtime, manifest = RuntimeConfig(), load_manifest()
    started = time.perf_counter()

    pframes, fframes = plate_frames(args.eval, args.quick), face_frames(args.eval, args.quick)
    ours_plates = load_our_plates(args.models, runtime, manifest)
    analyzer = load_face_analyzer(args.models, FaceConfig(), runtime, manifest)
    for f in fframes[:2] + [pf.frame for pf in pframes[:2]]:  # first frames allocate buffers
        analyzer.analyze(f)
        ours_plates.recognizer.recognize(f)
    memory_ours = rss_mb()
    ocr = load_generic_ocr(runtime)
    with tempfile.TemporaryDirectory(prefix="bench-faces-") as tmp:
        naive = load_naive_faces(args.models, runtime, manifest, Path(tmp))
        generic_plates(ocr, pframes[0].frame)
        naive.get(fframes[0])
        infer = FaceInference(args.models, runtime, manifest)
        print(
            f"{len(pframes)} plate frames, {len(fframes)} face frames, {rounds} rounds",
            file=sys.stderr,
        )
        samples = Samples()
        plate_hits = bench_plates(ours_plates, ocr, pframes, rounds, samples)
        face_counts = bench_faces(analyzer, naive, fframes, rounds, infer, samples)
    extra = {
        "frame_size": f"{W}x{H}",
        "plate_frames": len(pframes),
        "face_frames": len(fframes),
        "rounds": rounds,
        "cores": os.cpu_count(),
        "allow_spinning": runtime.allow_spinning,
        "rss_ours_mb": memory_ours["peak_mb"],
        "peak_rss_mb": rss_mb()["peak_mb"],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    result = summarise(samples, plate_hits, face_counts, extra)
    for key, value in result.items():
        print(f"{key:32s} {value}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
