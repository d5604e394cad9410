"""Usage history in SQLite: what each sync run read, per service and per mailbox.

The records it takes and returns live in :mod:`puq_bridge.store_models` (re-exported here).

Layout (schema version in ``PRAGMA user_version``, upgraded by :data:`~puq_bridge.store_schema.MIGRATIONS`):

- ``runs``: one row per recorded sync run (start, end, totals).
- ``samples``: one row per service per run — status, used/limit bytes (``NULL`` when the read failed), error, and
  what was read (tenancy ``domain``: the service's domain; ``server``: every mailbox of its private server).
- ``mailboxes``: the mailboxes of a sample (used/limit bytes each).
- ``daily``: one row per service per day — the day's last successful reading — kept for ``history_days``.
- ``service_settings``: per service, the product's "Total space" and "Tenancy" module settings as the adapter last
  received them (WHMCS's API does not return module settings, so the sync and the ``render`` command read them here).

Retention (:meth:`UsageStore.prune`, run by the sync after each run): samples and their mailboxes are kept for
``detail_days``; older ones are deleted except each service's newest successful sample (so the client area still has
something to show after a long outage), which goes too once it is older than ``history_days``. Runs without samples
left are deleted with them, and freed pages are returned to the file (incremental vacuum), so the file stays bounded.

Concurrency: WAL mode and a busy timeout, so readers (the adapter) never block the writer (the sync) or each other.
Each thread gets its own connection; writes in this process are serialised by a lock and use ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Callable, Iterable

from puq_bridge.errors import StoreError
from puq_bridge.usage.records import STATUSES, DailyPoint, ServiceResult, ServiceSettings, Snapshot
from puq_bridge.usage.schema import MIGRATIONS, SCHEMA_VERSION
from puq_bridge.usage.store_overview import OverviewReads
from puq_bridge.whmcs.params import TENANCIES
from puq_bridge.zimbra.models import MailboxUsage

__all__ = [
    "STATUSES",
    "DailyPoint",
    "ServiceResult",
    "ServiceSettings",
    "Snapshot",
    "UsageStore",
    "MIGRATIONS",
    "SCHEMA_VERSION",
]

log = logging.getLogger(__name__)

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def _ts(value: dt.datetime) -> str:
    return _utc(value).strftime(_TS_FORMAT)


def _parse_ts(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, _TS_FORMAT).replace(tzinfo=dt.timezone.utc)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _positive(value: int | None) -> int | None:
    return value if value and value > 0 else None


def _tenancy(value: str | None) -> str | None:
    if value is not None and value not in TENANCIES:
        raise ValueError(f"unknown tenancy {value!r} (expected one of {TENANCIES})")
    return value


class UsageStore(OverviewReads):
    """The usage-history SQLite file (the addon page's reads: :class:`OverviewReads`).

    Args:
        path: the database file; its parent folders are created.
        detail_days: how many days every run's per-service and per-mailbox detail is kept.
        history_days: how many days the one-row-per-service-per-day history is kept (at least 90: the tabs' chart).
        busy_timeout: seconds a connection waits for another process's write lock before failing.

    Raises:
        StoreError: the file cannot be created, opened or migrated, or was written by a newer puq-bridge.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        detail_days: int = 14,
        history_days: int = 400,
        busy_timeout: float = 10.0,
    ):
        if detail_days < 1 or history_days < 1:
            raise ValueError("detail_days and history_days must be at least 1")
        self.path = Path(path).expanduser()
        self.detail_days, self.history_days = detail_days, max(history_days, 90)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"usage store {self.path}: cannot create folder: {err.strerror}"
            ) from err
        self._migrate()

    # --- connections ---------------------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                # check_same_thread=False only so close() can close every thread's connection; each is used by one.
                db = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                db.execute("PRAGMA foreign_keys = ON")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as err:
                raise StoreError(f"usage store {self.path}: cannot open: {err}") from err
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def _write(self, work: Callable[[sqlite3.Connection], object], what: str):
        """Run ``work`` in one ``BEGIN IMMEDIATE`` transaction; sqlite errors become a StoreError naming ``what``."""
        db = self._conn()
        with self._write_lock:
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            except sqlite3.Error as err:
                raise StoreError(f"usage store {self.path}: {what} failed: {err}") from err

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        try:
            return self._conn().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as err:
            raise StoreError(f"usage store {self.path}: read failed: {err}") from err

    def _migrate(self) -> None:
        db = self._conn()
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                db.execute(
                    "PRAGMA auto_vacuum = INCREMENTAL"
                )  # only takes effect on a file without tables yet
        except sqlite3.Error as err:
            raise StoreError(f"usage store {self.path}: not a usable SQLite file: {err}") from err

        def upgrade(db: sqlite3.Connection) -> None:
            version = db.execute("PRAGMA user_version").fetchone()[
                0
            ]  # re-read under the write lock
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"usage store {self.path}: schema version {version} is newer than this "
                    f"puq-bridge understands ({SCHEMA_VERSION}); upgrade puq-bridge"
                )
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](db)
                db.execute(f"PRAGMA user_version = {step + 1}")
                log.info("usage store %s: migrated to schema version %d", self.path, step + 1)

        self._write(upgrade, "migration")

    @property
    def schema_version(self) -> int:
        """The file's schema version (``PRAGMA user_version``)."""
        return self._read("PRAGMA user_version")[0][0]

    # --- writing -------------------------------------------------------------------------------------------------

    def record_run(
        self,
        started: dt.datetime,
        finished: dt.datetime,
        results: list[ServiceResult],
        *,
        dry_run: bool = False,
        origin: str | None = None,
    ) -> int:
        """Record one sync run and every service's result (failed ones with their error); returns the run id.

        Successful readings also update the service's daily row (the day's last reading wins). A dry run writes
        nothing and returns 0. ``origin`` says what ran it (``sync-usage``, ``UsageUpdate``,
        ``SyncUsage``, ``addon``; :data:`~puq_bridge.usage.store_overview.ORIGINS`).
        """
        if dry_run:
            return 0
        counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
        taken = _ts(finished)

        def work(db: sqlite3.Connection) -> int:
            run_id = db.execute(
                "INSERT INTO runs (started, finished, updated, unchanged, failed, skipped, origin) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_ts(started), taken, *(counts[s] for s in STATUSES), origin),
            ).lastrowid
            for result in results:
                self._insert_sample(db, run_id, taken, result)
            return run_id

        return self._write(work, "recording the run")

    @staticmethod
    def _insert_sample(db: sqlite3.Connection, run_id: int, taken: str, r: ServiceResult) -> None:
        sample_id = db.execute(
            "INSERT INTO samples (run_id, service_id, taken_at, domain, server, status, used_bytes, limit_bytes, "
            "error, tenancy, client_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                r.service_id,
                taken,
                r.domain,
                r.server,
                r.status,
                r.used_bytes,
                r.limit_bytes,
                r.error,
                r.tenancy,
                r.client_id,
            ),
        ).lastrowid
        db.executemany(
            "INSERT INTO mailboxes (sample_id, name, zimbra_id, used_bytes, limit_bytes) VALUES (?, ?, ?, ?, ?)",
            [(sample_id, m.name, m.id, m.used_bytes, m.limit_bytes) for m in r.mailboxes],
        )
        if r.has_data:
            db.execute(
                "INSERT INTO daily (service_id, day, taken_at, used_bytes, limit_bytes) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (service_id, day) DO UPDATE SET taken_at = excluded.taken_at, "
                "used_bytes = excluded.used_bytes, limit_bytes = excluded.limit_bytes "
                "WHERE excluded.taken_at >= daily.taken_at",
                (r.service_id, taken[:10], taken, r.used_bytes, r.limit_bytes or 0),
            )

    def prune(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Apply the retention rules (see the module docstring); returns how many rows of each table went."""
        now = _utc(now or _now())
        detail_cut = _ts(now - dt.timedelta(days=self.detail_days))
        history_cut = _ts(now - dt.timedelta(days=self.history_days))

        def work(db: sqlite3.Connection) -> dict[str, int]:
            # SQLite returns the id of the MAX(taken_at) row for a bare column next to MAX().
            samples = db.execute(
                "DELETE FROM samples WHERE taken_at < ? AND (taken_at < ? OR id NOT IN ("
                " SELECT id FROM (SELECT id, MAX(taken_at) FROM samples WHERE used_bytes IS NOT NULL"
                " GROUP BY service_id)))",
                (detail_cut, history_cut),
            ).rowcount
            runs = db.execute(
                "DELETE FROM runs WHERE started < ? AND NOT EXISTS (SELECT 1 FROM samples WHERE run_id = runs.id)",
                (detail_cut,),
            ).rowcount
            daily = db.execute("DELETE FROM daily WHERE day < ?", (history_cut[:10],)).rowcount
            return {"samples": samples, "runs": runs, "daily": daily}

        removed = self._write(work, "pruning")
        if any(removed.values()):
            try:  # give freed pages back to the file system; stepping the pragma to the end does the work
                self._write(lambda db: db.execute("PRAGMA incremental_vacuum").fetchall(), "vacuum")
            except StoreError as err:  # only space reclamation: the prune itself is committed
                log.warning("%s", err)
        log.debug("usage store %s: pruned %s", self.path, removed)
        return removed

    def remember_settings(
        self,
        service_id: int,
        total_space_bytes: int | None,
        tenancy: str | None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Keep a service's product "Total space" (bytes; ``None`` or 0 = not set) and "Tenancy" (``domain`` |
        ``server``; ``None`` = not known) settings; True when written.

        Called whenever WHMCS sends module params, so it usually finds the same values: that costs one read and no
        write (no write lock taken).
        """
        return self._remember(
            service_id,
            {"total_space_bytes": _positive(total_space_bytes), "tenancy": _tenancy(tenancy)},
            now,
        )

    def remember_total_space(
        self, service_id: int, total_space_bytes: int | None, now: dt.datetime | None = None
    ) -> bool:
        """Keep only a service's product "Total space" setting (see :meth:`remember_settings`); True when written."""
        return self._remember(service_id, {"total_space_bytes": _positive(total_space_bytes)}, now)

    def _remember(
        self, service_id: int, values: dict[str, object], now: dt.datetime | None
    ) -> bool:
        """Write the ``service_settings`` columns in ``values`` (names from the code, never from input) if they
        differ from the stored ones; the other columns keep what they hold."""
        known = self.service_settings(service_id).get(service_id, ServiceSettings())
        if all(getattr(known, column) == value for column, value in values.items()):
            return False
        columns = list(values)
        changed = " OR ".join(f"service_settings.{c} IS NOT excluded.{c}" for c in columns)
        sql = (
            f"INSERT INTO service_settings (service_id, {', '.join(columns)}, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in columns)}, ?) ON CONFLICT (service_id) DO UPDATE SET "
            f"{', '.join(f'{c} = excluded.{c}' for c in columns)}, updated_at = excluded.updated_at "
            f"WHERE {changed}"
        )

        def work(db: sqlite3.Connection) -> int:
            return db.execute(sql, (service_id, *values.values(), _ts(now or _now()))).rowcount

        return self._write(work, "remembering the product settings") > 0

    # --- reading -------------------------------------------------------------------------------------------------

    def service_settings(self, service_id: int | None = None) -> dict[int, ServiceSettings]:
        """service id -> the product settings the adapter last received, for every service (or only
        ``service_id``) with something known (one query)."""
        sql = "SELECT service_id, total_space_bytes, tenancy FROM service_settings"
        rows = (
            self._read(sql + " WHERE service_id = ?", (service_id,))
            if service_id is not None
            else self._read(sql)
        )
        return {sid: ServiceSettings(total, tenancy) for sid, total, tenancy in rows}

    def total_spaces(self) -> dict[int, int]:
        """service id -> the product's total space in bytes, for every service that has one set (one query)."""
        return {
            sid: s.total_space_bytes
            for sid, s in self.service_settings().items()
            if s.total_space_bytes
        }

    def latest(self, service_id: int) -> Snapshot | None:
        """The newest successful reading of a service (``None`` if there is none), with the error and time of a
        failed attempt at or after it."""
        rows = self._read(
            "SELECT id, domain, server, taken_at, used_bytes, limit_bytes, tenancy FROM samples "
            "WHERE service_id = ? AND used_bytes IS NOT NULL ORDER BY taken_at DESC, id DESC LIMIT 1",
            (service_id,),
        )
        if not rows:
            return None
        sample_id, domain, server, taken_at, used, limit, tenancy = rows[0]
        failed = self._read(
            "SELECT taken_at, error FROM samples WHERE service_id = ? AND status = 'failed' AND taken_at >= ? "
            "ORDER BY taken_at DESC, id DESC LIMIT 1",
            (service_id, taken_at),
        )
        mailboxes = tuple(
            MailboxUsage(name, u, lim, zid)
            for name, zid, u, lim in self._read(
                "SELECT name, zimbra_id, used_bytes, limit_bytes FROM mailboxes WHERE sample_id = ? ORDER BY id",
                (sample_id,),
            )
        )
        return Snapshot(
            service_id=service_id,
            domain=domain,
            server=server,
            taken_at=_parse_ts(taken_at),
            used_bytes=used,
            limit_bytes=limit or 0,
            mailboxes=mailboxes,
            error=failed[0][1] if failed else None,
            failed_at=_parse_ts(failed[0][0]) if failed else None,
            tenancy=tenancy or "domain",
        )

    def history(
        self, service_id: int, days: int = 90, now: dt.datetime | None = None
    ) -> list[DailyPoint]:
        """One point per day with a successful reading over the last ``days`` days (today included), oldest first."""
        first = (_utc(now or _now()).date() - dt.timedelta(days=days - 1)).isoformat()
        rows = self._read(
            "SELECT day, used_bytes, limit_bytes FROM daily WHERE service_id = ? AND day >= ? ORDER BY day",
            (service_id, first),
        )
        return [DailyPoint(dt.date.fromisoformat(day), used, limit) for day, used, limit in rows]

    def counts(self) -> dict[str, int]:
        """Row counts per table (for retention checks and the benchmark)."""
        return {
            t: self._read(f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ("runs", "samples", "mailboxes", "daily")
        }

    # --- life cycle ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        self._local = threading.local()

    def __enter__(self) -> "UsageStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
