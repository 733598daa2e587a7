"""`edgewatch config check FILE`: explain every config error with its key path."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel

#: config kind -> "module:Class"; the `kind:` key at the top of a file selects it
CONFIG_KINDS: dict[str, str] = {
    "analyze": "edge.config:AnalyzeConfig",
    "store": "edge.store.config:StoreConfig",
    "client": "edge.review.config:ClientConfig",
    "gateway": "edge.gateway.config:GatewayConfig",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("config", help="check configuration files")
    csub = p.add_subparsers(dest="config_command", required=True)
    c = csub.add_parser("check", help="validate a config file and explain every error")
    c.add_argument("files", nargs="+", type=Path, metavar="FILE")
    c.set_defaults(handler=run_check)


def _model_for(kind: object, path: Path) -> type[BaseModel] | str:
    if not isinstance(kind, str) or kind not in CONFIG_KINDS:
        allowed = ", ".join(sorted(CONFIG_KINDS))
        return f"{path}: kind: must be one of {allowed} (got {kind!r})"
    module, _, cls = CONFIG_KINDS[kind].partition(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), cls)
    return model


def check_file(path: Path) -> list[str]:
    """Return the problems of one file (empty when it is valid)."""
    from pydantic import ValidationError

    from edge.config import format_validation_error, read_yaml
    from edge.errors import ConfigError

    try:
        data = read_yaml(path)
    except ConfigError as e:
        return [str(e)]
    model = _model_for(data.get("kind"), path)
    if isinstance(model, str):
        return [model]
    try:
        model.model_validate(data)
    except ValidationError as e:
        return format_validation_error(e, str(path), model)
    return []


def run_check(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        problems = check_file(path)
        if problems:
            failed = True
            for line in problems:
                print(line, file=sys.stderr)
        else:
            print(f"{path}: ok")
    return 1 if failed else 0
