"""Automatic dispatch at ingest, and what verdicts set off at the platforms.

* ``on_stored`` (called by ingest after each group commit, before the gateway gets its
  acks) evaluates the rules (edge/store/dispatch_rules.py) and records each hit in
  ``rule_hits`` (unique per event and rule). It runs for duplicates too: a crash after
  the commit but before this ran loses the acks, the gateway resends, and the hit is
  recorded then. With ``viid.push: all`` it also queues every event for the platform.
* A worker carries out each recorded hit once: a webhook dispatch (edge/store/
  dispatch.py) and/or a GA/T 1400 push (edge/store/viid_push.py), audited as
  ``dispatch.rule``. The event page shows "dispatched automatically by rule R".
* ``on_verdict``: a confirmation queues the push (``viid.push: confirmed``); a
  rejection withdraws what was dispatched, where the target supports it.

Rules come from store.yaml (re-applied at every start, read-only on the page) and from
the admin page (kept in the ``dispatch_rules`` table); every change is audited.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from edge.errors import NotFoundError, StoreError
from edge.evidence.model import MatchEvent
from edge.store.audit import Auditor
from edge.store.auth import Principal
from edge.store.dispatch import DispatchService
from edge.store.dispatch_rules import DispatchRule, check_rules, matching_rules
from edge.store.locations import KeyLocation
from edge.store.platform_schema import platform_statements
from edge.store.repository import Repository, Verdict
from edge.store.sql import Database, Row
from edge.store.viid_push import ViidPush

log = logging.getLogger(__name__)

RULES_TTL_S = 2.0
LABELS_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class StoredRule:
    rule: DispatchRule
    source: str  # "config" (store.yaml, read-only) or "page"
    updated_at_us: int
    updated_by: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    event_id: str
    rule_id: str
    rule_name: str
    actions: tuple[str, ...]
    at_us: int
    state: str  # pending | done
    result: str  # what each action did, as JSON text


def _hit(r: Row) -> RuleHit:
    actions = tuple(json.loads(str(r[3])))
    return RuleHit(str(r[0]), str(r[1]), str(r[2]), actions, int(r[4]), str(r[5]), str(r[6]))


class AutoDispatch:
    def __init__(
        self,
        config_rules: Sequence[DispatchRule],
        locations: Sequence[KeyLocation],
        utc_offset_minutes: int,
        db: Database,
        repo: Repository,
        auditor: Auditor,
        clock: Callable[[], int],
        viid: ViidPush | None,
        has_webhook: bool,
    ) -> None:
        self._config_rules = list(config_rules)
        self._locations = {loc.id: loc for loc in locations}
        self._offset = utc_offset_minutes
        self._db = db
        self._repo = repo
        self._auditor = auditor
        self._clock = clock
        self._viid = viid
        self._has_webhook = has_webhook
        self._dispatch: DispatchService | None = None
        self._rules: tuple[float, list[DispatchRule]] = (0.0, [])
        self._labels: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------

    def open(self) -> None:
        """Create the tables and make the store.yaml rules the stored config rules."""
        self._db.migrate(platform_statements(self._db.dialect))
        now = self._clock()
        with self._db.write() as tx:
            # confirmations from before the platform was configured are not pushed by
            # the reconcile sweep (a reviewer can still transfer them with one click)
            if self._viid is not None:
                tx.run(
                    "INSERT INTO meta (key, value) VALUES ('viid_confirmed_since_us', ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (str(now),),
                )
            tx.run("DELETE FROM dispatch_rules WHERE source = 'config'")
            for r in self._config_rules:
                tx.run(
                    "INSERT INTO dispatch_rules (id, source, rule_json, updated_at_us, updated_by)"
                    " VALUES (?, 'config', ?, ?, 'store.yaml') ON CONFLICT (id) DO UPDATE SET"
                    " source = 'config', rule_json = excluded.rule_json,"
                    " updated_at_us = excluded.updated_at_us, updated_by = 'store.yaml'",
                    (r.id, r.model_dump_json(by_alias=True), now),
                )

    def start(self, dispatch: DispatchService | None) -> None:
        self._dispatch = dispatch
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dispatch-rules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    # --- rules ------------------------------------------------------------------------

    def list_rules(self) -> list[StoredRule]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT rule_json, source, updated_at_us, updated_by FROM dispatch_rules"
                " ORDER BY source, id"
            )
        out = []
        for r in rows:
            try:
                rule = DispatchRule.model_validate_json(str(r[0]))
            except ValidationError:  # written by a newer store: shown nowhere, used never
                log.warning("dispatch rule unreadable", extra={"source": str(r[1])})
                continue
            out.append(StoredRule(rule, str(r[1]), int(r[2]), str(r[3])))
        return out

    def rules(self) -> list[DispatchRule]:
        """The enabled rules, re-read every RULES_TTL_S (other store processes edit too)."""
        with self._lock:
            at, cached = self._rules
            if time.monotonic() - at < RULES_TTL_S:
                return cached
        fresh = [s.rule for s in self.list_rules() if s.rule.enabled]
        with self._lock:
            self._rules = (time.monotonic(), fresh)
        return fresh

    def put_rule(self, who: Principal, rule: DispatchRule) -> None:
        """Add or change a page rule (store.yaml rules are changed in store.yaml)."""
        current = {s.rule.id: s for s in self.list_rules()}
        if rule.id in current and current[rule.id].source == "config":
            raise StoreError(f"rule {rule.id!r} comes from store.yaml; change it there")
        others = [s.rule for s in current.values() if s.rule.id != rule.id]
        try:
            check_rules([*others, rule], list(self._locations.values()), self._has_webhook,
                        self._viid is not None)  # fmt: skip
        except ValueError as e:
            raise StoreError(str(e)) from None
        with self._db.write() as tx:
            tx.run(
                "INSERT INTO dispatch_rules (id, source, rule_json, updated_at_us, updated_by)"
                " VALUES (?, 'page', ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " rule_json = excluded.rule_json, updated_at_us = excluded.updated_at_us,"
                " updated_by = excluded.updated_by",
                (rule.id, rule.model_dump_json(by_alias=True), self._clock(), who.name),
            )
        self._auditor.record(who, "dispatch.rule_put", json.loads(rule.model_dump_json()))
        self._rules = (0.0, [])

    def delete_rule(self, who: Principal, rule_id: str) -> None:
        with self._db.write() as tx:
            n = tx.run("DELETE FROM dispatch_rules WHERE id = ? AND source = 'page'", (rule_id,))
        if n == 0:
            raise NotFoundError(f"no page rule {rule_id!r} (store.yaml rules are changed there)")
        self._auditor.record(who, "dispatch.rule_delete", {"rule_id": rule_id})
        self._rules = (0.0, [])

    # --- ingest -----------------------------------------------------------------------

    def _subject_labels(self, subject_ids: set[str]) -> dict[str, str | None]:
        now = time.monotonic()
        out: dict[str, str | None] = {}
        for sid in subject_ids:
            cached = self._labels.get(sid)
            if cached is None or now - cached[0] > LABELS_TTL_S:
                subject = self._repo.watchlist.get_subject(sid)
                cached = (now, subject.label if subject else None)
                self._labels[sid] = cached
            out[sid] = cached[1]
        return out

    def on_stored(self, events: Sequence[MatchEvent]) -> None:
        """Called by ingest with every stored (or re-delivered) event of a commit."""
        rules = self.rules()
        if rules:
            sids = {f.subject_id for e in events for f in e.faces}
            sids |= {p.subject_id for e in events for p in e.plates}
            labels = self._subject_labels(sids) if any(r.labels for r in rules) else {}
            hits = [
                (e, r)
                for e in events
                for r in matching_rules(rules, e, labels, self._locations, self._offset)
            ]
            if hits:
                self._record_hits(hits)
        if self._viid is not None and self._viid.config.push == "all":
            self._viid.enqueue_events(events, "all", "system:ingest")

    def _record_hits(self, hits: Sequence[tuple[MatchEvent, DispatchRule]]) -> None:
        now = self._clock()
        with self._db.write() as tx:
            for e, r in hits:
                tx.run(
                    "INSERT INTO rule_hits (event_id, rule_id, rule_name, actions, at_us, state)"
                    " VALUES (?, ?, ?, ?, ?, 'pending') ON CONFLICT (event_id, rule_id) DO NOTHING",
                    (e.event_id, r.id, r.name, json.dumps(r.actions), now),
                )
        self._wake.set()

    def hits_for(self, event_id: str) -> list[RuleHit]:
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT event_id, rule_id, rule_name, actions, at_us, state, result"
                " FROM rule_hits WHERE event_id = ? ORDER BY at_us, rule_id",
                (event_id,),
            )
        return [_hit(r) for r in rows]

    # --- verdicts ---------------------------------------------------------------------

    def on_verdict(self, who: Principal, event_id: str, verdict: Verdict, note: str) -> None:
        try:
            if verdict == "confirmed":
                self._confirmed(who, event_id)
            elif verdict == "rejected":
                if self._viid is not None:
                    self._viid.withdraw(who, event_id)
                if self._dispatch is not None:
                    self._dispatch.withdraw(who, event_id, note)
        except Exception:  # the verdict stands; the worker's reconcile catches up
            log.exception("verdict follow-up failed", extra={"event_id": event_id})

    def _confirmed(self, who: Principal, event_id: str) -> None:
        if self._viid is None or self._viid.config.push != "confirmed":
            return
        stored = self._repo.events.get_event(event_id)
        if stored is not None:
            self._viid.confirmed(stored.event, who.actor)

    def reconcile_confirmed(self, limit: int = 500) -> int:
        """Queue confirmed events that have no push yet (a follow-up that failed)."""
        if self._viid is None or self._viid.config.push != "confirmed":
            return 0
        with self._db.read() as tx:
            since = tx.row("SELECT value FROM meta WHERE key = 'viid_confirmed_since_us'")
            rows = tx.rows(
                "SELECT e.id FROM events e WHERE e.verdict = 'confirmed' AND e.verdict_at_us >= ?"
                " AND NOT EXISTS (SELECT 1 FROM viid_push p WHERE p.event_id = e.id) LIMIT ?",
                (int(since[0]) if since else 0, limit),
            )
        events = [s.event for r in rows if (s := self._repo.events.get_event(str(r[0])))]
        return self._viid.enqueue_events(events, "confirmed", "system:reconcile") if events else 0

    # --- the worker -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.reconcile_confirmed()
        except Exception:
            log.exception("reconcile of confirmed events failed")
        while not self._stop.is_set():
            try:
                while self.run_pending() and not self._stop.is_set():
                    pass
            except Exception:  # a database hiccup must not end dispatching; retry soon
                log.exception("dispatch rule step failed")
            self._wake.wait(5.0)
            self._wake.clear()

    def run_pending(self, limit: int = 50) -> int:
        """Carry out recorded hits; returns how many were done."""
        with self._db.read() as tx:
            rows = tx.rows(
                "SELECT event_id, rule_id, rule_name, actions FROM rule_hits"
                " WHERE state = 'pending' ORDER BY at_us LIMIT ?",
                (limit,),
            )
        for event_id, rule_id, name, actions in rows:
            self._carry_out(str(event_id), str(rule_id), str(name), json.loads(str(actions)))
        return len(rows)

    def _carry_out(self, event_id: str, rule_id: str, name: str, actions: list[str]) -> None:
        result: dict[str, str] = {}
        stored = self._repo.events.get_event(event_id)
        if stored is None:
            result["event"] = "purged before its rule was carried out"
        if stored is not None and "webhook" in actions:
            result["webhook"] = self._webhook(event_id, rule_id, name)
        if stored is not None and "viid" in actions:
            if self._viid is None:
                result["viid"] = "no viid: section"
            else:
                n = self._viid.enqueue_events([stored.event], f"rule:{rule_id}", f"rule:{rule_id}")
                result["viid"] = f"queued {n}" if n else "already queued"
        self._auditor.record(
            f"rule:{rule_id}",
            "dispatch.rule",
            {"event_id": event_id, "rule_id": rule_id, "rule_name": name, "result": result},
        )
        with self._db.write() as tx:
            tx.run(
                "UPDATE rule_hits SET state = 'done', result = ?"
                " WHERE event_id = ? AND rule_id = ?",
                (json.dumps(result, ensure_ascii=False), event_id, rule_id),
            )

    def _webhook(self, event_id: str, rule_id: str, name: str) -> str:
        if self._dispatch is None:
            return "webhook dispatch is not running"
        try:
            return self._dispatch.dispatch_by_rule(event_id, rule_id, name).dispatch_id
        except StoreError as e:  # already dispatched: by a reviewer or another rule
            return str(e)[:200]
