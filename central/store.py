"""The centre's PostgreSQL: versioned migrations, idempotent batch writes.

psycopg 3 (docs/central.md says why). A batch of events goes in with COPY, or, when it holds
a row already written, through a temporary table and one ``INSERT ... SELECT ... ON CONFLICT
DO NOTHING``: a copy changes nothing, and thousands of rows cost a few round trips. Each log's position
(``site_logs.upto``; ``sites`` holds the current log's) is written in the same transaction as
its rows, so a restart of the centre resumes exactly there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from importlib import resources

from motcua.errors import MotcuaError
from motcua.protocol import HistoryEvent, Status

MIGRATION = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")
# One encoder for every body (json.dumps with options makes a new one per call).
_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
LOCK_ID = 0x6D6F7463      # pg_advisory_xact_lock: two centres starting at once migrate once


class CentralStoreError(MotcuaError):
    """PostgreSQL refused or could not be reached."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped, in order."""
    found = []
    for item in resources.files("motcua.central").joinpath("migrations").iterdir():
        match = MIGRATION.fullmatch(item.name)
        if match:
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    # Each number once. A hole is allowed: two branches may each add one (a number is taken
    # per change, not per merge), and each number is applied once wherever it lands.
    if len(set(versions)) != len(versions) or (versions and versions[0] != 1):
        raise CentralStoreError(f"migrations are not numbered 001, 002, ... once each: {versions}")
    return found


class CentralStore:
    def __init__(self, dsn: str) -> None:
        import psycopg

        self.psycopg = psycopg
        try:
            # autocommit: every write is inside an explicit transaction() block, and a bare
            # read never leaves one open (which would turn later blocks into savepoints).
            self.db = psycopg.connect(dsn, autocommit=True)
            # Where a batch is copied before it goes into history (_insert); this session's own.
            self.db.execute(
                "CREATE TEMPORARY TABLE incoming (n bigint GENERATED ALWAYS AS IDENTITY, "
                "site text, log text, seq bigint, prev bigint, id text, kind text, at text, "
                "counter text, body text) ON COMMIT DELETE ROWS")
        except psycopg.Error as exc:
            raise CentralStoreError(f"PostgreSQL {_safe(dsn)}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, each in its own transaction. Returns them."""
        applied = []
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_ID,))
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                            "version integer PRIMARY KEY, name text NOT NULL, "
                            "applied_at timestamptz NOT NULL DEFAULT now())")
            done = {row[0] for row in self.db.execute("SELECT version FROM schema_version")}
            for version, name, sql in migrations():
                if version in done:
                    continue
                with self.db.transaction():
                    self.db.execute(sql)
                    self.db.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)",
                                    (version, name))
                applied.append(version)
        return applied

    def version(self) -> int:
        row = self.db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        assert row is not None                  # an aggregate always gives one row
        return int(row[0])

    def positions(self) -> dict[tuple[str, str], int]:
        """How far each (site, log) is written."""
        with self.db.transaction():
            return {(site, log): upto for site, log, upto in
                    self.db.execute("SELECT site, log, upto FROM site_logs").fetchall()}

    def current(self) -> dict[str, str]:
        """Each site's current log (the one its hub sends now)."""
        with self.db.transaction():
            return dict(self.db.execute("SELECT site, log FROM sites").fetchall())

    def write(self, events: Sequence[HistoryEvent],
              positions: dict[tuple[str, str], tuple[int, int]],
              statuses: Iterable[tuple[str, Status]] = (), *,
              current: dict[str, str] | None = None,
              adopted: Iterable[tuple[str, str]] = ()) -> int:
        """One transaction: rows of a hub's log sent without identity taken over by the
        identity it now sends (``adopted``: an upgraded hub), the events (copies ignored),
        each (site, log)'s (upto, head), each site's current log, statuses.
        Returns how many rows were new."""
        current = current or {}
        try:
            with self.db.transaction():
                for site, log in adopted:
                    self.db.execute("UPDATE history SET log = %s WHERE site = %s AND log = ''",
                                    (log, site))
                    self.db.execute("UPDATE site_logs SET log = %s WHERE site = %s AND log = ''",
                                    (log, site))
                    self.db.execute("UPDATE sites SET log = %s WHERE site = %s AND log = ''",
                                    (log, site))
                    # The report's replay of those rows (central/report.py) goes with them.
                    self.db.execute("UPDATE report_position SET log = %s WHERE site = %s AND log = ''",
                                    (log, site))
                added = self._insert(events) if events else 0
                cursor = self.db.cursor()
                # One round trip for all of them (psycopg's executemany runs a pipeline).
                if positions:
                    cursor.executemany(
                        "INSERT INTO site_logs (site, log, upto, head, heard_at) "
                        "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (site, log) DO UPDATE SET "
                        "upto = greatest(site_logs.upto, excluded.upto), "
                        "head = greatest(site_logs.head, excluded.head), heard_at = now()",
                        [(site, log, upto, head) for (site, log), (upto, head) in positions.items()])
                if current:
                    # A new log starts again from 0; the same log's position never goes back.
                    cursor.executemany(
                        "INSERT INTO sites (site, log, upto, head, heard_at) "
                        "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (site) DO UPDATE SET "
                        "upto = CASE WHEN sites.log = excluded.log "
                        "THEN greatest(sites.upto, excluded.upto) ELSE excluded.upto END, "
                        "head = CASE WHEN sites.log = excluded.log "
                        "THEN greatest(sites.head, excluded.head) ELSE excluded.head END, "
                        "log = excluded.log, heard_at = now()",
                        [(site, log, *positions.get((site, log), (0, 0)))
                         for site, log in current.items()])
                for site, status in statuses:
                    self.db.execute(
                        "INSERT INTO device_status (site, role, device, state, at, health) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (site, role, device) DO UPDATE "
                        "SET state = excluded.state, at = excluded.at, health = excluded.health, "
                        "received_at = now()",
                        (site, status.role, status.device, status.state, status.at,
                         json.dumps(status.health, ensure_ascii=False)))
                return added
        except self.psycopg.Error as exc:
            raise CentralStoreError(f"PostgreSQL: {exc}") from None

    def _insert(self, events: Sequence[HistoryEvent]) -> int:
        dumps = _BODY.encode
        rows = [(e.site, e.log, e.seq, e.prev, e.id, e.kind.value, e.at, e.counter,
                 dumps(e.body)) for e in events]
        cursor = self.db.cursor()
        columns = "(site, log, seq, prev, id, kind, at, counter, body)"
        # The sequencer passes on only rows beyond what is written, so they usually go
        # straight in with COPY (psycopg formats them in C, PostgreSQL parses them once). A
        # copy among them (a log the hub left, a restart) undoes only this savepoint; then
        # they go through a temporary table and one INSERT that drops the copies.
        try:
            with self.db.transaction(), cursor.copy(f"COPY history {columns} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return len(rows)
        except self.psycopg.errors.UniqueViolation:
            pass
        with cursor.copy(f"COPY incoming {columns} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            "INSERT INTO history (site, log, seq, prev, id, kind, at, counter, body) "
            "SELECT site, log, seq, prev, id, kind, at::timestamptz, counter, body::jsonb "
            "FROM incoming ORDER BY n ON CONFLICT DO NOTHING")
        return cursor.rowcount


def _safe(dsn: str) -> str:
    """The address without its password, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)
