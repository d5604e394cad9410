"""The store's reads for the addon page: runs with their origin, a run's problems, each server's
latest run, each service's latest sample and reading, the client actions' audit, and schema 4."""

import datetime as dt
import sqlite3

import pytest

from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.schema import MIGRATIONS
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
MB = 1024 * 1024


def ok(sid, used, limit, server="mail1", client=None, status="updated"):
    boxes = (MailboxUsage(f"a@d{sid}.pl", used, limit, f"id-{sid}"),)
    return ServiceResult(
        sid, f"d{sid}.pl", server, status, used, limit, boxes, None, client_id=client
    )


def failed(sid, error, server="mail1", client=None):
    return ServiceResult(sid, f"d{sid}.pl", server, "failed", error=error, client_id=client)


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as s:
        yield s


def test_runs_keep_their_origin_and_come_newest_first(store):
    store.record_run(T0, T0 + dt.timedelta(seconds=2), [ok(1, MB, 10 * MB)], origin="sync-usage")
    later = T0 + dt.timedelta(hours=1)
    run = store.record_run(later, later, [failed(1, "mail1: refused")], origin="UsageUpdate")
    newest, oldest = store.runs()
    assert (newest.id, newest.origin, newest.failed, newest.total) == (run, "UsageUpdate", 1, 1)
    assert (oldest.origin, oldest.updated, oldest.duration_s) == ("sync-usage", 1, 2.0)
    assert [r.origin for r in store.runs(origin="sync-usage")] == ["sync-usage"]
    assert store.count_runs() == 2 and store.count_runs(origin="UsageUpdate") == 1
    assert store.runs(limit=1, offset=1) == [oldest]
    assert store.last_run_id() == run and store.run_summary(run) == newest
    assert store.run_summary(999) is None


def test_a_runs_problems_failed_first_then_skipped(store):
    results = [
        ok(1, MB, 10 * MB),
        ServiceResult(2, "d2.pl", "", "skipped", error="no [[zimbra]] entry"),
        failed(3, "mail1: NO_SUCH_DOMAIN", client=30),
    ]
    run = store.record_run(T0, T0, results)
    problems = store.run_problems(run)
    assert [(p.service_id, p.status, p.client_id) for p in problems] == [
        (3, "failed", 30),
        (2, "skipped", None),
    ]
    assert [p.service_id for p in store.run_problems(run, limit=1, offset=1)] == [2]


def test_each_server_has_its_latest_run(store):
    store.record_run(T0, T0, [ok(1, MB, 10 * MB), ok(2, MB, 0, server="mail2")])
    later = T0 + dt.timedelta(hours=1)
    store.record_run(
        later,
        later,
        [failed(1, "mail1: connection refused"), failed(3, "mail1: connection refused")],
        origin="UsageUpdate",
    )
    runs = store.server_runs()
    assert sorted(runs) == ["mail1", "mail2"] == store.sampled_servers()
    assert runs["mail1"].counts["failed"] == 2 and runs["mail1"].total == 2
    assert runs["mail1"].error == "mail1: connection refused"
    assert runs["mail1"].run.origin == "UsageUpdate"
    assert runs["mail2"].counts["updated"] == 1 and runs["mail2"].error is None
    assert store.server_runs(["mail3"]) == {}


def test_latest_samples_and_readings_per_service(store):
    store.record_run(T0, T0, [ok(1, 9 * MB, 10 * MB, client=7), ok(2, MB, 0)])
    later = T0 + dt.timedelta(hours=1)
    store.record_run(later, later, [failed(1, "down", client=7), ok(2, 2 * MB, 0)])
    latest = {s.service_id: s for s in store.latest_samples()}
    assert (latest[1].status, latest[1].client_id, latest[1].used_bytes) == ("failed", 7, None)
    readings = {s.service_id: s for s in store.latest_readings()}
    assert readings[1].used_bytes == 9 * MB and readings[1].percent == 90.0
    assert readings[2].used_bytes == 2 * MB and readings[2].percent is None  # unlimited
    assert [s.service_id for s in store.latest_readings([1])] == [1]
    assert store.latest_readings([]) == []
    assert store.mailbox_counts([readings[1].id, readings[2].id]) == {
        readings[1].id: 1,
        readings[2].id: 1,
    }


def test_client_actions_are_empty_without_an_audit_table(store):
    assert store.client_actions() == [] and store.count_client_actions() == 0


def test_client_actions_read_the_audit_table_newest_first(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as store:
        store.record_action(
            1, "SetMailboxQuota", "jan@d1.pl", "ok", when=dt.datetime(2026, 11, 1, 3, tzinfo=UTC)
        )
        store.record_action(
            2, "CreateMailbox", "x@d2.pl", "ok", when=dt.datetime(2026, 11, 2, 3, tzinfo=UTC)
        )
        actions = store.client_actions()
        assert [a.action for a in actions] == ["CreateMailbox", "SetMailboxQuota"]
        assert actions[0].at == dt.datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
        assert [a.service_id for a in store.client_actions(service_id=1)] == [1]
        assert store.count_client_actions() == 2 and store.count_client_actions(service_id=2) == 1


def test_client_actions_read_the_sign_on_log_beside_the_audit(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as store:
        for sid, who, function, day in (
            (1, "jan@d1.pl", "MailboxSignOn", 1),
            (None, "admin@example.com", "AdminSingleSignOn", 2),
            (2, "ola@d2.pl", "ServiceSingleSignOn", 3),
        ):
            store.record_signon(sid, who, function, when=dt.datetime(2026, 11, day, 3, tzinfo=UTC))
        store.record_action(
            1, "CreateMailbox", "x@d1.pl", "ok", when=dt.datetime(2026, 11, 2, 12, tzinfo=UTC)
        )
        actions = store.client_actions()
        # staff's sign-on (no service) is not a client action
        assert [a.action for a in actions] == [
            "ServiceSingleSignOn",
            "CreateMailbox",
            "MailboxSignOn",
        ]


def test_a_version_3_file_gains_origin_and_client_columns(tmp_path):
    path = tmp_path / "usage.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:3]:
        step(raw)
    raw.execute("PRAGMA user_version = 3")
    raw.execute(
        "INSERT INTO runs VALUES (1, '2026-11-01T03:00:00.000000Z', "
        "'2026-11-01T03:00:01.000000Z', 1, 0, 0, 0)"
    )
    raw.execute(
        "INSERT INTO samples VALUES (1, 1, 7, '2026-11-01T03:00:01.000000Z', 'firma.pl', "
        f"'mail1', 'updated', {5 * MB}, {50 * MB}, NULL, 'domain')"
    )
    raw.close()
    with UsageStore(path) as store:
        (run,) = store.runs()
        assert run.origin is None and run.updated == 1
        (sample,) = store.latest_samples()
        assert sample.client_id is None and sample.domain == "firma.pl"
        assert store.server_runs()["mail1"].counts["updated"] == 1
