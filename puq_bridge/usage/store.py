"""Usage history: what each sync run read, per service and per mailbox — in a SQLite file (one
bridge) or a PostgreSQL database that several bridge instances share.

The records it takes and returns live in :mod:`puq_bridge.usage.records`. The SQL is written once;
what differs between the two databases (connections, errors, the schema version, the sync lock) is
the backend's (:mod:`puq_bridge.usage.backends`).

Layout (schema version upgraded by :data:`~puq_bridge.usage.schema.MIGRATIONS`, the same in both):

- ``runs``: one row per recorded sync run (start, end, totals).
- ``samples``: one row per service per run — status, used/limit bytes (``NULL`` when the read
  failed), error, and what was read (tenancy ``domain``: the service's domain; ``server``: every
  mailbox of its private server).
- ``mailboxes``: the mailboxes of a sample (used/limit bytes each).
- ``daily``: one row per service per day — the day's last successful reading — kept for
  ``history_days``.
- ``server_stats``: per Zimbra server, what the sync learnt for its read plan (the server's
  accounts, the rows and domains of the bridge's services on it): one row per server.
- ``service_settings``: per service, the product's "Total space" and "Tenancy" module settings as
  the adapter last received them (WHMCS's API does not return module settings, so the sync and the
  ``render`` command read them here).
- ``seen_signatures``: the adapter's accepted request signatures until they expire
  (:meth:`UsageStore.claim_signature`).

Retention (:meth:`UsageStore.prune`, run by the sync after each run): samples and their mailboxes
are kept for ``detail_days``; older ones are deleted except each service's newest successful sample
(so the client area still has something to show after a long outage), which goes too once it is
older than ``history_days``. Runs without samples left are deleted with them; a SQLite file returns
its freed pages to the file system (incremental vacuum).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Callable, Iterable

from puq_bridge.errors import StoreError
from puq_bridge.usage.backends.base import Backend, Session, is_postgres_url
from puq_bridge.usage.records import (
    STATUSES,
    DailyPoint,
    MailboxAction,
    ServerStats,
    ServiceResult,
    ServiceSettings,
    SignOn,
    Snapshot,
)
from puq_bridge.usage.schema import MIGRATIONS, SCHEMA_VERSION
from puq_bridge.usage.store_overview import OverviewReads
from puq_bridge.whmcs.params import TENANCIES
from puq_bridge.zimbra.models import MailboxUsage

log = logging.getLogger(__name__)

_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: Seconds between two deletions of expired request signatures by one store object.
SIGNATURE_PRUNE_INTERVAL = 60.0


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


def open_backend(location: str | os.PathLike | Backend, *, busy_timeout: float = 10.0) -> Backend:
    """The backend for ``location``: a backend as it is, a ``postgresql://`` URL (no password:
    libpq's ``PGPASSWORD`` or ``~/.pgpass`` applies), or a SQLite file path."""
    if isinstance(location, Backend):
        return location
    if is_postgres_url(location):
        from puq_bridge.usage.backends.postgres import PostgresBackend

        return PostgresBackend(str(location))
    from puq_bridge.usage.backends.sqlite import SqliteBackend

    return SqliteBackend(location, busy_timeout=busy_timeout)


