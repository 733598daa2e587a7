"""The central watchlist in SQL: subjects, plates, face templates, versioned changes.

Every change bumps one version counter and logs (version, op, subject). Deltas are
built from that log and the current rows: a gateway at version v receives, for each
subject touched after v, its present state (upsert) or its removal; so the log never
stores templates twice and replaying deltas always converges to the snapshot.
"""

from __future__ import annotations

from edge.store.repository import FaceTemplate, Subject, WatchlistChange
from edge.store.sql import Database, Tx


class SqlWatchlist:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _bump(self, tx: Tx, subject_id: str, op: str, actor: str, at_us: int) -> int:
        lock = self._db.dialect.for_update
        row = tx.row("SELECT value FROM counters WHERE name = 'watchlist'" + lock)
        assert row is not None, "counters are seeded when the schema is created"
        version = int(row[0]) + 1
        tx.run("UPDATE counters SET value = ? WHERE name = 'watchlist'", (version,))
        tx.run(
            "INSERT INTO watchlist_changes (version, op, subject_id, actor, at_us)"
            " VALUES (?, ?, ?, ?, ?)",
            (version, op, subject_id, actor, at_us),
        )
        return version

    def upsert_subject(self, subject: Subject, actor: str, at_us: int) -> int:
        sid = subject.subject_id
        with self._db.write() as tx:
            version = self._bump(tx, sid, "upsert", actor, at_us)
            n = tx.run("UPDATE subjects SET label = ? WHERE id = ?", (subject.label, sid))
            if n == 0:
                tx.run(
                    "INSERT INTO subjects (id, label, created_at_us) VALUES (?, ?, ?)",
                    (sid, subject.label, subject.created_at_us),
                )
            tx.run("DELETE FROM subject_plates WHERE subject_id = ?", (sid,))
            tx.run("DELETE FROM face_templates WHERE subject_id = ?", (sid,))
            tx.run_many(
                "INSERT INTO subject_plates (subject_id, text) VALUES (?, ?)",
                [(sid, p) for p in dict.fromkeys(subject.plates)],
            )
            tx.run_many(
                "INSERT INTO face_templates (id, subject_id, model_id, vector) VALUES (?, ?, ?, ?)",
                [(t.template_id, sid, t.model_id, t.vector) for t in subject.templates],
            )
        return version

    def remove_subject(self, subject_id: str, actor: str, at_us: int) -> int | None:
        with self._db.write() as tx:
            if tx.row("SELECT 1 FROM subjects WHERE id = ?", (subject_id,)) is None:
                return None
            version = self._bump(tx, subject_id, "remove", actor, at_us)
            tx.run("DELETE FROM subject_plates WHERE subject_id = ?", (subject_id,))
            tx.run("DELETE FROM face_templates WHERE subject_id = ?", (subject_id,))
            tx.run("DELETE FROM subjects WHERE id = ?", (subject_id,))
        return version

    def _load(self, tx: Tx, ids: list[str] | None) -> list[Subject]:
        where = "" if ids is None else " WHERE id IN (" + ", ".join("?" for _ in ids) + ")"
        params = [] if ids is None else ids
        subjects = tx.rows(
            f"SELECT id, label, created_at_us FROM subjects{where} ORDER BY id", params
        )
        swhere = "" if ids is None else where.replace("id IN", "subject_id IN")
        plates: dict[str, list[str]] = {}
        for sid, text in tx.rows(f"SELECT subject_id, text FROM subject_plates{swhere}", params):
            plates.setdefault(sid, []).append(text)
        templates: dict[str, list[FaceTemplate]] = {}
        for tid, sid, model, vec in tx.rows(
            f"SELECT id, subject_id, model_id, vector FROM face_templates{swhere} ORDER BY id",
            params,
        ):
            templates.setdefault(sid, []).append(FaceTemplate(tid, sid, model, bytes(vec)))
        return [
            Subject(
                subject_id=sid,
                label=label,
                plates=tuple(sorted(plates.get(sid, []))),
                templates=tuple(templates.get(sid, [])),
                created_at_us=int(created),
            )
            for sid, label, created in subjects
        ]

    def get_subject(self, subject_id: str) -> Subject | None:
        with self._db.read() as tx:
            found = self._load(tx, [subject_id])
        return found[0] if found else None

    def list_subjects(self) -> list[Subject]:
        with self._db.read() as tx:
            return self._load(tx, None)

    def version(self) -> int:
        with self._db.read() as tx:
            row = tx.row("SELECT value FROM counters WHERE name = 'watchlist'")
        return 0 if row is None else int(row[0])

    def changes_since(self, version: int, limit: int = 1000) -> list[WatchlistChange]:
        with self._db.read() as tx:
            touched = tx.rows(
                "SELECT subject_id, MAX(version) AS v FROM watchlist_changes WHERE version > ?"
                " GROUP BY subject_id ORDER BY v LIMIT ?",
                (version, limit),
            )
            ids = [str(r[0]) for r in touched]
            current = {s.subject_id: s for s in self._load(tx, ids)} if ids else {}
        return [
            WatchlistChange(int(v), "upsert", sid, current[sid])
            if sid in current
            else WatchlistChange(int(v), "remove", sid, None)
            for sid, v in touched
        ]

    def all_templates(self, model_id: str) -> list[FaceTemplate]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT id, subject_id, model_id, vector FROM face_templates WHERE model_id = ?"
                " ORDER BY subject_id, id",
                (model_id,),
            )
        return [FaceTemplate(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def template_models(self) -> dict[str, int]:
        """Template count per embedder model id."""
        with self._db.read() as tx:
            rows = tx.rows("SELECT model_id, COUNT(*) FROM face_templates GROUP BY model_id")
        return {str(m): int(n) for m, n in rows}
