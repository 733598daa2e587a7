"""Watchlist, users, gateways and audit log: same suite on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from edge.store.audit_chain import verify_audit_chain
from edge.store.repository import FaceTemplate, Subject, User
from edge.store.sql_repo import SqlRepository


def template(tid: str, sid: str, model: str = "mbf128", seed: int = 0) -> FaceTemplate:
    v = np.random.default_rng(seed).standard_normal(128).astype("<f4")
    return FaceTemplate(tid, sid, model, (v / np.linalg.norm(v)).astype("<f4").tobytes())


def test_watchlist_versions_and_compacted_deltas(repo: SqlRepository) -> None:
    wl = repo.watchlist
    assert wl.version() == 0
    v1 = wl.upsert_subject(Subject("s1", "vendor A", plates=("粤B12345",)), "root", 1)
    v2 = wl.upsert_subject(Subject("s2", "vendor B", templates=(template("t1", "s2"),)), "root", 2)
    v3 = wl.upsert_subject(Subject("s1", "vendor A2", plates=("粤B12345", "粤B54321")), "root", 3)
    assert (v1, v2, v3) == (1, 2, 3) and wl.version() == 3
    s1 = wl.get_subject("s1")
    assert s1 is not None and s1.label == "vendor A2" and s1.plates == ("粤B12345", "粤B54321")
    changes = wl.changes_since(1)
    # s1 changed twice after v1: one upsert with its present state
    assert [(c.version, c.op, c.subject_id) for c in changes] == [
        (2, "upsert", "s2"),
        (3, "upsert", "s1"),
    ]
    assert wl.remove_subject("s2", "root", 4) == 4
    assert wl.remove_subject("s2", "root", 5) is None
    assert [(c.op, c.subject_id) for c in wl.changes_since(3)] == [("remove", "s2")]
    assert wl.all_templates("mbf128") == []
    assert [s.subject_id for s in wl.list_subjects()] == ["s1"]


def test_templates_keep_model_ids_and_vectors(repo: SqlRepository) -> None:
    t = [template("a", "s1", seed=1), template("b", "s1", "other512", seed=2)]
    repo.watchlist.upsert_subject(Subject("s1", "x", templates=tuple(t)), "root", 1)
    got = repo.watchlist.all_templates("mbf128")
    assert got == [t[0]]
    assert repo.watchlist.template_models() == {"mbf128": 1, "other512": 1}


def test_users_by_token_hash_and_revocation(repo: SqlRepository) -> None:
    repo.users.put_user(User("ann", "reviewer", "a" * 64, 5))
    repo.users.put_user(User("bob", "viewer", "b" * 64, 6))
    ann = repo.users.user_by_token_hash("a" * 64)
    assert ann is not None and (ann.name, ann.role, ann.revoked) == ("ann", "reviewer", False)
    assert repo.users.user_by_token_hash("c" * 64) is None
    repo.users.put_user(User("ann", "admin", "d" * 64, 7))  # re-issued token
    assert repo.users.user_by_token_hash("a" * 64) is None
    revoked = repo.users.revoke_user("bob")
    assert revoked is not None and revoked.revoked
    assert [u.name for u in repo.users.list_users()] == ["ann", "bob"]


def test_gateway_registration_heartbeat_and_revocation(repo: SqlRepository) -> None:
    info = repo.gateways.register_gateway("gw-1", b"k" * 32, "c" * 64, 10)
    assert (info.head.last_sequence, info.revoked, info.last_heartbeat_us) == (0, False, None)
    repo.gateways.record_heartbeat("gw-1", 20, '{"queue_depth": 3}', "mbf128")
    repo.gateways.add_problem("gw-1", "signature failed for event x")
    info2 = repo.gateways.get_gateway("gw-1")
    assert info2 is not None
    assert (info2.last_heartbeat_us, info2.face_model_id) == (20, "mbf128")
    assert info2.problems == ("signature failed for event x",)
    revoked = repo.gateways.revoke_gateway("gw-1")
    assert revoked is not None and revoked.revoked
    rekeyed = repo.gateways.register_gateway("gw-1", b"n" * 32, None, 30)
    assert rekeyed.public_key == b"n" * 32 and not rekeyed.revoked
    assert rekeyed.registered_at_us == 10


def test_audit_log_is_hash_chained_and_tamper_evident(repo: SqlRepository) -> None:
    for i in range(5):
        repo.audit.append(100 + i, "ann", "review.search", f'{{"n": {i}}}')
    entries = repo.audit.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    result = verify_audit_chain(entries)
    assert result.ok and result.entries == 5 and result.head_hash == repo.audit.head()[1]
    # tamper with entry 3 behind the store's back
    with repo._db.write() as tx:
        tx.run("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    bad = verify_audit_chain(repo.audit.entries())
    assert not bad.ok and bad.first_bad_seq == 3 and "altered" in bad.problem
    with repo._db.write() as tx:
        tx.run("DELETE FROM audit_log WHERE seq = 3")
    gone = verify_audit_chain(repo.audit.entries())
    assert not gone.ok and gone.first_bad_seq == 3


@pytest.mark.parametrize("n", [1, 3])
def test_audit_pages(repo: SqlRepository, n: int) -> None:
    for i in range(4):
        repo.audit.append(i, "x", "a", "{}")
    assert [e.seq for e in repo.audit.entries(after_seq=1, limit=n)] == list(range(2, 2 + n))
