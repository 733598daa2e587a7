"""Which events an audit entry is about: the rule the audit_subjects index is built by."""

from __future__ import annotations

import pytest

from edge.store.audit_chain import events_named


@pytest.mark.parametrize(
    ("detail_json", "named"),
    [
        ('{"event_id":"e1","name":"scene.jpg"}', {"e1"}),
        ('{"event_ids":["e1","e2","e1"],"filters":{"plate":"x"}}', {"e1", "e2"}),
        ('{"event_id":"e3","event_ids":["e1"]}', {"e1", "e3"}),
        ('{"dispatch_id":"d1","note":"e1"}', set()),
        ('{"event_ids":"e1","event_id":7}', set()),  # wrong shapes name nothing
        ('{"event_ids":[1,null,"e2"]}', {"e2"}),
        ("{}", set()),
        ('["e1"]', set()),
        ("not json", set()),
    ],
)
def test_events_named(detail_json: str, named: set[str]) -> None:
    assert events_named(detail_json) == named
