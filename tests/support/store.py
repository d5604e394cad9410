"""Store fixtures for both backends: ``store_location`` is a SQLite path or the URL of an empty
PostgreSQL database.

PostgreSQL comes from ``$PUQ_TEST_POSTGRES_URL`` (a superuser's URL: CI starts a server and exports
it), else from a throw-away server started here for the session when the binaries are installed;
without either, the PostgreSQL cases are skipped with a reason naming the variable. Each test module
gets a database of its own, and each test an empty ``public`` schema in it (dropped and made again),
so no test sees another's rows or schema.
"""

from __future__ import annotations

import os
import re
import secrets
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.pg_server import ENV_URL, ThrowAwayServer, find_bin_dir

BACKENDS = ["sqlite", "postgresql"]


def database_url(url: str, database: str) -> str:
    """``url`` naming another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres_server():
    """``(superuser URL, ThrowAwayServer or None)``: the server the PostgreSQL tests use; skips when
    there is none."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url, None
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            f"no PostgreSQL server: set {ENV_URL} to a superuser's URL, or install postgresql "
            "(initdb and pg_ctl) so the tests start a throw-away one"
        )
    server = ThrowAwayServer(bin_dir)
    try:
        server.start()
    except (OSError, RuntimeError) as err:
        server.stop()
        pytest.skip(f"no PostgreSQL server: {ENV_URL} unset and a throw-away one failed: {err}")
    yield server.url, server
    server.stop()


@pytest.fixture(scope="session")
def restartable_postgres(postgres_server):
    """A :class:`ThrowAwayServer` this session may restart: the session's own, else one started for
    it (a server named by the variable belongs to someone else); skips when the binaries are not
    installed."""
    if postgres_server[1] is not None:
        yield postgres_server[1]
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL binaries (initdb, pg_ctl) to start a server this test may restart"
        )
    server = ThrowAwayServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """A superuser's URL of the test PostgreSQL server."""
    return postgres_server[0]


def create_database(admin_url: str, prefix: str) -> str:
    """A new empty database; returns its URL."""
    name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())[:40]}_{secrets.token_hex(4)}"
    with _admin(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop a database made by :func:`create_database` (its sessions are cut)."""
    name = urlsplit(url).path.lstrip("/")
    with _admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_module_url(postgres_url, request):
    """A database of this test module's own."""
    url = create_database(postgres_url, f"puq_{request.module.__name__.rsplit('.', 1)[-1]}")
    yield url
    drop_database(postgres_url, url)


def reset_database(url: str) -> None:
    """Empty ``public``: no tables, no schema version."""
    with _admin(url) as conn:
        conn.execute("SET lock_timeout = '10s'")
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def postgres_db(postgres_module_url) -> str:
    """The URL of an empty PostgreSQL database (the module's, emptied for this test)."""
    reset_database(postgres_module_url)
    return postgres_module_url


@pytest.fixture(params=BACKENDS)
def store_location(request, tmp_path) -> str:
    """Where a test's store lives: a SQLite file in ``tmp_path``, or an empty PostgreSQL
    database."""
    if request.param == "sqlite":
        return str(tmp_path / "usage.sqlite3")
    return request.getfixturevalue("postgres_db")
