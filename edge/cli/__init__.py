"""`edgewatch` command line: one composition root per sub-command.

Each sub-command module exposes ``register(subparsers)``; handlers return an exit
code. Any ``EdgeError`` becomes one line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, MutableMapping, Sequence

from edge.errors import EdgeError

log = logging.getLogger(__name__)

#: sub-command modules under edge.cli, each with register(subparsers)
COMMAND_MODULES = (
    "analyze",
    "models",
    "watchlist",
    "config_cmd",
    "init_cmd",
    "evidence",
    "gateway",
    "store",
    "review",
    "audit",
    "status",
    "demo",
)

Handler = Callable[[argparse.Namespace], int]


def quiet_grpc_native_logs(environ: MutableMapping[str, str] = os.environ) -> None:
    """Silence gRPC's C core, which writes its own lines to stderr ("I1207 ...
    ssl_transport_security.cc ... Handshake failed"), past our JSON log and its
    redaction filter; what they report reaches the log in our words instead
    (edge/tlscheck.py). gRPC reads the variables when it is first imported. An
    operator who sets either one (to debug: GRPC_VERBOSITY=DEBUG GRPC_TRACE=handshaker)
    gets gRPC's own output."""
    if "GRPC_VERBOSITY" not in environ and "GRPC_TRACE" not in environ:
        environ["GRPC_VERBOSITY"] = "NONE"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgewatch",
        description="Edge face and Chinese licence-plate recognition with signed evidence.",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level on stderr (default WARNING)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"edge.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    quiet_grpc_native_logs()  # first: before any sub-command imports grpc
    parser = build_parser()
    args = parser.parse_args(argv)
    from edge.logs import setup_logging

    setup_logging(level=args.log_level)
    handler: Handler = args.handler
    try:
        return handler(args)
    except EdgeError as e:
        print(f"edgewatch: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("edgewatch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
