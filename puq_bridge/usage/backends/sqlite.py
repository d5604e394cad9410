"""The embedded backend: one SQLite file, for one bridge on one host.

WAL mode and a busy timeout, so readers (the adapter) never block the writer (the sync) or each
other. Each thread gets its own connection; writes in this process are serialised by a lock and use
``BEGIN IMMEDIATE``. The schema version is ``PRAGMA user_version``; a sync run holds the file lock
``<file>.lock`` (:func:`sync_lock`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from puq_bridge.errors import StoreError, StoreUnavailable, SyncLockedError
from puq_bridge.usage.backends.base import Backend

log = logging.getLogger(__name__)


@contextmanager
def sync_lock(store_path: str | os.PathLike) -> Iterator[Path]:
    """Hold the non-blocking file lock ``<store_path>.lock`` for the duration of a run.

    Raises:
        SyncLockedError: another run (in this or another process) holds it.
    """
    lock_path = Path(f"{os.fspath(store_path)}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise StoreError(f"cannot take the sync lock {lock_path}: {err.strerror}") from err
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            by = f" (pid {holder})" if holder.isdigit() else ""
            raise SyncLockedError(f"another sync-usage run holds the lock {lock_path}{by}") from err
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as err:  # a full disk: the lock is held all the same, say so and go on
            log.warning("could not write the pid into %s: %s", lock_path, err.strerror)
        yield lock_path
    finally:
        os.close(fd)


def _create_private(path: Path) -> None:
    """Create the store file readable by its owner only (mode 0600) before SQLite opens it: the
    history names every client's domains and mailboxes. SQLite gives its -wal and -shm files the
    same mode. An existing file is left as the operator made it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3.connect then says what is wrong, naming the file
    os.close(fd)


class _Session:
    """A thread's connection, spoken to through :class:`~puq_bridge.usage.backends.base.Session`."""

    __slots__ = ("db",)

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def execute(self, sql: str, params: Sequence = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        self.db.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence = ()) -> int:
        return self.db.execute(sql, tuple(params)).lastrowid

    def insert_many(self, sql: str, rows: Sequence[Sequence]) -> list[int]:
        return [self.db.execute(sql, tuple(row)).lastrowid for row in rows]

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
        marks = ", ".join("?" for _ in columns)
        self.db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class SqliteBackend(Backend):
    """The usage-history SQLite file.

    Args:
        path: the database file; its parent folders are created.
        busy_timeout: seconds a connection waits for another process's write lock before failing.

    Raises:
        StoreUnavailable: the folder cannot be created or the file is not a usable SQLite database.
    """

    dialect = "sqlite"
    distinct_op = "IS NOT"

    def __init__(self, path: str | os.PathLike, *, busy_timeout: float = 10.0):
        self.path = Path(path).expanduser()
        self.where = str(self.path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailable(
                f"usage store {self.path}: cannot create folder: {err.strerror}"
            ) from err
        try:
            db = self._conn()
            if db.execute("PRAGMA user_version").fetchone()[0] == 0:
                # only takes effect on a file without tables yet
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        except sqlite3.Error as err:
            self.close()
            raise StoreUnavailable(
                f"usage store {self.path}: not a usable SQLite file: {err}"
            ) from err

    def _conn(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                # check_same_thread=False only so close() can close every thread's connection; each
                # is used by one.
                _create_private(self.path)
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
                raise StoreUnavailable(f"usage store {self.path}: cannot open: {err}") from err
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextmanager
    def reading(self) -> Iterator[_Session]:
        try:
            yield _Session(self._conn())
        except sqlite3.Error as err:
            raise StoreError(f"usage store {self.path}: read failed: {err}") from err

    @contextmanager
    def transaction(self, what: str) -> Iterator[_Session]:
        db = self._conn()
        with self._write_lock:
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield _Session(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as err:
                raise StoreError(f"usage store {self.path}: {what} failed: {err}") from err

    def lock_schema(self, db) -> None:
        """``BEGIN IMMEDIATE`` already keeps every other writer out."""

    def schema_version(self, db) -> int:
        return db.execute("PRAGMA user_version").fetchone()[0]

    def set_schema_version(self, db, version: int) -> None:
        db.execute(f"PRAGMA user_version = {int(version)}")

    @contextmanager
    def sync_lock(self) -> Iterator[None]:
        with sync_lock(self.path):
            yield

    def ping(self, timeout: float) -> None:
        with self.reading() as db:  # reads the file's header: a file gone or unreadable fails here
            db.execute("PRAGMA user_version").fetchone()

    def reclaim_space(self) -> None:
        """Step ``PRAGMA incremental_vacuum`` to its end: freed pages go back to the file system."""
        with self.transaction("vacuum") as db:
            db.execute("PRAGMA incremental_vacuum").fetchall()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for db in connections:
            db.close()
        self._local = threading.local()
