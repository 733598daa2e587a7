"""Signed, expiring links to a dispatched case's evidence package.

The webhook payload's ``package_url`` is
``{public_url}/api/v1/dispatches/ID/package.zip?expires=T&sig=S`` where S is an
HMAC-SHA256 (edge/store/dispatch_io.py) over the dispatch id, its event id and T. The
key is random and kept in the store's database (table ``store_secrets``), created by
the first store process that needs it, so every process on one PostgreSQL database
accepts the links any of them wrote; it never leaves the store.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from edge.store.dispatch_io import package_link_ok, package_link_signature
from edge.store.sql import Database

SCHEMA = ("CREATE TABLE IF NOT EXISTS store_secrets (name TEXT PRIMARY KEY, secret TEXT NOT NULL)",)
LINK_SECRET = "dispatch_package_link"


class PackageLinks:
    def __init__(self, db: Database, base_url: Callable[[], str], ttl_s: int) -> None:
        self._db = db
        self._base_url = base_url
        self._ttl_s = ttl_s
        self._key = b""

    def open(self) -> None:
        """Read the key, or create it when this database has none yet."""
        self._db.migrate(list(SCHEMA))
        with self._db.write() as tx:
            tx.run(
                "INSERT INTO store_secrets (name, secret) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (LINK_SECRET, secrets.token_hex(32)),
            )
            row = tx.row("SELECT secret FROM store_secrets WHERE name = ?", (LINK_SECRET,))
        assert row is not None
        self._key = bytes.fromhex(str(row[0]))

    def url(self, dispatch_id: str, event_id: str, created_us: int) -> str:
        expires = created_us // 1_000_000 + self._ttl_s
        sig = package_link_signature(self._key, dispatch_id, event_id, expires)
        return (
            f"{self._base_url()}/api/v1/dispatches/{dispatch_id}/package.zip"
            f"?expires={expires}&sig={sig}"
        )

    def refusal(
        self, dispatch_id: str, event_id: str | None, expires_s: int, sig: str, now_s: int
    ) -> str | None:
        """Why a link is refused (None: it is good); an unknown dispatch is a bad link."""
        if event_id is None:
            return "link signature is not valid"
        return package_link_ok(self._key, dispatch_id, event_id, expires_s, sig, now_s)
