"""The shared backend: a PostgreSQL database that several bridge instances (``serve`` behind a load
balancer, cron on several hosts) use at once.

psycopg 3 with a connection pool (psycopg_pool): each thread borrows a connection per store call, in
autocommit for reads and inside one transaction for a write. The pool checks a connection before
lending it, so a PostgreSQL restart costs a reconnection, not an error; while the server is down a
call waits up to ``timeout`` seconds for one and then fails with a
:class:`~puq_bridge.errors.StoreUnavailable` naming the host and the cause.

The schema version is the one row of ``schema_version``; migrations hold an advisory transaction
lock, so instances starting together migrate once. A sync run holds the session advisory lock
(:data:`LOCK_CLASS`, :data:`SYNC_LOCK`) on a connection of its own for its whole run: one run at a
time across every host, and the lock goes with the connection if the process dies. This module
imports psycopg; the store imports it only for a ``postgresql://`` URL.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from puq_bridge.errors import StoreError, StoreUnavailable, SyncLockedError
from puq_bridge.usage.backends.base import Backend

log = logging.getLogger(__name__)

#: First key of this project's advisory locks (``pugb``); the second says which lock.
LOCK_CLASS = 0x70756762
SYNC_LOCK = 1
MIGRATION_LOCK = 2


def display_url(url: str) -> str:
    """``url`` without its password and query (which may hold one), as messages name it."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2] or "localhost"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{hosts}{parts.path}"


