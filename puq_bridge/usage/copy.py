"""Copying a usage history from one store to another (``puq-bridge store copy``): moving a SQLite
history into the PostgreSQL database several instances will share.

Idempotent, and safe on a destination that already has history of its own: a run is identified by
its start and end times (microseconds), so a run already in the destination is skipped, and a new
one gets new ids there (its samples and mailboxes follow it), never overwriting a row that happens
to have the same id. Each run is copied in one transaction, so an interrupted copy leaves whole runs
and the next copy finishes the job. Daily rows, product settings and what the sync learnt of each
server are merged: the later reading, the newer setting wins. Sign-ons and clients' mailbox actions
(the audit) are added where the destination lacks a row with the same values. Request signatures
are not copied (they expire within minutes).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

from puq_bridge.usage.store import UsageStore

log = logging.getLogger(__name__)

_BATCH = 5000


@dataclass
class CopyReport:
    """What a copy wrote (``runs_present``: runs the destination had already, skipped)."""

    runs: int = 0
    runs_present: int = 0
    samples: int = 0
    mailboxes: int = 0
    daily: int = 0
    settings: int = 0
    servers: int = 0
    signons: int = 0
    actions: int = 0

    def to_json(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return asdict(self)


def copy_store(
    source: UsageStore,
    destination: UsageStore,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy every run (with its samples and mailboxes), daily row, product setting, server
    statistic, sign-on and mailbox action of ``source`` that ``destination`` lacks;
    ``progress(done, total)`` after each run. Raises ``StoreError`` from either store."""
    report = CopyReport()
    present = {tuple(row) for row in _rows(destination, "SELECT started, finished FROM runs")}
    runs = list(
        _rows(
            source,
            "SELECT id, started, finished, updated, unchanged, failed, skipped, origin FROM runs "
            "ORDER BY id",
        )
    )
    for done, (run_id, started, finished, *counts) in enumerate(runs, 1):
        if (started, finished) in present:
            report.runs_present += 1
        else:
            _copy_run(source, destination, run_id, (started, finished, *counts), report)
            present.add((started, finished))
        if progress is not None:
            progress(done, len(runs))
    report.daily = _merge(
        source,
        destination,
        "SELECT service_id, day, taken_at, used_bytes, limit_bytes FROM daily "
        "ORDER BY service_id, day",
        "INSERT INTO daily (service_id, day, taken_at, used_bytes, limit_bytes) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (service_id, day) DO UPDATE SET taken_at = excluded.taken_at, "
        "used_bytes = excluded.used_bytes, limit_bytes = excluded.limit_bytes "
        "WHERE excluded.taken_at > daily.taken_at",
    )
    report.settings = _merge(
        source,
        destination,
        "SELECT service_id, total_space_bytes, tenancy, updated_at FROM service_settings "
        "ORDER BY service_id",
        "INSERT INTO service_settings (service_id, total_space_bytes, tenancy, updated_at) "
        "VALUES (?, ?, ?, ?) "
        "ON CONFLICT (service_id) DO UPDATE SET total_space_bytes = excluded.total_space_bytes, "
        "tenancy = excluded.tenancy, updated_at = excluded.updated_at "
        "WHERE excluded.updated_at > service_settings.updated_at",
    )
    report.servers = _merge(
        source,
        destination,
        "SELECT server, accounts, accounts_at, bridge_rows, domains, updated_at FROM server_stats "
        "ORDER BY server",
        "INSERT INTO server_stats (server, accounts, accounts_at, bridge_rows, domains, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (server) DO UPDATE SET accounts = excluded.accounts, "
        "accounts_at = excluded.accounts_at, bridge_rows = excluded.bridge_rows, "
        "domains = excluded.domains, updated_at = excluded.updated_at "
        "WHERE excluded.updated_at > server_stats.updated_at",
    )
    report.signons = _append(
        source, destination, "signons", ("service_id", "mailbox", "function", "signed_at")
    )
    report.actions = _append(
        source,
        destination,
        "actions",
        ("service_id", "user_id", "action", "target", "result", "detail", "acted_at"),
    )
    log.info("store copy %s -> %s: %s", source.where, destination.where, report)
    return report


def _rows(store: UsageStore, sql: str, params: tuple = ()) -> list[tuple]:
    with store.backend.reading() as db:
        return db.execute(sql, params).fetchall()


def _copy_run(
    source: UsageStore, destination: UsageStore, run_id: int, run: tuple, report: CopyReport
) -> None:
    samples = _rows(
        source,
        "SELECT id, service_id, taken_at, domain, server, status, used_bytes, limit_bytes, error, "
        "tenancy, client_id FROM samples WHERE run_id = ? ORDER BY id",
        (run_id,),
    )
    mailboxes = _rows(
        source,
        "SELECT m.sample_id, m.name, m.zimbra_id, m.used_bytes, m.limit_bytes FROM mailboxes m "
        "JOIN samples s ON s.id = m.sample_id WHERE s.run_id = ? ORDER BY m.id",
        (run_id,),
    )
    with destination.backend.transaction("copying a run") as db:
        new_run = db.insert(
            "INSERT INTO runs (started, finished, updated, unchanged, failed, skipped, origin) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            run,
        )
        new_ids = db.insert_many(
            "INSERT INTO samples (run_id, service_id, taken_at, domain, server, status, "
            "used_bytes, limit_bytes, error, tenancy, client_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(new_run, *sample[1:]) for sample in samples],
        )
        sample_id = {old[0]: new for old, new in zip(samples, new_ids)}
        db.insert_rows(
            "mailboxes",
            ("sample_id", "name", "zimbra_id", "used_bytes", "limit_bytes"),
            ((sample_id[m[0]], *m[1:]) for m in mailboxes),
        )
    report.runs += 1
    report.samples += len(samples)
    report.mailboxes += len(mailboxes)


def _merge(source: UsageStore, destination: UsageStore, select: str, upsert: str) -> int:
    """Upsert every row of ``select`` into the destination, in batches; returns how many rows were
    sent."""
    sent = 0
    for batch in _batches(_rows(source, select)):
        with destination.backend.transaction("merging rows") as db:
            db.executemany(upsert, batch)
        sent += len(batch)
    return sent


def _append(
    source: UsageStore, destination: UsageStore, table: str, columns: tuple[str, ...]
) -> int:
    """Add the rows of a log table (no key but its generated id) that the destination lacks, a row
    being the same when every column is; returns how many were added. The logs are bounded by
    ``history_days``, so both sides' rows fit in memory."""
    listed = ", ".join(columns)
    select = f"SELECT {listed} FROM {table} ORDER BY id"
    present = set(_rows(destination, select))
    rows = [row for row in _rows(source, select) if row not in present]
    insert = f"INSERT INTO {table} ({listed}) VALUES ({', '.join('?' for _ in columns)})"
    for batch in _batches(rows):
        with destination.backend.transaction(f"copying {table}") as db:
            db.executemany(insert, batch)
    return len(rows)


def _batches(rows: list[tuple]) -> Iterator[list[tuple]]:
    for start in range(0, len(rows), _BATCH):
        yield rows[start : start + _BATCH]
