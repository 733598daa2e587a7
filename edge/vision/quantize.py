"""int8 variants of pack models with onnxruntime.quantization.

Static QDQ quantization, per-channel int8 weights and uint8 activations, calibrated
with MinMax on inputs captured from the product pipeline (edge.vision.calibration).
The parent is read once from verified bytes; the variant is written with its sha256
into the folder's variant manifest. onnxruntime.quantization needs the `onnx` package
(extra `quantize`); gateways that only load variants never import this module.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import onnxruntime as ort
import yaml

from edge.config import RuntimeConfig
from edge.errors import ConfigError, ModelPackError
from edge.modelpack import ModelEntry, PackManifest, VerifiedModel, load_verified
from edge.variants import VARIANTS_FILE, VariantEntry, VariantManifest, load_variant_manifest
from edge.vision.calibration import Feed, capture
from edge.vision.runtime import create_session

log = logging.getLogger(__name__)

Method = Literal["static-qdq", "static-qoperator", "dynamic"]
METHODS: tuple[Method, ...] = ("static-qdq", "static-qoperator", "dynamic")
#: how activation ranges come from the calibration inputs: MinMax keeps every value;
#: Percentile (99.999) ignores rare outliers, which kept the face embedder's
#: verification scores closer to fp32 (docs/accuracy.md "Model variants")
Calibrate = Literal["minmax", "percentile", "entropy"]
CALIBRATE: tuple[Calibrate, ...] = ("minmax", "percentile", "entropy")


def _quantization() -> Any:
    try:
        from onnxruntime import quantization
    except ImportError as e:  # onnx missing: the tooling is an optional extra
        raise ConfigError(
            f"int8 quantization needs the `onnx` package ({e}); install the extra: "
            "pip install 'edgewatch[quantize]'"
        ) from None
    return quantization


#: only the weight-heavy ops: heads that concatenate pixel coordinates (0..640) with
#: probabilities (0..1) into one tensor (y5fu) lose every probability to one uint8
#: scale if Concat/Mul/Sigmoid are quantized too (measured: 0 plates found)
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul")
#: per-channel QDQ needs DequantizeLinear's axis attribute (opset 13)
MIN_OPSET = 13


def _upgrade_opset(path: Path) -> None:
    """Convert the graph to opset 13 with onnx's version converter (the pack's models
    are opset 11/12); onnxruntime.quantization only rewrites the opset number."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(path))
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < MIN_OPSET:
        onnx.save(version_converter.convert_version(model, MIN_OPSET), str(path))


def head_nodes(path: Path) -> list[str]:
    """Weight layers whose output reaches a graph output through weight-free ops only
    (the output heads): they stay float. Quantizing plate_rec_color's character head
    cost one exact read of 135 on the dev set (皖ADB5758 read as ...5750); keeping it
    float gives the fp32 reads back at almost the same speed."""
    import onnx

    graph = onnx.load(str(path)).graph
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}

    def reaches_output(tensors: list[str], seen: set[str]) -> bool:
        for t in tensors:
            if t in outputs:
                return True
            for n in consumers.get(t, []):
                if n.op_type in QUANTIZED_OPS or n.name in seen:
                    continue
                seen.add(n.name)
                if reaches_output(list(n.output), seen):
                    return True
        return False

    return [
        n.name
        for n in graph.node
        if n.op_type in QUANTIZED_OPS and n.name and reaches_output(list(n.output), set())
    ]


class _Feeds:
    """onnxruntime's CalibrationDataReader protocol over captured inputs."""

    def __init__(self, feeds: list[Feed]) -> None:
        self._it: Iterator[Feed] = iter(feeds)

    def get_next(self) -> Feed | None:
        return next(self._it, None)