def cause(err: BaseException) -> str:
    """The first line of a driver error, without psycopg's "connection failed: " prefix."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = " ".join(lines[0].split()) if lines else type(err).__name__
    return text.removeprefix("connection failed: ")


@lru_cache(maxsize=256)
def _placeholders(statement: str) -> str:
    """The store's ``?`` placeholders as psycopg's ``%s`` (the store's SQL has no other ``?`` or
    ``%``)."""
    return statement.replace("?", "%s")


class _Session:
    """A borrowed connection, spoken to through :class:`~puq_bridge.usage.backends.base.Session`."""

    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def execute(self, statement: str, params: Sequence = ()) -> psycopg.Cursor:
        return self.conn.execute(_placeholders(statement), tuple(params) or None)

    def executemany(self, statement: str, rows: Iterable[Sequence]) -> None:
        rows = list(rows)
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(_placeholders(statement), rows)

    def insert(self, statement: str, params: Sequence = ()) -> int:
        returning = _placeholders(statement) + " RETURNING id"
        return self.conn.execute(returning, tuple(params)).fetchone()[0]

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.conn.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def insert_many(self, statement: str, rows: Sequence[Sequence]) -> list[int]:
        if not rows:
            return []
        ids = []
        with self.conn.cursor() as cursor:  # pipelined: one round trip for the whole batch
            cursor.executemany(_placeholders(statement) + " RETURNING id", rows, returning=True)
            while True:
                ids.append(cursor.fetchone()[0])
                if not cursor.nextset():
                    return ids


class PostgresBackend(Backend):
    """A PostgreSQL database reached through a connection pool.

    Args:
        url: ``postgresql://user@host:port/database`` (libpq's URI; a password in it works too,
            but give it as ``password``: messages show the URL without it either way).
        password: the role's password (``None``: the URL's, else libpq's ``PGPASSWORD`` or
            ``~/.pgpass``).
        pool_size: connections kept at most (``serve``: one per worker thread).
        timeout: seconds to connect, and to wait for a free connection, before failing.
        application_name: how the connections appear in ``pg_stat_activity``.

    Raises:
        StoreUnavailable: the server cannot be reached or refuses the login (the message names
            host and cause).
    """

    dialect = "postgresql"
    distinct_op = "IS DISTINCT FROM"

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        pool_size: int = 4,
        timeout: float = 5.0,
        application_name: str = "puq-bridge",
    ):
        if pool_size < 1 or timeout <= 0:
            raise ValueError("pool_size must be at least 1 and timeout greater than 0")
        self.where = display_url(url)
        self.timeout = timeout
        extra = {"password": password} if password else {}
        try:
            self._conninfo = make_conninfo(
                url,
                connect_timeout=max(2, math.ceil(timeout)),
                application_name=application_name,
                **extra,
            )
        except psycopg.ProgrammingError as err:
            message = f"usage store {self.where}: not a usable URL: {cause(err)}"
            raise StoreUnavailable(message) from err
        self._probe()
        self._pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=pool_size,
            timeout=timeout,
            check=ConnectionPool.check_connection,
            kwargs={"autocommit": True},
            name="puq-bridge-store",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as err:
            self._pool.close()
            raise StoreUnavailable(self._unavailable("cannot connect")) from err

    def _probe(self) -> None:
        """One direct connection: at start a refused login or an unreachable host is reported with
        its cause (a pool only says it timed out)."""
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as err:
            raise StoreUnavailable(
                f"usage store {self.where}: cannot connect: {cause(err)}"
            ) from err

    def _unavailable(self, what: str) -> str:
        try:
            self._probe()
        except StoreUnavailable as err:
            return str(err).replace(": cannot connect:", f": {what}:", 1)
        return (
            f"usage store {self.where}: {what}: no free connection within {self.timeout:g} s "
            "(every pooled connection busy)"
        )

    @contextmanager
    def _connection(self, what: str, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout as err:
            raise StoreUnavailable(self._unavailable(what)) from err
        except PoolClosed as err:
            raise StoreError(f"usage store {self.where}: {what}: the store is closed") from err
        except psycopg.OperationalError as err:  # the connection went away in the middle
            raise StoreUnavailable(f"usage store {self.where}: {what}: {cause(err)}") from err
        except psycopg.Error as err:
            raise StoreError(f"usage store {self.where}: {what} failed: {cause(err)}") from err

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        with self._connection("read") as conn:
            yield _Session(conn)

    @contextmanager
    def transaction(self, what: str) -> Iterator[_Session]:
        with self._connection(what) as conn, conn.transaction():
            yield _Session(conn)

    def lock_schema(self, db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_CLASS, MIGRATION_LOCK))
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")

    def schema_version(self, db) -> int:
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return row[0] or 0

    def set_schema_version(self, db, version: int) -> None:
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (int(version),))

    @contextmanager
    def sync_lock(self) -> Iterator[None]:
        name = f"puq-bridge sync-usage on {socket.gethostname()} pid {os.getpid()}"[:63]
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, application_name=name)
        except psycopg.Error as err:
            raise StoreUnavailable(
                f"usage store {self.where}: cannot connect: {cause(err)}"
            ) from err
        # The lock is released explicitly at the end (closing the connection would release it too,
        # but the server notices a closed connection a moment later, and a run starting at once must
        # find it free); if the process dies, the lock goes with its connection. (A server restart
        # during the run releases it too; the run still ends and records normally.)
        taken = False
        try:
            try:
                taken = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, SYNC_LOCK)
                ).fetchone()[0]
                holder = None if taken else self._lock_holder(conn)
            except psycopg.Error as err:
                raise StoreError(f"usage store {self.where}: sync lock: {cause(err)}") from err
            if not taken:
                by = f" ({holder})" if holder else ""
                raise SyncLockedError(
                    f"another sync-usage run holds the lock (advisory lock in {self.where}){by}"
                )
            yield
        finally:
            if taken:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, SYNC_LOCK))
                except psycopg.Error:  # the server dropped the connection: the lock went with it
                    pass
            conn.close()  # never raises, even on a connection the server has dropped

    @staticmethod
    def _lock_holder(conn: psycopg.Connection) -> str | None:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = %s "
            "AND l.objid::bigint = %s AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_CLASS, SYNC_LOCK),
        ).fetchone()
        return row[0] if row and row[0] else None

    def ping(self, timeout: float) -> None:
        """``SELECT 1`` on a pooled connection, waiting at most ``timeout`` (or the store's own
        ``timeout``, if shorter) for one."""
        with self._connection("health check", timeout=min(timeout, self.timeout)) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self._pool.close()
