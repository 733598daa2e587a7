"""One ``Repository`` over any ``Database``: the SQL is shared, the dialect is not."""

from __future__ import annotations

import logging

from edge.store.blobs import SqlBlobs
from edge.store.sql import Database
from edge.store.sql_admin import SqlAudit, SqlGateways, SqlUsers, index_audit_subjects
from edge.store.sql_events import SqlEvents
from edge.store.sql_schema import SCHEMA_VERSION, schema_statements
from edge.store.sql_sessions import SqlSessions
from edge.store.sql_watchlist import SqlWatchlist

log = logging.getLogger(__name__)


class SqlRepository:
    """Implements edge.store.repository.Repository."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._events = SqlEvents(db)
        self._gateways = SqlGateways(db)
        self._watchlist = SqlWatchlist(db)
        self._users = SqlUsers(db)
        self._audit = SqlAudit(db)
        self._sessions = SqlSessions(db)
        self._blobs = SqlBlobs(db)

    @property
    def events(self) -> SqlEvents:
        return self._events

    @property
    def gateways(self) -> SqlGateways:
        return self._gateways

    @property
    def watchlist(self) -> SqlWatchlist:
        return self._watchlist

    @property
    def users(self) -> SqlUsers:
        return self._users

    @property
    def audit(self) -> SqlAudit:
        return self._audit

    @property
    def sessions(self) -> SqlSessions:
        return self._sessions

    @property
    def blobs(self) -> SqlBlobs:
        """The evidence bytes (same database; see edge/store/blobs.py)."""
        return self._blobs

    @property
    def backend(self) -> str:
        return self._db.dialect.name

    def open(self) -> None:
        self._db.open()
        self._db.migrate(schema_statements(self._db.dialect))
        self._upgrade()
        log.info("repository open", extra={"backend": self.backend})

    def _upgrade(self) -> None:
        """Fill what a newer schema derives from existing rows, once per database.

        Tables are created by ``migrate`` (IF NOT EXISTS); a database made by an older
        store still says so in meta.schema_version, and the row lock makes concurrent
        openers of one PostgreSQL database upgrade it exactly once.
        """
        lock = self._db.dialect.for_update
        with self._db.write() as tx:
            r = tx.row("SELECT value FROM meta WHERE key = 'schema_version'" + lock)
            version = int(r[0]) if r is not None else SCHEMA_VERSION
            if version >= SCHEMA_VERSION:
                return
            indexed = index_audit_subjects(tx) if version < 2 else 0
            tx.run("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        log.info(
            "repository schema upgraded",
            extra={"from": version, "to": SCHEMA_VERSION, "audit_subjects": indexed},
        )

    def close(self) -> None:
        self._db.close()

    def ping(self) -> bool:
        try:
            with self._db.read() as tx:
                return tx.row("SELECT 1") is not None
        except Exception:  # any driver failure means "not healthy"
            log.warning("repository ping failed", exc_info=True)
            return False
