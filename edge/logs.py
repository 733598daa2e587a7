"""Structured (JSON lines), privacy-filtered, size-bounded logging for every process.

Every handler installed here carries the same ``RedactionFilter`` instance, so there
is exactly one place that decides what may reach a log line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.redact import RESERVED_ATTRS, RedactionFilter

DEFAULT_MAX_BYTES = 20 << 20
DEFAULT_BACKUPS = 5
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in RESERVED_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        # default=str only meets values the redaction filter already made safe
        return json.dumps(out, ensure_ascii=False, default=str)


def _quiet_handle_error(record: logging.LogRecord) -> None:
    """A handler that cannot write (disk full, stream closed) says so in one line.

    logging's default prints the failing exception with its whole context chain and
    the call stack to stderr, unfiltered: an exception being handled when the record
    was made (an FFmpeg error names its URL, password included) would reach stderr
    past the redaction filter."""
    exc = sys.exc_info()[1]
    name = type(exc).__name__ if exc is not None else "error"
    with contextlib.suppress(Exception):
        sys.stderr.write(f"edgewatch: a log handler failed ({name}); a record was lost\n")


def setup_logging(
    level: str = "WARNING",
    json: bool = True,
    path: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    stderr: bool | None = None,
) -> RedactionFilter:
    """Configure the root logger; returns the one redaction filter in use.

    With ``path`` the log goes to a size-rotated file (``max_bytes`` per file,
    ``backups`` old files kept), so a gateway's disk use by logs is bounded. Stderr
    output defaults to on without a file and off with one.
    """
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    redaction = RedactionFilter()
    formatter: logging.Formatter = JsonFormatter() if json else logging.Formatter(_TEXT_FORMAT)
    handlers: list[logging.Handler] = []
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    if stderr if stderr is not None else path is None:
        handlers.append(logging.StreamHandler(sys.stderr))
    for h in handlers:
        h.setFormatter(formatter)
        h.addFilter(redaction)
        h.handleError = _quiet_handle_error  # type: ignore[method-assign]
        root.addHandler(h)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return redaction
