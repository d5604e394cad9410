"""The usage store on both backends (SQLite, PostgreSQL): schema and migrations, snapshots, daily
history, retention, concurrent readers, request signatures; then what only one backend has (the
file, WAL, query plans)."""

import datetime as dt
import sqlite3
import threading

import pytest

from puq_bridge.errors import StoreError
from puq_bridge.usage.records import DailyPoint, ServiceResult, ServiceSettings
from puq_bridge.usage.schema import MIGRATIONS, SCHEMA_VERSION
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
MB = 1024 * 1024


def ok(
    service_id=1,
    used=10 * MB,
    limit=100 * MB,
    status="updated",
    domain="example.pl",
    server="mail1",
):
    boxes = (
        MailboxUsage(f"a@{domain}", used // 2, limit // 2, "id-a"),
        MailboxUsage(f"b@{domain}", used - used // 2, limit - limit // 2, "id-b"),
    )
    return ServiceResult(service_id, domain, server, status, used, limit, boxes, None)


def failed(service_id=1, error="Zimbra mail1 AuthRequest: connection refused"):
    return ServiceResult(service_id, "example.pl", "mail1", "failed", None, None, (), error)


@pytest.fixture
def store(store_location):
    with UsageStore(store_location, detail_days=3, history_days=100) as s:
        yield s


def postgres(location) -> bool:
    return str(location).startswith("postgresql://")


def raw(location, sql, params=()):
    """Run one statement on the store's database outside the store (autocommit); its rows, if
    any."""
    if postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params or None)
            return cursor.fetchall() if cursor.description else []
    db = sqlite3.connect(location, isolation_level=None)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def old_store(location, version):
    """A store as release ``version`` left it: its migrations applied by hand, its version
    recorded."""
    if postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as conn:
            for step in MIGRATIONS[:version]:
                step(conn, "postgresql")
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute(f"INSERT INTO schema_version VALUES ({version})")
        return
    db = sqlite3.connect(location, isolation_level=None)
    for step in MIGRATIONS[:version]:
        step(db, "sqlite")
    db.execute(f"PRAGMA user_version = {version}")
    db.close()


def test_creates_the_schema(store_location):
    with UsageStore(store_location) as s:
        assert s.schema_version == SCHEMA_VERSION >= 4
        assert s.counts() == {"runs": 0, "samples": 0, "mailboxes": 0, "daily": 0}
    tables = {
        "runs",
        "samples",
        "mailboxes",
        "daily",
        "service_settings",
        "seen_signatures",
    }
    for table in tables:  # the same tables in both
        assert raw(store_location, f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_sqlite_creates_parent_folders_schema_and_wal(tmp_path):
    path = tmp_path / "a" / "b" / "usage.sqlite3"
    with UsageStore(path) as s:
        assert path.is_file()
        assert s.schema_version == SCHEMA_VERSION >= 1
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "samples", "mailboxes", "daily"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(store_location):
    with UsageStore(store_location) as s:
        s.record_run(T0, T0, [ok()])
    with UsageStore(store_location) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.latest(1).used_bytes == 10 * MB


def test_sqlite_empty_existing_file_is_migrated_from_version_zero(tmp_path):
    path = tmp_path / "usage.sqlite3"
    sqlite3.connect(path).close()
    with UsageStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.counts() == {"runs": 0, "samples": 0, "mailboxes": 0, "daily": 0}


def test_newer_schema_is_refused_with_a_clear_message(store_location):
    if postgres(store_location):
        raw(store_location, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
        raw(store_location, "INSERT INTO schema_version VALUES (99)")
    else:
        raw(store_location, "PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=r"schema version 99 is newer .*upgrade puq-bridge"):
        UsageStore(store_location)


def test_sqlite_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"this is not sqlite at all, just some text " * 20)
    with pytest.raises(StoreError, match=str(path)):
        UsageStore(path)


def test_sqlite_folder_that_cannot_be_created_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create folder"):
        UsageStore(blocker / "sub" / "usage.sqlite3")


def test_latest_round_trips_totals_and_mailboxes(store):
    store.record_run(
        T0, T0 + dt.timedelta(seconds=2), [ok(1), ok(2, used=5 * MB, domain="other.pl")]
    )
    snap = store.latest(1)
    assert (snap.service_id, snap.domain, snap.server) == (1, "example.pl", "mail1")
    assert (snap.used_bytes, snap.limit_bytes) == (10 * MB, 100 * MB)
    assert snap.taken_at == T0 + dt.timedelta(seconds=2) and snap.taken_at.tzinfo is not None
    assert snap.mailboxes == ok(1).mailboxes
    assert snap.error is None and snap.failed_at is None
    assert store.latest(2).domain == "other.pl"
    assert store.latest(3) is None


def test_latest_is_newest_success_plus_error_of_a_newer_failure(store):
    store.record_run(T0, T0, [ok(used=1 * MB)])
    store.record_run(
        T0 + dt.timedelta(hours=1),
        T0 + dt.timedelta(hours=1),
        [ok(used=2 * MB, status="unchanged")],
    )
    later = T0 + dt.timedelta(hours=2)
    store.record_run(later, later, [failed()])
    snap = store.latest(1)
    assert snap.used_bytes == 2 * MB
    assert snap.taken_at == T0 + dt.timedelta(hours=1)
    assert snap.error == "Zimbra mail1 AuthRequest: connection refused" and snap.failed_at == later


def test_a_failure_older_than_the_success_is_not_reported(store):
    store.record_run(T0, T0, [failed()])
    store.record_run(T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=1), [ok()])
    snap = store.latest(1)
    assert snap.error is None and snap.failed_at is None


def test_only_failures_means_no_snapshot(store):
    store.record_run(
        T0, T0, [failed(), ServiceResult(2, "x.pl", "", "skipped", error="no [[zimbra]] entry")]
    )
    assert store.latest(1) is None and store.latest(2) is None
    assert store.counts()["samples"] == 2  # still recorded, with the error


def test_dry_run_writes_nothing(store):
    assert store.record_run(T0, T0, [ok()], dry_run=True) == 0
    assert store.counts() == {"runs": 0, "samples": 0, "mailboxes": 0, "daily": 0}


def test_unknown_status_is_rejected():
    with pytest.raises(ValueError, match="status 'done'"):
        ServiceResult(1, "x.pl", "mail1", "done")


def test_history_is_one_point_per_day_last_reading_wins(store):
    for day in range(5):
        for hour, used in ((1, 100), (13, 200 + day)):
            when = T0.replace(hour=hour) + dt.timedelta(days=day)
            store.record_run(when, when, [ok(used=used * MB)])
    now = T0 + dt.timedelta(days=4, hours=20)
    points = store.history(1, days=90, now=now)
    assert [p.day for p in points] == [(T0 + dt.timedelta(days=d)).date() for d in range(5)]
    assert points[0] == DailyPoint(T0.date(), 200 * MB, 100 * MB)
    assert points[-1].used_bytes == 204 * MB
    assert [p.day for p in store.history(1, days=2, now=now)] == [points[-2].day, points[-1].day]
    assert store.history(2, now=now) == []


def test_retention_keeps_the_store_bounded(store_location):
    """Four runs a day for 200 days, 3 services x 2 mailboxes: detail stays at detail_days, history
    at history_days (and a SQLite file stops growing)."""
    with UsageStore(store_location, detail_days=3, history_days=100) as s:
        sizes = {}
        for day in range(200):
            for run in range(4):
                when = T0 + dt.timedelta(days=day, hours=6 * run)
                s.record_run(when, when, [ok(1, used=(day + 1) * MB), ok(2), failed(3)])
                s.prune(now=when)
            if day in (120, 199) and s.path is not None:
                sizes[day] = s.path.stat().st_size
        counts = s.counts()
        assert counts["runs"] <= 3 * 4 + 1
        assert counts["samples"] <= 3 * (3 * 4 + 1)
        assert counts["mailboxes"] <= 2 * 2 * (3 * 4 + 1)
        assert counts["daily"] <= 2 * 101
        assert postgres(store_location) or sizes[199] <= sizes[120] * 1.1
        assert len(s.history(1, days=90, now=when)) == 90


def test_prune_keeps_the_newest_success_of_a_service_that_keeps_failing(store):
    store.record_run(T0, T0, [ok(1, used=7 * MB)])
    for day in range(1, 30):
        when = T0 + dt.timedelta(days=day)
        store.record_run(when, when, [failed(1)])
        store.prune(now=when)
    snap = store.latest(1)
    assert snap.used_bytes == 7 * MB and snap.taken_at == T0
    assert snap.error and snap.failed_at == T0 + dt.timedelta(days=29)
    assert store.counts()["samples"] <= 1 + 4
    store.prune(now=T0 + dt.timedelta(days=101))  # beyond history_days: gone too
    assert store.latest(1) is None


NEWEST_FAILURE = (
    "(SELECT f.{} FROM samples f WHERE f.service_id = s.service_id AND f.status = 'failed' "
    "AND f.taken_at >= s.taken_at ORDER BY f.taken_at DESC, f.id DESC LIMIT 1)"
)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT s.id, s.taken_at, "
        f"{NEWEST_FAILURE.format('taken_at')}, {NEWEST_FAILURE.format('error')} FROM samples s "
        "WHERE s.service_id = 1 AND s.used_bytes IS NOT NULL "
        "ORDER BY s.taken_at DESC, s.id DESC LIMIT 1",
        "SELECT day FROM daily WHERE service_id = 1 AND day >= '2026-01-01' ORDER BY day",
        "SELECT name FROM mailboxes WHERE sample_id = 1 ORDER BY id",
    ],
)
def test_sqlite_snapshot_and_history_reads_use_an_index(tmp_path, sql):
    with UsageStore(tmp_path / "usage.sqlite3"):
        pass
    rows = raw(tmp_path / "usage.sqlite3", "EXPLAIN QUERY PLAN " + sql)
    plan = " ".join(str(row[-1]) for row in rows)
    assert plan.startswith("SEARCH") and ("INDEX" in plan or "PRIMARY KEY" in plan), plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


