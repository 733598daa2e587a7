"""Model packs: a folder of ONNX files described by a pinned manifest.

The manifest (models/manifest.yaml) is the only source of truth about a model:
file, sha256, size, input contract and labels. Nothing here downloads anything;
``edge.models_fetch`` does that, explicitly, on request.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config import StrictModel, load_model
from edge.errors import ConfigError, ModelPackError

log = logging.getLogger(__name__)

Role = Literal["face_detector", "face_embedder", "plate_detector", "plate_reader", "plate_color"]
#: models/manifest.yaml, reached through a symlink in the package so that installed
#: wheels (which copy the file) carry it too
DEFAULT_MANIFEST = Path(__file__).parent / "assets" / "manifest.yaml"


class InputContract(StrictModel):
    name: str
    shape: list[int] = Field(description="-1 marks a dynamic dimension")
    layout: Literal["NCHW", "NHWC"]
    color: Literal["RGB", "BGR"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: str
    pad_value: float = 0.0
    #: whether pad_value is a pixel value (padded before normalising) or a value of the
    #: normalised tensor (padded after, as PaddleOCR does)
    pad_space: Literal["pixel", "normalised"] = "pixel"


class OutputContract(StrictModel):
    name: str
    shape: list[int]


class ModelEntry(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    role: Role
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0)
    input: InputContract
    outputs: list[OutputContract]
    output_contract: str
    licence: str
    url: str | None = None
    alphabet: str | None = None
    labels: list[str] | None = None


class PackManifest(StrictModel):
    schema_: Literal[1] = Field(alias="schema")
    name: str
    models: list[ModelEntry]

    def by_id(self, model_id: str) -> ModelEntry:
        for m in self.models:
            if m.id == model_id:
                return m
        known = ", ".join(m.id for m in self.models)
        raise ModelPackError(f"model {model_id!r} is not in pack {self.name!r} (known: {known})")


def load_manifest(path: Path | None = None) -> PackManifest:
    try:
        return load_model(PackManifest, path or DEFAULT_MANIFEST)
    except ConfigError as e:
        raise ModelPackError(f"bad model manifest: {e}") from None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class VerifiedModel:
    """A model file whose bytes were checked against its manifest entry."""

    entry: ModelEntry
    path: Path
    data: bytes


def load_verified(pack_dir: Path, entry: ModelEntry) -> VerifiedModel:
    """Read a model file once and check size and sha256 before anyone uses it.

    The same bytes that were hashed are handed to onnxruntime, so a file swapped
    between check and load cannot be run.
    """
    path = pack_dir / entry.file
    fix = f"run `edgewatch models fetch --to {pack_dir}` or use a verified pack"
    if not path.is_file():
        raise ModelPackError(
            f"model file {str(path)!r} ({entry.role} {entry.id}) is missing; {fix}"
        )
    data = path.read_bytes()
    if len(data) != entry.size:
        raise ModelPackError(
            f"model file {str(path)!r} has {len(data)} bytes, manifest expects {entry.size}; {fix}"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise ModelPackError(
            f"model file {str(path)!r} has sha256 {digest}, manifest expects {entry.sha256}; {fix}"
        )
    return VerifiedModel(entry=entry, path=path, data=data)
