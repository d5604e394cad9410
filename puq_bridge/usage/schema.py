"""The usage store's schema: one migration per version, applied in order by
:class:`~puq_bridge.usage.store.UsageStore`.

``MIGRATIONS[n]`` takes a file from version ``n`` to ``n + 1`` (``PRAGMA user_version``). Only ever
append: a released migration never changes, so every file, however old, reaches the same schema.
"""

from __future__ import annotations

import sqlite3
from typing import Callable


def _script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the caller's transaction (``executescript`` would
    commit it)."""
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
            updated INTEGER NOT NULL, unchanged INTEGER NOT NULL, failed INTEGER NOT NULL,
            skipped INTEGER NOT NULL);
        CREATE INDEX runs_started ON runs(started);
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            service_id INTEGER NOT NULL, taken_at TEXT NOT NULL, domain TEXT NOT NULL,
            server TEXT NOT NULL, status TEXT NOT NULL, used_bytes INTEGER, limit_bytes INTEGER,
            error TEXT);
        CREATE INDEX samples_service ON samples(service_id, taken_at);
        CREATE INDEX samples_taken ON samples(taken_at);
        CREATE INDEX samples_run ON samples(run_id);
        CREATE TABLE mailboxes (
            id INTEGER PRIMARY KEY,
            sample_id INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
            name TEXT NOT NULL, zimbra_id TEXT NOT NULL, used_bytes INTEGER NOT NULL,
            limit_bytes INTEGER NOT NULL);
        CREATE INDEX mailboxes_sample ON mailboxes(sample_id);
        CREATE TABLE daily (
            service_id INTEGER NOT NULL, day TEXT NOT NULL, taken_at TEXT NOT NULL,
            used_bytes INTEGER NOT NULL, limit_bytes INTEGER NOT NULL,
            PRIMARY KEY (service_id, day)) WITHOUT ROWID;
        CREATE INDEX daily_day ON daily(day);
    """,
    )


def _v2(db: sqlite3.Connection) -> None:
    """Per service, the product's "Total space" module setting (WHMCS's API never returns module
    settings)."""
    db.execute(
        "CREATE TABLE service_settings (service_id INTEGER PRIMARY KEY, total_space_bytes INTEGER, "
        "updated_at TEXT NOT NULL)"
    )


def _v3(db: sqlite3.Connection) -> None:
    """The product's tenancy per service (NULL: not known yet, read as ``domain``), and what each
    sample read (``domain``: the service's domain; ``server``: every mailbox of a private server;
    NULL in older rows: domain)."""
    db.execute("ALTER TABLE service_settings ADD COLUMN tenancy TEXT")
    db.execute("ALTER TABLE samples ADD COLUMN tenancy TEXT")


def _v4(db: sqlite3.Connection) -> None:
    """Every sign-on the bridge made (webmail, admin console): the service (NULL for staff), the
    account signed in, the WHMCS function that asked, and when. Plain SQL: no SQLite-only types."""
    _script(
        db,
        """
        CREATE TABLE signons (
            id INTEGER PRIMARY KEY, service_id INTEGER, mailbox TEXT NOT NULL,
            function TEXT NOT NULL, signed_at TEXT NOT NULL);
        CREATE INDEX signons_service ON signons(service_id, signed_at);
        CREATE INDEX signons_signed ON signons(signed_at)
    """,
    )


def _v5(db: sqlite3.Connection) -> None:
    """Every mailbox action a client asked for in the client area (CreateMailbox, …): the service,
    the WHMCS user id when known, the action, its target (an address), the result (``ok``,
    ``refused``, ``failed``), the reason's key and when. Never a password. Plain SQL."""
    _script(
        db,
        """
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY, service_id INTEGER NOT NULL, user_id TEXT,
            action TEXT NOT NULL, target TEXT NOT NULL, result TEXT NOT NULL,
            detail TEXT, acted_at TEXT NOT NULL);
        CREATE INDEX actions_service ON actions(service_id, acted_at);
        CREATE INDEX actions_acted ON actions(acted_at)
    """,
    )


#: Schema migrations: ``MIGRATIONS[n]`` takes a store from version ``n`` to ``n + 1``. Only ever
#: append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5]
SCHEMA_VERSION = len(MIGRATIONS)
