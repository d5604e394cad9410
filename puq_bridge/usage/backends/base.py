"""The small dialect layer under :class:`~puq_bridge.usage.store.UsageStore`: what differs between
SQLite and PostgreSQL, and nothing else.

The store writes its SQL once, with ``?`` placeholders and the subset both databases speak (``ON
CONFLICT``, window functions, ``LIMIT``). A backend supplies connections (:meth:`Backend.reading`,
:meth:`Backend.transaction`), turns its driver's errors into
:class:`~puq_bridge.errors.StoreError`\\ s naming the store, keeps the schema version, and holds the
one lock a sync run takes. The few spellings that differ are attributes (:attr:`Backend.dialect` for
the schema's column types, :attr:`Backend.distinct_op`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Iterable, Protocol, Sequence

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: object) -> bool:
    """True when ``location`` is a ``postgresql://`` (or ``postgres://``) URL rather than a file
    path."""
    return isinstance(location, str) and location.lower().startswith(POSTGRES_SCHEMES)


class Cursor(Protocol):
    """What a statement returns: its rows and, for a write, how many rows it changed."""

    rowcount: int

    def fetchone(self) -> tuple | None: ...

    def fetchall(self) -> list[tuple]: ...


class Session(Protocol):
    """One connection, inside a write transaction or reading; SQL uses ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence = ()) -> Cursor:
        """Run one statement."""

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        """Run one statement once per row of parameters."""

    def insert(self, sql: str, params: Sequence = ()) -> int:
        """Run an ``INSERT`` into a table whose key is ``id``; returns the new row's id."""

    def insert_many(self, sql: str, rows: Sequence[Sequence]) -> list[int]:
        """Run an ``INSERT`` once per row (in one batch where the driver can); the new ids, in
        order."""

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        """Append plain rows (no conflict handling) the fastest way the database has (PostgreSQL:
        ``COPY``); ``table`` and ``columns`` come from the code, never from input."""


class Backend(ABC):
    """Connections, errors, schema version and the sync lock of one database.

    Attributes:
        dialect: ``sqlite`` or ``postgresql`` (the migrations pick their column types by it).
        where: names the store in messages (a file path, or the URL without its password).
        path: the SQLite file, ``None`` for a database server.
        distinct_op: the null-safe "differs" operator (``IS NOT`` in SQLite, ``IS DISTINCT FROM``
            in PostgreSQL).
    """

    dialect: str
    where: str
    path: Path | None = None
    distinct_op: str

    @abstractmethod
    def reading(self) -> AbstractContextManager[Session]:
        """A connection for one or more reads; driver errors become a ``StoreError`` ("read
        failed")."""

    @abstractmethod
    def transaction(self, what: str) -> AbstractContextManager[Session]:
        """One write transaction, committed when the block ends and rolled back when it raises;
        driver errors become a ``StoreError`` naming ``what``."""

    @abstractmethod
    def lock_schema(self, db: Session) -> None:
        """Inside a transaction: keep other processes from migrating at the same time (until it
        ends)."""

    @abstractmethod
    def schema_version(self, db: Session) -> int:
        """The schema version the database is at (0: nothing created yet)."""

    @abstractmethod
    def set_schema_version(self, db: Session, version: int) -> None:
        """Record the schema version, inside the migration's transaction."""

    @abstractmethod
    def sync_lock(self) -> AbstractContextManager[None]:
        """Hold the one lock a sync run takes, for every host using this store.

        Raises:
            SyncLockedError: another run holds it.
        """

    @abstractmethod
    def ping(self, timeout: float) -> None:
        """Check that the database answers within about ``timeout`` seconds; raises ``StoreError``
        if not."""

    def reclaim_space(self) -> None:
        """Give space freed by a prune back to the system, where the database does not do that
        itself."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection (in any thread)."""
