import os
import time
from pathlib import Path

from edge.pki import RevocationList


def test_reloads_when_the_file_changes_and_keeps_the_last_good_list(tmp_path: Path) -> None:
    path = tmp_path / "revoked.txt"
    path.write_text("# none yet\n")
    rl = RevocationList(path, interval_s=0.0)
    rl.load()
    assert rl.current() == frozenset()
    path.write_text("0abc\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert rl.current() == frozenset({"abc"})
    path.write_text("not hex!\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert rl.current() == frozenset({"abc"}), "a broken file must not open the door"


def test_no_file_configured_is_empty() -> None:
    rl = RevocationList(None)
    rl.load()
    assert rl.current() == frozenset()