class UsageStore(OverviewReads):
    """The usage history, in a SQLite file or a PostgreSQL database (the addon page's reads:
    :class:`~puq_bridge.usage.store_overview.OverviewReads`).

    Args:
        location: a SQLite file path (its parent folders are created), a ``postgresql://`` URL, or
            a backend (:class:`~puq_bridge.usage.backends.postgres.PostgresBackend` with a password
            and pool size); the store owns it and closes it.
        detail_days: how many days every run's per-service and per-mailbox detail is kept.
        history_days: how many days the one-row-per-service-per-day history is kept (at least 90:
            the tabs' chart).
        busy_timeout: SQLite: seconds a connection waits for another process's write lock before
            failing.

    Raises:
        StoreUnavailable: the file cannot be created or opened, or the database server cannot be
            reached.
        StoreError: the store cannot be migrated, or was written by a newer puq-bridge.
    """

    def __init__(
        self,
        location: str | os.PathLike | Backend,
        *,
        detail_days: int = 14,
        history_days: int = 400,
        busy_timeout: float = 10.0,
    ):
        if detail_days < 1 or history_days < 1:
            raise ValueError("detail_days and history_days must be at least 1")
        self.detail_days, self.history_days = detail_days, max(history_days, 90)
        self.backend = open_backend(location, busy_timeout=busy_timeout)
        self._signatures_pruned_at = float("-inf")
        #: The schema version the store had when opened (before this object migrated it).
        self.migrated_from = SCHEMA_VERSION
        self._prune_lock = threading.Lock()
        try:
            self._migrate()
        except BaseException:
            self.backend.close()
            raise

    @property
    def path(self) -> Path | None:
        """The SQLite file, or ``None`` when the store is a PostgreSQL database."""
        return self.backend.path

    @property
    def where(self) -> str:
        """The store as messages name it: the file, or the database URL without its password."""
        return self.backend.where

    # --- connections -----------------------------------------------------------------------------

    def _write(self, work: Callable[[Session], object], what: str):
        """Run ``work`` in one write transaction; database errors become a StoreError naming
        ``what``."""
        with self.backend.transaction(what) as db:
            return work(db)

    def _read(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self.backend.reading() as db:
            return db.execute(sql, tuple(params)).fetchall()

    def _migrate(self) -> None:
        backend = self.backend

        def upgrade(db: Session) -> None:
            backend.lock_schema(db)
            # read under the lock: another process may just have migrated
            version = self.migrated_from = backend.schema_version(db)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"usage store {self.where}: schema version {version} is newer than this "
                    f"puq-bridge understands ({SCHEMA_VERSION}); upgrade puq-bridge"
                )
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](db, backend.dialect)
                backend.set_schema_version(db, step + 1)
                log.info("usage store %s: migrated to schema version %d", self.where, step + 1)

        self._write(upgrade, "migration")

    @property
    def schema_version(self) -> int:
        """The store's schema version."""
        with self.backend.reading() as db:
            return self.backend.schema_version(db)

    def sync_lock(self) -> AbstractContextManager[None]:
        """Hold the lock of a sync run for its duration: a file lock beside a SQLite file, an
        advisory lock in PostgreSQL (so one run at a time across every host sharing the store).

        Raises:
            SyncLockedError: another run holds it.
        """
        return self.backend.sync_lock()

    def ping(self, timeout: float = 2.0) -> None:
        """Check that the store answers (for ``/healthz``); raises
        :class:`~puq_bridge.errors.StoreError` if not."""
        self.backend.ping(timeout)

    # --- writing ---------------------------------------------------------------------------------

    def record_run(
        self,
        started: dt.datetime,
        finished: dt.datetime,
        results: list[ServiceResult],
        *,
        dry_run: bool = False,
        origin: str | None = None,
    ) -> int:
        """Record one sync run and every service's result (failed ones with their error); returns
        the run id.

        Successful readings also update the service's daily row (the day's last reading wins). A dry
        run writes nothing and returns 0. ``origin`` says what ran it (``sync-usage``,
        ``UsageUpdate``, ``SyncUsage``, ``addon``:
        :data:`~puq_bridge.usage.store_overview.ORIGINS`).
        """
        if dry_run:
            return 0
        counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
        taken = _ts(finished)

        def work(db: Session) -> int:
            run_id = db.insert(
                "INSERT INTO runs (started, finished, updated, unchanged, failed, skipped, origin) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_ts(started), taken, *(counts[s] for s in STATUSES), origin),
            )
            self._insert_samples(db, run_id, taken, results)
            return run_id

        return self._write(work, "recording the run")

    @staticmethod
    def _insert_samples(db: Session, run_id: int, taken: str, results: list[ServiceResult]) -> None:
        """Samples, their mailboxes and the daily rows in three batches (a handful of round trips to
        a database server however many services the run had)."""
        sample_ids = db.insert_many(
            "INSERT INTO samples (run_id, service_id, taken_at, domain, server, status, "
            "used_bytes, limit_bytes, error, tenancy, client_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
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
                )
                for r in results
            ],
        )
        db.insert_rows(
            "mailboxes",
            ("sample_id", "name", "zimbra_id", "used_bytes", "limit_bytes"),
            (
                (sample_id, m.name, m.id, m.used_bytes, m.limit_bytes)
                for sample_id, r in zip(sample_ids, results)
                for m in r.mailboxes
            ),
        )
        db.executemany(
            "INSERT INTO daily (service_id, day, taken_at, used_bytes, limit_bytes) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (service_id, day) DO UPDATE SET taken_at = excluded.taken_at, "
            "used_bytes = excluded.used_bytes, limit_bytes = excluded.limit_bytes "
            "WHERE excluded.taken_at >= daily.taken_at",
            [
                (r.service_id, taken[:10], taken, r.used_bytes, r.limit_bytes or 0)
                for r in results
                if r.has_data
            ],
        )

    def prune(self, now: dt.datetime | None = None) -> dict[str, int]:
        """Apply the retention rules (see the module docstring); returns how many rows of each table
        went."""
        now = _utc(now or _now())
        detail_cut = _ts(now - dt.timedelta(days=self.detail_days))
        history_cut = _ts(now - dt.timedelta(days=self.history_days))

        def work(db: Session) -> dict[str, int]:
            # Each service's newest successful sample survives detail_days (window functions: both
            # databases).
            samples = db.execute(
                "DELETE FROM samples WHERE taken_at < ? AND (taken_at < ? OR id NOT IN ("
                " SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY service_id"
                " ORDER BY taken_at DESC, id DESC) AS n FROM samples WHERE used_bytes IS NOT NULL)"
                " AS newest"
                " WHERE n = 1))",
                (detail_cut, history_cut),
            ).rowcount
            runs = db.execute(
                "DELETE FROM runs WHERE started < ? AND NOT EXISTS "
                "(SELECT 1 FROM samples WHERE run_id = runs.id)",
                (detail_cut,),
            ).rowcount
            daily = db.execute("DELETE FROM daily WHERE day < ?", (history_cut[:10],)).rowcount
            return {"samples": samples, "runs": runs, "daily": daily}

        removed = self._write(work, "pruning")
        if any(removed.values()):
            try:
                self.backend.reclaim_space()
            except StoreError as err:  # only space reclamation: the prune itself is committed
                log.warning("%s", err)
        log.debug("usage store %s: pruned %s", self.where, removed)
        return removed

    def remember_settings(
        self,
        service_id: int,
        total_space_bytes: int | None,
        tenancy: str | None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Keep a service's product "Total space" (bytes; ``None`` or 0 = not set) and "Tenancy"
        (``domain`` | ``server``; ``None`` = not known) settings; True when written.

        Called whenever WHMCS sends module params, so it usually finds the same values: that costs
        one read and no write (no write lock taken).
        """
        return self._remember(
            service_id,
            {"total_space_bytes": _positive(total_space_bytes), "tenancy": _tenancy(tenancy)},
            now,
        )

    def remember_total_space(
        self, service_id: int, total_space_bytes: int | None, now: dt.datetime | None = None
    ) -> bool:
        """Keep only a service's product "Total space" setting (see :meth:`remember_settings`); True
        when written."""
        return self._remember(service_id, {"total_space_bytes": _positive(total_space_bytes)}, now)

    def _remember(
        self, service_id: int, values: dict[str, object], now: dt.datetime | None
    ) -> bool:
        """Write the ``service_settings`` columns in ``values`` (names from the code, never from
        input) if they differ from the stored ones; the other columns keep what they hold."""
        known = self.service_settings(service_id).get(service_id, ServiceSettings())
        if all(getattr(known, column) == value for column, value in values.items()):
            return False
        columns = list(values)
        differs = self.backend.distinct_op
        changed = " OR ".join(f"service_settings.{c} {differs} excluded.{c}" for c in columns)
        sql = (
            f"INSERT INTO service_settings (service_id, {', '.join(columns)}, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in columns)}, ?) "
            "ON CONFLICT (service_id) DO UPDATE SET "
            f"{', '.join(f'{c} = excluded.{c}' for c in columns)}, "
            "updated_at = excluded.updated_at "
            f"WHERE {changed}"
        )

        def work(db: Session) -> int:
            return db.execute(sql, (service_id, *values.values(), _ts(now or _now()))).rowcount

        return self._write(work, "remembering the product settings") > 0

    def record_signon(
        self,
        service_id: int | None,
        mailbox: str,
        function: str,
        when: dt.datetime | None = None,
    ) -> None:
        """Keep one sign-on (service, the account signed in, the WHMCS function, when); sign-ons
        older than ``history_days`` go in the same transaction, so the table stays bounded."""
        signed = _utc(when or _now())
        cut = _ts(signed - dt.timedelta(days=self.history_days))

        def work(db: Session) -> None:
            db.execute(
                "INSERT INTO signons (service_id, mailbox, function, signed_at) "
                "VALUES (?, ?, ?, ?)",
                (service_id, mailbox, function, _ts(signed)),
            )
            db.execute("DELETE FROM signons WHERE signed_at < ?", (cut,))

        self._write(work, "recording a sign-on")

    def record_action(
        self,
        service_id: int,
        action: str,
        target: str,
        result: str,
        *,
        user_id: str = "",
        detail: str = "",
        when: dt.datetime | None = None,
    ) -> None:
        """Keep one mailbox action of a client (the audit); actions older than ``history_days`` go
        in the same transaction. ``detail`` must hold no secret (the caller masks it)."""
        acted = _utc(when or _now())
        cut = _ts(acted - dt.timedelta(days=self.history_days))

        def work(db: Session) -> None:
            db.execute(
                "INSERT INTO actions (service_id, user_id, action, target, result, detail, "
                "acted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    service_id,
                    user_id or None,
                    action,
                    target[:320],
                    result,
                    detail[:500],
                    _ts(acted),
                ),
            )
            db.execute("DELETE FROM actions WHERE acted_at < ?", (cut,))

        self._write(work, "recording a mailbox action")

    def actions(self, service_id: int, *, limit: int = 100) -> list[MailboxAction]:
        """The newest mailbox actions of a service, newest first."""
        rows = self._read(
            "SELECT service_id, user_id, action, target, result, detail, acted_at FROM actions "
            "WHERE service_id = ? ORDER BY acted_at DESC, id DESC LIMIT ?",
            (service_id, int(limit)),
        )
        return [
            MailboxAction(sid, uid or "", act, target, result, detail or "", _parse_ts(at))
            for sid, uid, act, target, result, detail, at in rows
        ]

    def count_actions(self, service_id: int, since: dt.datetime) -> int:
        """How many mailbox actions a service asked for since ``since`` (the rate limit)."""
        rows = self._read(
            "SELECT COUNT(*) FROM actions WHERE service_id = ? AND acted_at >= ?",
            (service_id, _ts(_utc(since))),
        )
        return rows[0][0]

    def apply_mailbox_change(
        self,
        service_id: int,
        name: str,
        *,
        limit_bytes: int | None = None,
        zimbra_id: str = "",
        removed: bool = False,
    ) -> bool:
        """Bring the service's newest reading up to a change the bridge just made (so the page
        shows it before the next sync): add ``name`` (used 0) or set its quota (``limit_bytes``),
        or drop it (``removed``); the reading's totals follow. False when there is no reading."""

        def work(db: Session) -> bool:
            rows = db.execute(
                "SELECT id FROM samples WHERE service_id = ? AND used_bytes IS NOT NULL "
                "ORDER BY taken_at DESC, id DESC LIMIT 1",
                (service_id,),
            ).fetchall()
            if not rows:
                return False
            sample_id = rows[0][0]
            found = db.execute(
                "SELECT id FROM mailboxes WHERE sample_id = ? AND name = ?", (sample_id, name)
            ).fetchall()
            if removed:
                db.execute(
                    "DELETE FROM mailboxes WHERE sample_id = ? AND name = ?", (sample_id, name)
                )
            elif found and limit_bytes is not None:
                db.execute(
                    "UPDATE mailboxes SET limit_bytes = ? WHERE id = ?", (limit_bytes, found[0][0])
                )
            elif not found:
                db.execute(
                    "INSERT INTO mailboxes (sample_id, name, zimbra_id, used_bytes, limit_bytes) "
                    "VALUES (?, ?, ?, 0, ?)",
                    (sample_id, name, zimbra_id, limit_bytes or 0),
                )
            used, limits, unlimited, count = db.execute(
                "SELECT COALESCE(SUM(used_bytes), 0), COALESCE(SUM(limit_bytes), 0), "
                "COALESCE(SUM(CASE WHEN limit_bytes <= 0 THEN 1 ELSE 0 END), 0), COUNT(*) "
                "FROM mailboxes WHERE sample_id = ?",
                (sample_id,),
            ).fetchone()
            total = db.execute(
                "SELECT total_space_bytes FROM service_settings WHERE service_id = ?",
                (service_id,),
            ).fetchall()
            limit = (
                total[0][0] if total and total[0][0] else (0 if unlimited or not count else limits)
            )
            db.execute(
                "UPDATE samples SET used_bytes = ?, limit_bytes = ? WHERE id = ?",
                (used, limit, sample_id),
            )
            return True

        return bool(self._write(work, "updating the reading after a mailbox action"))

    def remember_server_stats(
        self, stats: Iterable[ServerStats], now: dt.datetime | None = None
    ) -> None:
        """Keep what a run learnt of each server (one row per server, replaced)."""
        rows = [
            (
                s.server,
                s.accounts,
                _ts(s.accounts_at) if s.accounts_at else None,
                s.bridge_rows,
                s.domains,
                _ts(now or _now()),
            )
            for s in stats
        ]

        def work(db: Session) -> None:
            db.executemany(
                "INSERT INTO server_stats (server, accounts, accounts_at, bridge_rows, domains, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (server) DO UPDATE SET "
                "accounts = excluded.accounts, accounts_at = excluded.accounts_at, "
                "bridge_rows = excluded.bridge_rows, domains = excluded.domains, "
                "updated_at = excluded.updated_at",
                rows,
            )

        if rows:
            self._write(work, "remembering the servers' statistics")

    # --- reading ----------------------------------------------------------------------------------

    def server_stats(self) -> dict[str, ServerStats]:
        """server name -> what the sync learnt of it (:meth:`remember_server_stats`)."""
        rows = self._read(
            "SELECT server, accounts, accounts_at, bridge_rows, domains FROM server_stats"
        )
        return {
            server: ServerStats(server, accounts, _parse_ts(at) if at else None, rows_, domains)
            for server, accounts, at, rows_, domains in rows
        }

    def signons(self, service_id: int | None = None, *, limit: int = 100) -> list[SignOn]:
        """The newest sign-ons, newest first: of one service, or of every service and staff."""
        sql = "SELECT service_id, mailbox, function, signed_at FROM signons"
        args: tuple = ()
        if service_id is not None:
            sql, args = sql + " WHERE service_id = ?", (service_id,)
        rows = self._read(sql + " ORDER BY signed_at DESC, id DESC LIMIT ?", (*args, int(limit)))
        return [SignOn(sid, mailbox, fn, _parse_ts(at)) for sid, mailbox, fn, at in rows]

    def claim_signature(self, signature: str, keep_until: float, now: float) -> bool:
        """Record an adapter request's signature as used until ``keep_until`` (unix seconds);
        False when it was recorded before — by this or any other bridge instance sharing the
        store, before a restart too — which makes the request a replay.

        Signatures kept past their time are deleted here, at most once a minute per store object.
        """
        with self._prune_lock:
            prune = now - self._signatures_pruned_at >= SIGNATURE_PRUNE_INTERVAL
            if prune:
                self._signatures_pruned_at = now

        def work(db: Session) -> bool:
            if prune:
                db.execute("DELETE FROM seen_signatures WHERE keep_until < ?", (int(now),))
            return (
                db.execute(
                    "INSERT INTO seen_signatures (signature, keep_until) VALUES (?, ?) "
                    "ON CONFLICT (signature) DO NOTHING",
                    (signature, int(keep_until)),
                ).rowcount
                == 1
            )

        return self._write(work, "recording the request signature")

    # --- reading ---------------------------------------------------------------------------------

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
        """service id -> the product's total space in bytes, for every service that has one set (one
        query)."""
        return {
            sid: s.total_space_bytes
            for sid, s in self.service_settings().items()
            if s.total_space_bytes
        }

    def latest(self, service_id: int) -> Snapshot | None:
        """The newest successful reading of a service (``None`` if there is none), with the error
        and time of a failed attempt at or after it."""
        newest_failure = (
            "(SELECT f.{} FROM samples f WHERE f.service_id = s.service_id AND f.status = 'failed' "
            "AND f.taken_at >= s.taken_at ORDER BY f.taken_at DESC, f.id DESC LIMIT 1)"
        )
        with self.backend.reading() as db:  # one connection, two round trips
            row = db.execute(
                "SELECT s.id, s.domain, s.server, s.taken_at, s.used_bytes, s.limit_bytes, "
                f"s.tenancy, {newest_failure.format('taken_at')}, {newest_failure.format('error')} "
                "FROM samples s WHERE s.service_id = ? AND s.used_bytes IS NOT NULL "
                "ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
                (service_id,),
            ).fetchone()
            if row is None:
                return None
            sample_id, domain, server, taken_at, used, limit, tenancy, failed_at, error = row
            mailboxes = tuple(
                MailboxUsage(name, u, lim, zid)
                for name, zid, u, lim in db.execute(
                    "SELECT name, zimbra_id, used_bytes, limit_bytes FROM mailboxes "
                    "WHERE sample_id = ? ORDER BY id",
                    (sample_id,),
                ).fetchall()
            )
        return Snapshot(
            service_id=service_id,
            domain=domain,
            server=server,
            taken_at=_parse_ts(taken_at),
            used_bytes=used,
            limit_bytes=limit or 0,
            mailboxes=mailboxes,
            error=error if failed_at else None,
            failed_at=_parse_ts(failed_at) if failed_at else None,
            tenancy=tenancy or "domain",
        )

    def history(
        self, service_id: int, days: int = 90, now: dt.datetime | None = None
    ) -> list[DailyPoint]:
        """One point per day with a successful reading over the last ``days`` days (today included),
        oldest first."""
        first = (_utc(now or _now()).date() - dt.timedelta(days=days - 1)).isoformat()
        rows = self._read(
            "SELECT day, used_bytes, limit_bytes FROM daily WHERE service_id = ? AND day >= ? "
            "ORDER BY day",
            (service_id, first),
        )
        return [DailyPoint(dt.date.fromisoformat(day), used, limit) for day, used, limit in rows]

    def counts(self) -> dict[str, int]:
        """Row counts per table (for retention checks and the benchmark)."""
        return {
            t: self._read(f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ("runs", "samples", "mailboxes", "daily")
        }

    # --- life cycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every connection this store opened (in any thread)."""
        self.backend.close()

    def __enter__(self) -> "UsageStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
