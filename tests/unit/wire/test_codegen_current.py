"""The committed stubs in edge/wire/v1 are exactly what protoc produces from proto/."""

from __future__ import annotations

import subprocess
import sys

from edge.wire import gen


def test_committed_stubs_match_protoc_output() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge.wire.gen", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_check_notices_a_changed_stub() -> None:
    expected = gen.generate()
    actual = gen.current()
    assert gen.diff(expected, actual) == []
    altered = dict(actual)
    altered["events_pb2.py"] += "\n# edited by hand\n"
    del altered["review_pb2.pyi"]
    altered["old_pb2.py"] = ""
    problems = gen.diff(expected, altered)
    assert problems == [
        "missing: review_pb2.pyi",
        "stale (no proto produces it): old_pb2.py",
        "out of date: events_pb2.py",
    ]


def test_generated_modules_import_under_edge_wire() -> None:
    from edge.wire.v1 import ingest_pb2

    req = ingest_pb2.DeliverRequest()
    req.events.add().event.event_id = "e1"
    assert type(req.events[0]).__module__ == "edge.wire.v1.events_pb2"
    assert ingest_pb2.DeliverRequest.FromString(req.SerializeToString()) == req
