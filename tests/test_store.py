"""The usage store: schema and migrations, snapshots, daily history, retention, concurrent readers."""

import datetime as dt
import sqlite3
import threading

import pytest

from puq_bridge.errors import StoreError
from puq_bridge.usage.records import DailyPoint, ServiceResult, ServiceSettings
from puq_bridge.usage.schema import SCHEMA_VERSION
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
def store(tmp_path):
    with UsageStore(
        tmp_path / "deep" / "er" / "usage.sqlite3", detail_days=3, history_days=100
    ) as s:
        yield s


def test_creates_parent_folders_schema_and_wal(tmp_path):
    path = tmp_path / "a" / "b" / "usage.sqlite3"
    with UsageStore(path) as s:
        assert path.is_file()
        assert s.schema_version == SCHEMA_VERSION >= 1
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "samples", "mailboxes", "daily"} <= tables


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path):
    path = tmp_path / "usage.sqlite3"
    with UsageStore(path) as s:
        s.record_run(T0, T0, [ok()])
    with UsageStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.latest(1).used_bytes == 10 * MB


def test_empty_existing_file_is_migrated_from_version_zero(tmp_path):
    path = tmp_path / "usage.sqlite3"
    sqlite3.connect(path).close()
    with UsageStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.counts() == {"runs": 0, "samples": 0, "mailboxes": 0, "daily": 0}


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "usage.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreError, match=r"schema version 99 is newer .*upgrade puq-bridge"):
        UsageStore(path)


def test_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "usage.sqlite3"
    path.write_bytes(b"this is not sqlite at all, just some text " * 20)
    with pytest.raises(StoreError, match=str(path)):
        UsageStore(path)


def test_folder_that_cannot_be_created_is_a_store_error(tmp_path):
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


def test_retention_keeps_the_store_bounded(tmp_path):
    """Four runs a day for 200 days, 3 services x 2 mailboxes: detail stays at detail_days, history at history_days."""
    path = tmp_path / "usage.sqlite3"
    with UsageStore(path, detail_days=3, history_days=100) as s:
        sizes = {}
        for day in range(200):
            for run in range(4):
                when = T0 + dt.timedelta(days=day, hours=6 * run)
                s.record_run(when, when, [ok(1, used=(day + 1) * MB), ok(2), failed(3)])
                s.prune(now=when)
            if day in (120, 199):
                sizes[day] = path.stat().st_size
        counts = s.counts()
        assert counts["runs"] <= 3 * 4 + 1
        assert counts["samples"] <= 3 * (3 * 4 + 1)
        assert counts["mailboxes"] <= 2 * 2 * (3 * 4 + 1)
        assert counts["daily"] <= 2 * 101
        assert sizes[199] <= sizes[120] * 1.1
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


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id FROM samples WHERE service_id = 1 AND used_bytes IS NOT NULL ORDER BY taken_at DESC, id DESC LIMIT 1",
        "SELECT error FROM samples WHERE service_id = 1 AND status = 'failed' AND taken_at >= 'x' "
        "ORDER BY taken_at DESC, id DESC LIMIT 1",
        "SELECT day FROM daily WHERE service_id = 1 AND day >= '2026-01-01' ORDER BY day",
        "SELECT name FROM mailboxes WHERE sample_id = 1 ORDER BY id",
    ],
)
def test_snapshot_and_history_reads_use_an_index(store, sql):
    plan = " ".join(str(row[-1]) for row in store._read("EXPLAIN QUERY PLAN " + sql))
    assert plan.startswith("SEARCH") and ("INDEX" in plan or "PRIMARY KEY" in plan), plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


def test_concurrent_readers_and_one_writer(tmp_path):
    """A writer thread records runs while reader threads (and a second store, like the adapter) read."""
    path = tmp_path / "usage.sqlite3"
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


# --- the product's total space (schema version 2) ---------------------------------------------------------------------