def _quantize_file(
    src: Path, dst: Path, method: Method, calibrate: Calibrate, feeds: list[Feed]
) -> None:
    q = _quantization()
    # the calibrator's own sessions warn on every SCRFD run at a size other than the
    # graph's declared 640 (harmless); the product's sessions are quiet the same way
    ort.set_default_logger_severity(3)
    if method == "dynamic":
        q.quantize_dynamic(src, dst, weight_type=q.QuantType.QInt8, per_channel=True)
        return
    # onnxruntime's recommended pre-pass: shape inference and graph fusions (Conv+BN
    # etc.) first, so fused ops get one scale instead of two
    _upgrade_opset(src)
    pre = src.with_name("pre.onnx")
    q.shape_inference.quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    q.quantize_static(
        pre,
        dst,
        _Feeds(feeds),
        quant_format=q.QuantFormat.QDQ if method == "static-qdq" else q.QuantFormat.QOperator,
        per_channel=True,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        calibrate_method={
            "minmax": q.CalibrationMethod.MinMax,
            "percentile": q.CalibrationMethod.Percentile,
            "entropy": q.CalibrationMethod.Entropy,
        }[calibrate],
        op_types_to_quantize=list(QUANTIZED_OPS),
        nodes_to_exclude=head_nodes(pre),
    )


@dataclass(frozen=True, slots=True)
class QuantizeRequest:
    pack_dir: Path
    manifest: PackManifest
    eval_dir: Path
    out_dir: Path
    method: Method = "static-qdq"
    calibrate: Calibrate = "minmax"
    seed: int = 0
    images: int | None = None


def variant_file(entry: ModelEntry) -> str:
    return str(Path(entry.file).with_suffix(".int8.onnx"))


def quantize_model(req: QuantizeRequest, entry: ModelEntry) -> VariantEntry:
    """One int8 variant of one verified pack model, recorded in the variant manifest."""
    if req.method not in METHODS:
        raise ConfigError(f"quantization method {req.method!r} is not one of {list(METHODS)}")
    if req.calibrate not in CALIBRATE:
        raise ConfigError(f"calibration {req.calibrate!r} is not one of {list(CALIBRATE)}")
    parent = load_verified(req.pack_dir, entry)  # refuses a missing or altered parent
    calib = (
        None
        if req.method == "dynamic"
        else capture(req.pack_dir, req.manifest, entry, req.eval_dir, req.seed, req.images)
    )
    dst = req.out_dir / variant_file(entry)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgewatch-quantize-") as tmp:
        # the verified bytes, not the pack file again: it could change after the check
        src = Path(tmp) / "parent.onnx"
        src.write_bytes(parent.data)
        out = Path(tmp) / "variant.onnx"
        _quantize_file(src, out, req.method, req.calibrate, calib.feeds if calib else [])
        data = out.read_bytes()
    # the product must be able to load it: same contract checks as a pack file
    create_session(VerifiedModel(entry=entry, path=dst, data=data), RuntimeConfig())
    part = dst.with_name(dst.name + ".part")
    part.write_bytes(data)
    part.replace(dst)  # a reader of the folder never sees half a variant
    variant = VariantEntry(
        parent_id=entry.id,
        parent_file=entry.file,
        parent_sha256=parent.entry.sha256,
        variant="int8",
        file=variant_file(entry),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        method=f"{req.method} {req.calibrate} per-channel s8 weights, u8 activations"
        if req.method != "dynamic"
        else "dynamic per-channel s8 weights",
        onnxruntime=ort.__version__,
        calibration=calib.info if calib else None,
    )
    _record(req.out_dir, variant)
    log.info("int8 variant written", extra={"model": entry.id, "sha256": variant.sha256})
    return variant


def _record(out_dir: Path, variant: VariantEntry) -> None:
    """Replace the model's entry in the folder's manifest, keep the others."""
    current = load_variant_manifest(out_dir)
    others = [
        v
        for v in current.variants
        if (v.parent_id, v.variant) != (variant.parent_id, variant.variant)
    ]
    merged = VariantManifest.model_validate(
        {"schema": 1, "variants": sorted([*others, variant], key=lambda v: v.parent_id)}
    )
    text = yaml.safe_dump(
        merged.model_dump(mode="json", by_alias=True), sort_keys=False, allow_unicode=True
    )
    tmp = out_dir / (VARIANTS_FILE + ".tmp")
    tmp.write_text(
        "# Model variants made by `edgewatch models quantize`; loaded only when their\n"
        "# parent (pack file) and own sha256 match. Do not edit by hand.\n" + text,
        encoding="utf-8",
    )
    tmp.replace(out_dir / VARIANTS_FILE)


def select(manifest: PackManifest, ids: list[str] | None) -> list[ModelEntry]:
    if not ids:
        raise ModelPackError("name the models to quantize with --only ID ...")
    return [manifest.by_id(i) for i in ids]
