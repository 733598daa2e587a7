"""runtime.variants: fp32 everywhere unless a role is switched, bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge.config import RuntimeConfig
from edge.variants import DEFAULT_SUBDIR, variants_dir


def test_fp32_is_the_default_for_every_role() -> None:
    variants = RuntimeConfig().variants.model_dump()
    assert set(variants) == {
        "face_detector",
        "face_embedder",
        "plate_detector",
        "plate_reader",
        "plate_color",
    }
    assert set(variants.values()) == {"fp32"}


def test_unknown_variant_or_role_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValidationError, match=r"variants.plate_reader[\s\S]*'fp32' or 'int8'"):
        RuntimeConfig.model_validate({"variants": {"plate_reader": "int4"}})
    with pytest.raises(ValidationError, match="plate_raeder"):
        RuntimeConfig.model_validate({"variants": {"plate_raeder": "int8"}})


def test_variants_folder_defaults_inside_the_pack(tmp_path: Path) -> None:
    assert variants_dir(tmp_path, RuntimeConfig()) == tmp_path / DEFAULT_SUBDIR
    chosen = RuntimeConfig(variants_dir=tmp_path / "int8")
    assert variants_dir(tmp_path / "pack", chosen) == tmp_path / "int8"
