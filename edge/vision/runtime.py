"""ONNX Runtime sessions built from verified model bytes and the runtime config."""

from __future__ import annotations

import logging
from typing import Any

import onnxruntime as ort

from edge.config import RuntimeConfig
from edge.errors import ModelPackError
from edge.modelpack import VerifiedModel

log = logging.getLogger(__name__)

_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}


def session_options(runtime: RuntimeConfig) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # graph-initializer chatter is not actionable for operators
    if runtime.intra_op_threads:
        opts.intra_op_num_threads = runtime.intra_op_threads
    opts.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if runtime.allow_spinning else "0"
    )
    opts.add_session_config_entry(
        "session.inter_op.allow_spinning", "1" if runtime.allow_spinning else "0"
    )
    return opts


def providers_for(runtime: RuntimeConfig) -> list[str]:
    available = set(ort.get_available_providers())
    chosen = []
    for p in runtime.providers:
        name = _PROVIDERS[p]
        if name in available:
            chosen.append(name)
        else:
            log.warning("execution provider not available, skipped", extra={"provider": p})
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def create_session(model: VerifiedModel, runtime: RuntimeConfig) -> Any:
    """Create one inference session; the declared input contract must match the graph."""
    try:
        sess = ort.InferenceSession(
            model.data, sess_options=session_options(runtime), providers=providers_for(runtime)
        )
    except Exception as e:  # onnxruntime raises its own untyped errors
        raise ModelPackError(
            f"model {str(model.path)!r} cannot be loaded by onnxruntime: {e}"
        ) from e
    check_shapes(model, sess)
    return sess


def _dims_match(declared: list[int], actual: list[Any]) -> bool:
    if len(declared) != len(actual):
        return False
    return all(
        d == -1 or not isinstance(a, int) or a == d for d, a in zip(declared, actual, strict=True)
    )


def check_shapes(model: VerifiedModel, sess: Any) -> None:
    entry = model.entry
    inp = sess.get_inputs()[0]
    if inp.name != entry.input.name or not _dims_match(entry.input.shape, list(inp.shape)):
        raise ModelPackError(
            f"model {str(model.path)!r}: input {inp.name} {inp.shape} does not match the manifest "
            f"({entry.input.name} {entry.input.shape})"
        )
    outs = sess.get_outputs()
    if len(outs) != len(entry.outputs):
        raise ModelPackError(
            f"model {str(model.path)!r}: {len(outs)} outputs, "
            f"manifest declares {len(entry.outputs)}"
        )
    for o, d in zip(outs, entry.outputs, strict=True):
        if o.name != d.name or not _dims_match(d.shape, list(o.shape)):
            raise ModelPackError(
                f"model {str(model.path)!r}: output {o.name} {o.shape} does not match the manifest "
                f"({d.name} {d.shape})"
            )
