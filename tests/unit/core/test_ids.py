import uuid

from edge.ids import uuid7


def test_uuid7_version_variant_and_order() -> None:
    a = uuid7(1_700_000_000_000)
    b = uuid7(1_700_000_000_001)
    ua = uuid.UUID(a)
    assert ua.version == 7
    assert ua.variant == uuid.RFC_4122
    assert a < b
    assert int(ua.hex[:12], 16) == 1_700_000_000_000


def test_uuid7_unique() -> None:
    ids = {uuid7(5) for _ in range(1000)}
    assert len(ids) == 1000
