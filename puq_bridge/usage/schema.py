"""The usage store's schema: one migration per version, applied in order by :class:`~puq_bridge.store.UsageStore`.

``MIGRATIONS[n]`` takes a file from version ``n`` to ``n + 1`` (``PRAGMA user_version``). Only ever append: a
released migration never changes, so every file, however old, reaches the same schema.
"""

from __future__ import annotations

import sqlite3
from typing import Callable


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the caller's transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    """Runs, samples, their mailboxes, and the one-row-per-day history."""
    _script(
        db,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT NOT NULL,
            updated INTEGER NOT NULL, unchanged INTEGER NOT NULL, failed INTEGER NOT NULL, skipped INTEGER NOT NULL);
        CREATE INDEX runs_started ON runs(started);
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            service_id INTEGER NOT NULL, taken_at TEXT NOT NULL, domain TEXT NOT NULL, server TEXT NOT NULL,
            status TEXT NOT NULL, used_bytes INTEGER, limit_bytes INTEGER, error TEXT);
        CREATE INDEX samples_service ON samples(service_id, taken_at);
        CREATE INDEX samples_taken ON samples(taken_at);
        CREATE INDEX samples_run ON samples(run_id);
        CREATE TABLE mailboxes (
            id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            name TEXT NOT NULL, zimbra_id TEXT NOT NULL, used_bytes INTEGER NOT NULL, limit_bytes INTEGER NOT NULL);
        CREATE INDEX mailboxes_sample ON mailboxes(sample_id);
        CREATE TABLE daily (
            service_id INTEGER NOT NULL, day TEXT NOT NULL, taken_at TEXT NOT NULL,
            used_bytes INTEGER NOT NULL, limit_bytes INTEGER NOT NULL, PRIMARY KEY (service_id, day)) WITHOUT ROWID;
        CREATE INDEX daily_day ON daily(day);
    """,
    )


def _v2(db: sqlite3.Connection) -> None:
    """Per service, the product's "Total space" module setting (WHMCS's API never returns module settings)."""
    db.execute(
        "CREATE TABLE service_settings (service_id INTEGER PRIMARY KEY, total_space_bytes INTEGER, "
        "updated_at TEXT NOT NULL)"
    )


def _v3(db: sqlite3.Connection) -> None:
    """The product's tenancy per service (NULL: not known yet, read as ``domain``), and what each sample read
    (``domain``: the service's domain; ``server``: every mailbox of a private server; NULL in older rows: domain)."""
    db.execute("ALTER TABLE service_settings ADD COLUMN tenancy TEXT")
    db.execute("ALTER TABLE samples ADD COLUMN tenancy TEXT")


def _v4(db: sqlite3.Connection) -> None:
    """What the WHMCS addon page shows: where each run came from (``runs.origin``: ``sync-usage``,
    ``UsageUpdate``, ``SyncUsage``, ``addon``; NULL in older rows), the WHMCS client of each sampled
    service (``samples.client_id``, for links to the service in WHMCS; NULL in older rows), and an
    index to find a server's newest sample without reading every sample; the run index gains the
    status, so a run's failed services are found without reading its other samples."""
    db.execute("ALTER TABLE runs ADD COLUMN origin TEXT")
    db.execute("ALTER TABLE samples ADD COLUMN client_id INTEGER")
    db.execute("CREATE INDEX samples_server ON samples(server, taken_at)")
    db.execute("DROP INDEX samples_run")
    db.execute("CREATE INDEX samples_run ON samples(run_id, status)")


#: Schema migrations: ``MIGRATIONS[n]`` takes a store from version ``n`` to ``n + 1``. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)
