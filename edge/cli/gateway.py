"""`edgewatch gateway run`: the gateway composition root on the command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.gateway.app import Gateway
    from edge.gateway.config import GatewayConfig

log = logging.getLogger(__name__)

#: `--once` without --deadline: how long a run that delivered nothing waits for the
#: store's first answer before it fails as "never reached the store"
FIRST_ANSWER_WAIT_S = 30.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gateway", help="run a camera gateway")
    gsub = p.add_subparsers(dest="gateway_command", required=True)
    r = gsub.add_parser("run", help="analyse cameras and deliver match evidence to the store")
    r.add_argument("--config", type=Path, required=True, metavar="FILE")
    r.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="URI",
        help="replaces the configured cameras (repeatable): file:PATH, folder:PATH, "
        "rtsp://..., http(s)://..., usb:N",
    )
    r.add_argument("--once", action="store_true", help="process finite sources, deliver, exit")
    r.add_argument("--deadline", type=float, metavar="SECONDS", help="with --once: give up after")
    r.add_argument("--models", type=Path, metavar="DIR", help="model pack (else EDGE_MODELS_DIR)")
    r.set_defaults(handler=run)


def _with_sources(config: GatewayConfig, sources: list[str]) -> GatewayConfig:
    from edge.gateway.config import CameraConfig

    if not sources:
        return config
    # every other camera setting (fps, analysis, ROI, privacy masks, recognisers,
    # location) is taken from the first configured camera, so a one-off run over a
    # file keeps the site's privacy zones
    base = config.cameras[0] if config.cameras else CameraConfig(id="cam-1", source="usb:0")
    cams = [
        base.model_copy(update={"id": f"cam-{i}", "source": uri})
        for i, uri in enumerate(sources, start=1)
    ]
    return config.model_copy(update={"cameras": cams})


def run(args: argparse.Namespace) -> int:
    from edge.config import load_model, resolve_models_dir
    from edge.errors import ConfigError
    from edge.gateway.app import Gateway
    from edge.gateway.config import GatewayConfig
    from edge.logs import setup_logging

    config = load_model(GatewayConfig, args.config)
    config = _with_sources(config, args.source)
    if not config.cameras:
        raise ConfigError(f"{args.config}: no cameras configured and no --source given")
    if args.deadline is not None and not args.once:
        raise ConfigError("--deadline needs --once")
    lc = config.logging
    setup_logging(
        level=lc.level,
        path=lc.path,
        max_bytes=lc.max_bytes,
        backups=lc.backups,
        stderr=lc.path is None or None,
    )
    models = resolve_models_dir(args.models, config.vision.models_dir)
    gateway = Gateway(config, models)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received, stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    gateway.start(wait_for_sync_s=10.0 if args.once else 0.0, once=args.once)
    try:
        if args.once:
            code, message = _once(gateway, config.store, args.deadline, stop)
            if code:
                print(f"edgewatch: error: {message}", file=sys.stderr)
            else:
                print(message)
            return code
        stop.wait()
        return 0
    finally:
        gateway.stop()


def _once(
    gateway: Gateway, store: str, deadline: float | None, stop: threading.Event
) -> tuple[int, str]:
    """Exit code and message of `gateway run --once`: run_once's (0 delivered, 2 refused,
    3 deadline), or 4 when the store never answered although nothing was pending."""
    from edge.gateway.app import run_once

    started = time.monotonic()
    result: list[tuple[int, str]] = []
    t = threading.Thread(target=lambda: result.append(run_once(gateway, deadline)), daemon=True)
    t.start()
    while t.is_alive():
        if stop.wait(0.2):
            return 130, "interrupted before the outbox drained (it is kept on disk)"
    code, message = result[0]
    if code != 0:
        return code, message
    end = started + deadline if deadline is not None else time.monotonic() + FIRST_ANSWER_WAIT_S
    uplink = gateway.uplink
    while not uplink.reached.is_set():
        if uplink.refused:
            return 2, uplink.refused
        if time.monotonic() > end:
            why = uplink.stats.last_error or "no answer"
            where = "" if store in why else f" at {store}"
            return 4, f"never reached the store{where}: {why}; nothing was delivered"
        if stop.wait(0.2):
            return 130, "interrupted before the store answered"
    return code, message
