"""Model variants: cheaper copies of pack models (e.g. int8) made by
`edgewatch models quantize`, described by a variant manifest beside them.

A variant is only ever loaded through its manifest entry, which pins both the parent
(the pack file it was made from, by sha256) and the variant's own bytes, so a variant
made from another parent, or altered on disk, is refused. Nothing here needs the
quantization tooling (onnx); gateways only read and verify.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config import RuntimeConfig, StrictModel, load_model
from edge.errors import ConfigError, ModelPackError
from edge.modelpack import ModelEntry, PackManifest, VerifiedModel, load_verified

log = logging.getLogger(__name__)

#: the variant manifest inside a variants folder
VARIANTS_FILE = "variants.yaml"
#: where variants are looked for when runtime.variants_dir is not set
DEFAULT_SUBDIR = "variants"


class Calibration(StrictModel):
    """What a static quantization was calibrated on (files of the evaluation set)."""

    role: str
    seed: int
    files: list[str]
    #: sha256 over the sorted (file, file sha256) lines: the same images give the same hash
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    inputs: int = Field(ge=1, description="input tensors captured from the product pipeline")


class VariantEntry(StrictModel):
    parent_id: str
    parent_file: str
    parent_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    variant: Literal["int8"]
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0)
    method: str
    onnxruntime: str
    calibration: Calibration | None = None


class VariantManifest(StrictModel):
    schema_: Literal[1] = Field(alias="schema")
    variants: list[VariantEntry] = Field(default_factory=list)

    def find(self, parent: ModelEntry, variant: str) -> VariantEntry | None:
        for v in self.variants:
            if v.parent_id == parent.id and v.variant == variant:
                return v
        return None


def variants_dir(pack_dir: Path, runtime: RuntimeConfig) -> Path:
    return runtime.variants_dir or pack_dir / DEFAULT_SUBDIR


def load_variant_manifest(folder: Path) -> VariantManifest:
    path = folder / VARIANTS_FILE
    if not path.is_file():
        return VariantManifest.model_validate({"schema": 1})
    try:
        return load_model(VariantManifest, path)
    except ConfigError as e:
        raise ModelPackError(f"bad variant manifest {str(path)!r}: {e}") from None


def load_verified_variant(folder: Path, parent: ModelEntry, variant: str) -> VerifiedModel:
    """The variant's bytes, checked against its manifest entry and its parent's sha256.

    The returned model keeps the parent's manifest entry: a variant has the parent's
    input/output contract (runtime.check_shapes enforces it on the graph).
    """
    fix = f"run `edgewatch models quantize --to {folder} --only {parent.id}`"
    entry = load_variant_manifest(folder).find(parent, variant)
    if entry is None:
        raise ModelPackError(
            f"no {variant} variant of {parent.id!r} in {str(folder / VARIANTS_FILE)!r}; {fix}"
        )
    if entry.parent_sha256 != parent.sha256:
        raise ModelPackError(
            f"{variant} variant {entry.file!r} was made from {parent.id} sha256 "
            f"{entry.parent_sha256}, the pack's is {parent.sha256}; {fix}"
        )
    path = folder / entry.file
    if not path.is_file():
        raise ModelPackError(f"{variant} variant file {str(path)!r} is missing; {fix}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != entry.size or digest != entry.sha256:
        raise ModelPackError(
            f"{variant} variant file {str(path)!r} has sha256 {digest} ({len(data)} bytes), "
            f"its variant manifest expects {entry.sha256} ({entry.size} bytes); "
            f"the file was altered or replaced; {fix}"
        )
    return VerifiedModel(entry=parent, path=path, data=data)


def load_for_runtime(pack_dir: Path, entry: ModelEntry, runtime: RuntimeConfig) -> VerifiedModel:
    """The model a role runs with: the pack's verified fp32 file, or the configured
    variant of it (whose parent is verified first, so a variant never outlives its pack)."""
    variant = getattr(runtime.variants, entry.role)
    parent = load_verified(pack_dir, entry)
    if variant == "fp32":
        return parent
    model = load_verified_variant(variants_dir(pack_dir, runtime), entry, variant)
    log.info("model variant loaded", extra={"model": entry.id, "variant": variant})
    return model


@dataclass(frozen=True, slots=True)
class VariantCheck:
    entry: VariantEntry
    ok: bool
    detail: str


def verify_variants(folder: Path, manifest: PackManifest) -> list[VariantCheck]:
    """Every variant of a folder against its own entry and the pack manifest's parent
    (`edgewatch models verify --variants DIR`); the parent's own file is checked by the
    pack verification beside it."""
    out = []
    for v in load_variant_manifest(folder).variants:
        try:
            parent = manifest.by_id(v.parent_id)
        except ModelPackError as e:
            out.append(VariantCheck(v, False, str(e)))
            continue
        if parent.sha256 != v.parent_sha256:
            detail = f"made from sha256 {v.parent_sha256}, the manifest pins {parent.sha256}"
            out.append(VariantCheck(v, False, detail))
            continue
        path = folder / v.file
        if not path.is_file():
            out.append(VariantCheck(v, False, f"{str(path)!r} is missing"))
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != v.sha256 or len(data) != v.size:
            detail = f"sha256 {digest} ({len(data)} bytes), expected {v.sha256} ({v.size} bytes)"
            out.append(VariantCheck(v, False, detail))
            continue
        out.append(VariantCheck(v, True, ""))
    return out