def test_version_1_file_with_data_is_upgraded_and_keeps_it(tmp_path):
    """A store written by the first release (schema 1, no service_settings) is migrated in place."""
    from puq_bridge.usage.schema import MIGRATIONS

    path = tmp_path / "usage.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](raw)
    raw.execute("PRAGMA user_version = 1")
    raw.execute(
        "INSERT INTO runs VALUES (1, '2026-11-01T03:00:00.000000Z', '2026-11-01T03:00:01.000000Z', 1, 0, 0, 0)"
    )
    raw.execute(
        "INSERT INTO samples VALUES (1, 1, 7, '2026-11-01T03:00:01.000000Z', 'firma.pl', 'mail1', 'updated', "
        f"{5 * MB}, {50 * MB}, NULL)"
    )
    raw.execute(f"INSERT INTO mailboxes VALUES (1, 1, 'a@firma.pl', 'id-a', {5 * MB}, {50 * MB})")
    raw.close()
    with UsageStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.latest(7).used_bytes == 5 * MB and s.latest(7).mailboxes[0].name == "a@firma.pl"
        assert s.total_spaces() == {}
        assert s.remember_total_space(7, 50 * 1024 * MB) is True
    with UsageStore(path) as s:
        assert s.total_spaces() == {7: 50 * 1024 * MB}


def test_remember_total_space_writes_only_changes(store):
    assert store.remember_total_space(1, 10 * MB, now=T0) is True
    assert store.remember_total_space(1, 10 * MB, now=T0 + dt.timedelta(hours=1)) is False
    assert store.remember_total_space(2, None) is False  # nothing known, nothing to forget
    assert store.remember_total_space(3, 20 * MB) is True
    assert store.total_spaces() == {1: 10 * MB, 3: 20 * MB}
    raw = sqlite3.connect(store.path)
    assert (
        raw.execute("SELECT updated_at FROM service_settings WHERE service_id = 1")
        .fetchone()[0]
        .startswith("2026-11-01T03:00")
    )  # the unchanged second call did not touch it
    assert (
        store.remember_total_space(1, 0) is True
    )  # the product's setting went back to 0: forgotten
    assert store.remember_total_space(3, 30 * MB) is True
    assert store.total_spaces() == {3: 30 * MB}


# --- the product's tenancy (schema version 3) ------------------------------------------------------------------------


def test_version_2_file_with_data_is_upgraded_and_keeps_it(tmp_path):
    """A store written by the second release (schema 2: total space, no tenancy) is migrated in place."""
    from puq_bridge.usage.schema import MIGRATIONS

    path = tmp_path / "usage.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](raw)
    MIGRATIONS[1](raw)
    raw.execute("PRAGMA user_version = 2")
    raw.execute(
        "INSERT INTO runs VALUES (1, '2026-11-01T03:00:00.000000Z', '2026-11-01T03:00:01.000000Z', 1, 0, 0, 0)"
    )
    raw.execute(
        "INSERT INTO samples VALUES (1, 1, 7, '2026-11-01T03:00:01.000000Z', 'firma.pl', 'mail1', 'updated', "
        f"{5 * MB}, {50 * MB}, NULL)"
    )
    raw.execute(f"INSERT INTO mailboxes VALUES (1, 1, 'a@firma.pl', 'id-a', {5 * MB}, {50 * MB})")
    raw.execute(
        f"INSERT INTO service_settings VALUES (7, {50 * 1024 * MB}, '2026-11-01T03:00:00.000000Z')"
    )
    raw.close()
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


def test_remember_settings_writes_only_changes_and_keeps_the_other_setting(store):
    assert store.remember_settings(1, None, None) is False  # nothing known, nothing to write
    assert store.remember_settings(1, 10 * MB, "server", now=T0) is True
    assert store.remember_settings(1, 10 * MB, "server", now=T0 + dt.timedelta(hours=1)) is False
    raw = sqlite3.connect(store.path)
    assert (
        raw.execute("SELECT updated_at FROM service_settings WHERE service_id = 1")
        .fetchone()[0]
        .startswith("2026-11-01T03:00")
    )
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
