"""Reviewer page sessions in SQL (shared by SQLite and PostgreSQL).

In the database rather than in one process's memory, so a restart or a second store
process behind the same load balancer keeps reviewers logged in. Only the sha256 of a
session id is stored: a copy of the database does not hand out live cookies.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.store.repository import WebSession
from edge.store.sql import Database, insert_rows

#: events remembered per session for thumbnails (the newest are kept)
MAX_SEEN = 5_000
_COLUMNS = "sid_sha256, user_name, token_sha256, csrf, created_us, last_us"


class SqlSessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put_session(self, session: WebSession) -> None:
        with self._db.write() as tx:
            tx.run(
                f"INSERT INTO web_sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.sid_sha256,
                    session.user,
                    session.token_sha256,
                    session.csrf,
                    session.created_us,
                    session.last_us,
                ),
            )

    def get_session(self, sid_sha256: str) -> WebSession | None:
        with self._db.read() as tx:
            r = tx.row(f"SELECT {_COLUMNS} FROM web_sessions WHERE sid_sha256 = ?", (sid_sha256,))
        return None if r is None else WebSession(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]))

    def touch_session(self, sid_sha256: str, last_us: int) -> None:
        with self._db.write() as tx:
            tx.run(
                "UPDATE web_sessions SET last_us = ? WHERE sid_sha256 = ? AND last_us < ?",
                (last_us, sid_sha256, last_us),
            )

    def delete_session(self, sid_sha256: str) -> None:
        with self._db.write() as tx:
            tx.run("DELETE FROM web_session_events WHERE sid_sha256 = ?", (sid_sha256,))
            tx.run("DELETE FROM web_sessions WHERE sid_sha256 = ?", (sid_sha256,))

    def delete_user_sessions(self, user: str) -> int:
        with self._db.write() as tx:
            tx.run(
                "DELETE FROM web_session_events WHERE sid_sha256 IN"
                " (SELECT sid_sha256 FROM web_sessions WHERE user_name = ?)",
                (user,),
            )
            return tx.run("DELETE FROM web_sessions WHERE user_name = ?", (user,))

    def delete_expired_sessions(self, idle_before_us: int, created_before_us: int) -> int:
        where = "last_us < ? OR created_us < ?"
        with self._db.write() as tx:
            tx.run(
                "DELETE FROM web_session_events WHERE sid_sha256 IN"
                f" (SELECT sid_sha256 FROM web_sessions WHERE {where})",
                (idle_before_us, created_before_us),
            )
            return tx.run(
                f"DELETE FROM web_sessions WHERE {where}", (idle_before_us, created_before_us)
            )

    def remember_events(self, sid_sha256: str, event_ids: Sequence[str], at_us: int) -> None:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return
        with self._db.write() as tx:
            tx.run(
                "DELETE FROM web_session_events WHERE sid_sha256 = ? AND event_id IN ("
                + ", ".join("?" for _ in ids)
                + ")",
                (sid_sha256, *ids),
            )
            insert_rows(
                tx,
                "INSERT INTO web_session_events (sid_sha256, event_id, at_us) VALUES",
                [(sid_sha256, e, at_us) for e in ids],
            )
            tx.run(
                "DELETE FROM web_session_events WHERE sid_sha256 = ? AND event_id NOT IN"
                " (SELECT event_id FROM web_session_events WHERE sid_sha256 = ?"
                " ORDER BY at_us DESC, event_id LIMIT ?)",
                (sid_sha256, sid_sha256, MAX_SEEN),
            )

    def has_seen_event(self, sid_sha256: str, event_id: str) -> bool:
        with self._db.read() as tx:
            r = tx.row(
                "SELECT 1 FROM web_session_events WHERE sid_sha256 = ? AND event_id = ?",
                (sid_sha256, event_id),
            )
        return r is not None
