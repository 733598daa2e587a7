"""The log privacy filter: no plate, embedding, image byte, token or name gets out."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edge.logs import JsonFormatter, setup_logging
from edge.redact import REDACTED, RedactionFilter, mask_plates, sanitize

PLATES = ["粤B12345", "京AD12345", "沪A·F1234", "苏E 3C5D7", "WJ粤12345", "粤Z1234港", "使014578"]


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactionFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize(
    ("plate", "masked"),
    [
        ("粤B12345", "粤B·***45"),
        ("粤H·12345", "粤H·***45"),
        ("京AD12345", "京A·****45"),
        ("WJ粤12345", "WJ·****45"),
        ("使014578", "使·****78"),
    ],
)
def test_mask_plates_keeps_only_province_letter_and_last_two(plate: str, masked: str) -> None:
    assert mask_plates(f"read {plate} at gate") == f"read {masked} at gate"


def test_mask_leaves_ordinary_text_alone() -> None:
    text = "camera cam-01 analysed 12345 frames; event 01J9ZQ3V7N4X2K5M8P0R6T1W3Y ok"
    assert mask_plates(text) == text


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_plates_in_message_args_and_extras_are_masked(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    for plate in PLATES:
        logger.warning("plate %s matched", plate, extra={"read": plate, "nested": {"p": [plate]}})
        logger.info(f"inline {plate}")
    out = stream.getvalue()
    for plate in PLATES:
        assert plate not in out
        assert plate.replace("·", "").replace(" ", "") not in out
    assert len(_lines(stream)) == 2 * len(PLATES)


def test_embeddings_bytes_tokens_names_never_serialised(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    vec = np.array([0.123456, -0.654321, 0.777777], dtype=np.float32)
    jpeg = b"\xff\xd8\xff\xe0SECRETJPEGBYTES"
    logger.error(
        "match",
        extra={
            "embedding": vec,
            "payload": jpeg,
            "blob": bytearray(b"RAWBLOB"),
            "token": "tok-SUPERSECRET",
            "password": "hunter2-pw",
            "subject_name": "张三",
            "label": "Zhang San",
            "data": {"vec": vec, "auth_token": "tok-NESTEDSECRET", "subject_id": "S-42"},
            "subject_id": "S-42",
            "similarity": np.float32(0.5),
        },
    )
    out = stream.getvalue()
    for leak in ("0.123456", "SECRETJPEG", "RAWBLOB", "SUPERSECRET", "hunter2", "张三", "Zhang"):
        assert leak not in out
    assert "NESTEDSECRET" not in out
    (line,) = _lines(stream)
    assert line["subject_id"] == "S-42"  # subjects appear as ids
    assert line["embedding"] == REDACTED and line["payload"] == REDACTED
    assert line["similarity"] == pytest.approx(0.5)


@dataclass(frozen=True)
class _Hit:
    subject_id: str
    text: str
    vector: np.ndarray


class _Opaque:
    def __repr__(self) -> str:
        return "Opaque(粤B12345, [0.123456])"


def test_objects_are_reduced_to_safe_fields(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    hit = _Hit("S-1", "粤B12345", np.ones(4, np.float32) * 0.123456)
    logger.warning("hit %s %r", _Opaque(), _Opaque(), extra={"hit": hit, "obj": _Opaque()})
    out = stream.getvalue()
    assert "粤B12345" not in out
    (line,) = _lines(stream)
    assert line["hit"] == {"subject_id": "S-1", "text": "粤B·***45", "vector": REDACTED}
    assert line["obj"] == "<_Opaque>"


def test_exception_text_is_masked(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise ValueError("plate 粤B12345 not on the list")
    except ValueError:
        logger.exception("lookup failed")
    (line,) = _lines(stream)
    assert "粤B12345" not in stream.getvalue()
    assert "粤B·***45" in str(line["exc"])


def test_sanitize_caps_depth_and_size() -> None:
    deep: dict[str, object] = {"a": {"b": {"c": {"d": {"e": "粤B12345"}}}}}
    assert "粤B12345" not in json.dumps(sanitize(deep), ensure_ascii=False)
    assert len(sanitize(list(range(1000)))) == 50


def test_setup_logging_rotates_and_filters_every_handler(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "gateway.jsonl"
    redaction = setup_logging("INFO", path=log_file, max_bytes=64 << 10, backups=2)
    try:
        root = logging.getLogger()
        assert root.handlers and all(redaction in h.filters for h in root.handlers)
        child = logging.getLogger("edge.gateway.something")
        for i in range(3000):
            child.info("frame %d plate %s", i, "粤B12345", extra={"image": b"x" * 10})
        for h in root.handlers:
            h.flush()
        files = sorted(p.name for p in log_file.parent.iterdir())
        assert files == ["gateway.jsonl", "gateway.jsonl.1", "gateway.jsonl.2"]
        total = sum(p.stat().st_size for p in log_file.parent.iterdir())
        assert total <= 3 * (64 << 10) + 1024
        text = "".join(p.read_text(encoding="utf-8") for p in log_file.parent.iterdir())
        assert "粤B12345" not in text and "粤B·***45" in text
        assert all(json.loads(line)["image"] == REDACTED for line in text.splitlines())
    finally:
        setup_logging("WARNING")


def test_a_failing_handler_never_prints_the_exception_being_handled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """logging's default error report prints the context chain: an FFmpeg error being
    handled names its URL, password included; ours says one line."""
    setup_logging("INFO", path=tmp_path / "gw.jsonl")
    try:
        for h in logging.getLogger().handlers:
            h.close()
            if isinstance(h, logging.StreamHandler):
                h.stream = io.StringIO()
                h.stream.close()  # every write now fails
        try:
            raise OSError("rtsp://admin:s3cr3t-Pa55@10.0.0.1/stream: connection refused")
        except OSError:
            logging.getLogger("edge.gateway.test").warning("camera cannot be opened")
        err = capsys.readouterr().err
        assert "a log handler failed (ValueError)" in err
        assert "s3cr3t" not in err
    finally:
        setup_logging("WARNING")