def test_concurrent_readers_and_one_writer(store_location):
    """A writer thread records runs while reader threads (and a second store, like the adapter)
    read."""
    path = store_location
    writer, reader = UsageStore(path, busy_timeout=5), UsageStore(path, busy_timeout=5)
    writer.record_run(T0, T0, [ok(s) for s in range(1, 21)])
    errors: list[BaseException] = []
    done = threading.Event()

    def write():
        try:
            for i in range(1, 40):
                when = T0 + dt.timedelta(minutes=i)
                writer.record_run(when, when, [ok(s, used=i * MB) for s in range(1, 21)])
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            done.set()

    def read(store):
        try:
            while not done.is_set():
                assert store.latest(5).used_bytes >= 1
                store.history(5, now=T0)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=read, args=(st,)) for st in (reader, reader, writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    writer.close()
    reader.close()
    assert errors == []
    with UsageStore(path) as s:
        assert s.counts()["runs"] == 40
        assert s.latest(5).used_bytes == 39 * MB


# --- the product's total space (schema version 2) -------------------------------------------------


def old_rows(location):
    """One run, one sample, one mailbox, as the first release wrote them."""
    raw(
        location,
        "INSERT INTO runs VALUES "
        "(1, '2026-11-01T03:00:00.000000Z', '2026-11-01T03:00:01.000000Z', 1, 0, 0, 0)",
    )
    raw(
        location,
        "INSERT INTO samples VALUES "
        "(1, 1, 7, '2026-11-01T03:00:01.000000Z', 'firma.pl', 'mail1', 'updated', "
        f"{5 * MB}, {50 * MB}, NULL)",
    )
    raw(location, f"INSERT INTO mailboxes VALUES (1, 1, 'a@firma.pl', 'id-a', {5 * MB}, {50 * MB})")


def test_version_1_store_with_data_is_upgraded_and_keeps_it(store_location):
    """A store written by the first release (schema 1, no service_settings) is migrated in place."""
    path = store_location
    old_store(path, 1)
    old_rows(path)
    with UsageStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.latest(7).used_bytes == 5 * MB and s.latest(7).mailboxes[0].name == "a@firma.pl"
        assert s.total_spaces() == {}
        assert s.remember_total_space(7, 50 * 1024 * MB) is True
    with UsageStore(path) as s:
        assert s.total_spaces() == {7: 50 * 1024 * MB}


def test_remember_total_space_writes_only_changes(store, store_location):
    assert store.remember_total_space(1, 10 * MB, now=T0) is True
    assert store.remember_total_space(1, 10 * MB, now=T0 + dt.timedelta(hours=1)) is False
    assert store.remember_total_space(2, None) is False  # nothing known, nothing to forget
    assert store.remember_total_space(3, 20 * MB) is True
    assert store.total_spaces() == {1: 10 * MB, 3: 20 * MB}
    assert raw(store_location, "SELECT updated_at FROM service_settings WHERE service_id = 1")[0][
        0
    ].startswith("2026-11-01T03:00")  # the unchanged second call did not touch it
    assert (
        store.remember_total_space(1, 0) is True
    )  # the product's setting went back to 0: forgotten
    assert store.remember_total_space(3, 30 * MB) is True
    assert store.total_spaces() == {3: 30 * MB}


# --- the product's tenancy (schema version 3) -----------------------------------------------------


def test_version_2_store_with_data_is_upgraded_and_keeps_it(store_location):
    """A store written by the second release (schema 2: total space, no tenancy) is migrated in
    place."""
    path = store_location
    old_store(path, 2)
    old_rows(path)
    raw(
        path,
        f"INSERT INTO service_settings VALUES (7, {50 * 1024 * MB}, '2026-11-01T03:00:00.000000Z')",
    )
    with UsageStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION >= 3
        old = s.latest(7)
        assert (old.used_bytes, old.mailboxes[0].name, old.tenancy) == (
            5 * MB,
            "a@firma.pl",
            "domain",
        )
        assert s.service_settings() == {
            7: ServiceSettings(50 * 1024 * MB, None)
        }  # tenancy not known yet
        assert s.total_spaces() == {7: 50 * 1024 * MB}
        assert s.remember_settings(7, 50 * 1024 * MB, "server") is True
    with UsageStore(path) as s:
        assert s.service_settings() == {7: ServiceSettings(50 * 1024 * MB, "server")}
        assert s.service_settings(7)[7].private_server and s.service_settings(8) == {}


def test_remember_settings_writes_only_changes_and_keeps_the_other_setting(store, store_location):
    assert store.remember_settings(1, None, None) is False  # nothing known, nothing to write
    assert store.remember_settings(1, 10 * MB, "server", now=T0) is True
    assert store.remember_settings(1, 10 * MB, "server", now=T0 + dt.timedelta(hours=1)) is False
    assert raw(store_location, "SELECT updated_at FROM service_settings WHERE service_id = 1")[0][
        0
    ].startswith("2026-11-01T03:00")
    assert store.remember_total_space(1, 20 * MB) is True  # only setting 3: the tenancy stays
    assert store.service_settings() == {1: ServiceSettings(20 * MB, "server")}
    assert store.remember_settings(1, 20 * MB, "domain") is True
    assert store.remember_settings(2, None, "domain") is True  # a known "domain" is kept too
    assert store.service_settings() == {
        1: ServiceSettings(20 * MB, "domain"),
        2: ServiceSettings(None, "domain"),
    }
    assert store.total_spaces() == {1: 20 * MB}
    with pytest.raises(ValueError, match="unknown tenancy 'cluster'"):
        store.remember_settings(3, None, "cluster")


def test_a_whole_server_reading_keeps_its_tenancy(store):
    server = ServiceResult(
        5,
        "firma.pl",
        "mail1",
        "updated",
        3 * MB,
        0,
        (MailboxUsage("a@firma.pl", MB, 0, "1"), MailboxUsage("b@other.pl", 2 * MB, 0, "2")),
        tenancy="server",
    )
    store.record_run(T0, T0, [server, ok(service_id=6)])
    assert store.latest(5).tenancy == "server" and len(store.latest(5).mailboxes) == 2
    assert store.latest(6).tenancy == "domain"
    with pytest.raises(ValueError, match="unknown tenancy"):
        ServiceResult(5, "firma.pl", "mail1", "updated", tenancy="cluster")


# --- what the sync learnt of each server (schema version 8): its read plan's inputs ---------------


def test_what_the_sync_learnt_of_each_server_is_kept_one_row_per_server(store_location):
    from puq_bridge.usage.records import ServerStats

    at = dt.datetime(2026, 11, 20, 3, tzinfo=dt.timezone.utc)
    with UsageStore(store_location) as s:
        assert s.server_stats() == {}
        s.remember_server_stats([ServerStats("mail1", 10_400, at, 10_000, 2000)])
        s.remember_server_stats(
            [ServerStats("mail1", 10_500, at, 10_100, 2001), ServerStats("mail2")]
        )
        assert s.server_stats() == {
            "mail1": ServerStats("mail1", 10_500, at, 10_100, 2001),
            "mail2": ServerStats("mail2"),
        }


# --- request signatures (schema version 4): replay protection shared by every bridge instance -----


def test_a_signature_is_accepted_once_by_every_store_on_the_database(store_location):
    with UsageStore(store_location) as a, UsageStore(store_location) as b:
        assert a.claim_signature("sig-1", keep_until=1000, now=100) is True
        assert b.claim_signature("sig-1", keep_until=1000, now=101) is False  # another instance
        assert a.claim_signature("sig-1", keep_until=1000, now=102) is False
        assert b.claim_signature("sig-2", keep_until=1000, now=103) is True
    with UsageStore(store_location) as restarted:
        assert restarted.claim_signature("sig-1", keep_until=1000, now=104) is False


def test_expired_signatures_are_pruned(store_location):
    with UsageStore(store_location) as s:
        assert s.claim_signature("old", keep_until=500, now=100)
        assert s.claim_signature("new", keep_until=5000, now=200)
        assert s.claim_signature("later", keep_until=5000, now=1000)  # a minute on: prunes "old"
        assert raw(store_location, "SELECT signature FROM seen_signatures ORDER BY signature") == [
            ("later",),
            ("new",),
        ]


# --- the sync lock --------------------------------------------------------------------------------


def test_the_sync_lock_is_held_once_across_stores(store_location):
    from puq_bridge.errors import SyncLockedError

    with UsageStore(store_location) as a, UsageStore(store_location) as b:
        with a.sync_lock():
            with pytest.raises(SyncLockedError, match="another sync-usage run holds the lock"):
                with b.sync_lock():
                    pass  # pragma: no cover
        for _ in range(
            20
        ):  # released at once: a run starting right after the last one finds it free
            for store in (b, a):
                with store.sync_lock():
                    pass


def test_the_postgresql_lock_names_the_host_and_process_holding_it(postgres_db):
    import os
    import socket

    from puq_bridge.errors import SyncLockedError

    with UsageStore(postgres_db) as a, UsageStore(postgres_db) as b, a.sync_lock():
        with pytest.raises(SyncLockedError) as raised:
            with b.sync_lock():
                pass  # pragma: no cover
    message = str(raised.value)
    assert f"on {socket.gethostname()} pid {os.getpid()}" in message
    assert "advisory lock in postgresql://postgres@127.0.0.1:" in message


# --- PostgreSQL faults ----------------------------------------------------------------------------


def _with(url, **parts):
    from urllib.parse import urlsplit, urlunsplit

    split = urlsplit(url)
    user, host, port = split.username, split.hostname, split.port
    password = parts.get("password", split.password)
    netloc = f"{user}:{password}@{host}:{parts.get('port', port)}"
    return urlunsplit(split._replace(netloc=netloc))


@pytest.mark.parametrize(
    "change, cause",
    [
        ({"password": "not-the-password"}, 'password authentication failed for user "postgres"'),
        ({"port": 1}, "Connection refused"),
    ],
    ids=["wrong password", "nothing listening"],
)
def test_postgresql_that_cannot_be_used_is_one_line_naming_host_and_cause(
    postgres_db, change, cause
):
    from puq_bridge.errors import StoreUnavailable

    url = _with(postgres_db, **change)
    with pytest.raises(StoreUnavailable) as raised:
        UsageStore(url)
    message = str(raised.value)
    assert "\n" not in message and cause in message
    assert message.startswith("usage store postgresql://postgres@127.0.0.1:")
    assert "cannot connect" in message and '"127.0.0.1"' in message
    assert "not-the-password" not in message and (
        _with(postgres_db).split(":")[2].split("@")[0] not in message
    )


def test_password_given_apart_from_the_url(postgres_db):
    from urllib.parse import urlsplit

    from puq_bridge.usage.backends.postgres import PostgresBackend

    split = urlsplit(postgres_db)
    bare = postgres_db.replace(f":{split.password}@", "@")
    with UsageStore(PostgresBackend(bare, password=split.password, pool_size=2)) as s:
        assert s.where == bare and s.path is None
        s.record_run(T0, T0, [ok()])
        assert s.latest(1).used_bytes == 10 * MB


def test_a_postgresql_restart_is_survived_by_the_pool(restartable_postgres):
    """The server restarts between two calls of a running store (every pooled connection cut): the
    next call reconnects. Then it is down when a call comes: the call waits for it (up to the
    store's timeout)."""
    from tests.support.store import create_database, drop_database

    server = restartable_postgres
    admin = server.url
    url = create_database(admin, "puq_restart")
    try:
        with UsageStore(url) as s:
            s.record_run(T0, T0, [ok(used=1 * MB)])
            assert s.latest(1).used_bytes == 1 * MB
            server.restart()
            later = T0 + dt.timedelta(hours=1)
            s.record_run(later, later, [ok(used=2 * MB)])
            assert s.latest(1).used_bytes == 2 * MB
            server.halt()
            back = threading.Thread(target=server.resume)
            back.start()
            try:
                latest = s.latest(1)  # asked while the server is down or starting
            finally:
                back.join()
            assert latest.used_bytes == 2 * MB
            s.ping()
    finally:
        drop_database(admin, url)


def test_a_sync_lock_outlives_a_server_restart_during_the_run(restartable_postgres):
    """The run ends normally (records, releases) when the server restarted under it."""
    from tests.support.store import create_database, drop_database

    server = restartable_postgres
    url = create_database(server.url, "puq_lock_restart")
    try:
        with UsageStore(url) as s:
            with s.sync_lock():
                server.restart()
                s.record_run(T0, T0, [ok()])
            with s.sync_lock():
                pass
            assert s.counts()["runs"] == 1
    finally:
        drop_database(server.url, url)


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "data" / "usage.sqlite3"
    with UsageStore(path) as store:
        now = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.timezone.utc)
        store.record_run(now, now, [])
    for name in ("usage.sqlite3", "usage.sqlite3-wal"):
        if (path.parent / name).exists():
            assert (path.parent / name).stat().st_mode & 0o777 == 0o600, name
