"""Layering rules, read from the source: who may import what (DESIGN.md "Layering").

Static: every import statement of the package, top-level or inside a function, so a
lazy import cannot hide a violation. The run-time check (what a fresh interpreter
loads) is tests/integration/cli/test_review_cli_light.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import edge

PACKAGE = Path(edge.__file__).parent
#: what the reviewer client and the API types they share with the store may not import
HEAVY = (
    "edge.store",
    "edge.vision",
    "edge.gateway",
    "edge.cli",
    "cv2",
    "insightface",
    "onnxruntime",
)


def _imports(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts)


def _violations(files: list[Path], banned: tuple[str, ...]) -> list[str]:
    return [
        f"{_module(f)}:{line} imports {name}"
        for f in files
        for line, name in _imports(f)
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]


def test_only_cli_entry_points_import_edge_cli() -> None:
    files = [
        f
        for f in PACKAGE.rglob("*.py")
        if "cli" not in f.relative_to(PACKAGE).parts[:1] and f.name != "__main__.py"
    ]
    assert len(files) > 100
    assert _violations(files, ("edge.cli",)) == []


def test_reviewer_client_and_api_types_import_nothing_heavy() -> None:
    files = [
        *(PACKAGE / "review").rglob("*.py"),
        *(PACKAGE / "api").rglob("*.py"),
        *(PACKAGE / "wire").glob("*mapping.py"),
    ]
    assert {f.name for f in files} >= {"client.py", "types.py", "review_mapping.py"}
    assert _violations(files, HEAVY) == []


def test_gateway_and_client_configs_do_not_import_the_store() -> None:
    files = [PACKAGE / "gateway" / "config.py", PACKAGE / "review" / "config.py"]
    assert _violations(files, ("edge.store",)) == []


def test_gateway_and_the_viid_core_do_not_import_the_store() -> None:
    """Gateway and store are siblings; edge/viid (GA/T 1400 objects, IDs, digest auth) is
    shared by both, so it imports neither."""
    gateway = list((PACKAGE / "gateway").rglob("*.py"))
    viid = list((PACKAGE / "viid").rglob("*.py"))
    assert {f.name for f in gateway} >= {"viid_config.py", "viid_source.py", "viid_app.py"}
    assert _violations(gateway, ("edge.store",)) == []
    assert _violations(viid, ("edge.store", "edge.gateway", "edge.cli")) == []


def test_no_test_tooling_in_the_package() -> None:
    shipped = {_module(f) for f in PACKAGE.rglob("*.py")}
    moved = {"edge.store.loadgen", "edge.gateway.backlog", "edge.evidence.samples"}
    assert shipped & moved == set()


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    """The rules above would be empty promises if imports inside functions were missed."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from edge.store.server import StoreServer\n    import cv2\n")
    assert [name for _, name in _imports(probe)] == ["edge.store.server", "cv2"]
