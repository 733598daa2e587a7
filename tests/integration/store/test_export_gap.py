"""An event after a recorded chain gap is still exportable; the independent verifier
then names the unprovable link instead of passing the package."""

from __future__ import annotations

from edge.evidence.package_verify import verify_package
from tests.support.loadgen import Deployment, serving, signed_chain


def test_export_after_a_gap_names_the_missing_link(deployment: Deployment) -> None:
    chain = signed_chain(deployment.signing_key(1), "gw-1", 3)
    with serving(deployment), deployment.gateway(1) as gw:
        acks = gw.deliver([chain[0], chain[2]])  # sequence 2 never arrives
        assert [a.status for a in acks] == ["stored", "stored"]
        with deployment.person("reviewer") as reviewer:
            shown = reviewer.get_event(chain[2].event.event_id)
            assert shown.integrity == "gap"
            out = deployment.root / "case"
            reviewer.export([chain[0].event.event_id, chain[2].event.event_id], out)
    problems = verify_package(out)
    assert len(problems) == 1, problems
    assert "predecessor of sequence 3 is missing" in problems[0]
    assert "not in the store" in problems[0]
