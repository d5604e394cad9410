"""``puq-bridge store migrate`` and ``store copy --to``, and what the commands do when PostgreSQL
cannot be used: one line naming the host and the cause, exit 2, nothing written anywhere."""

import datetime as dt
import json
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from puq_bridge.cli import main
from puq_bridge.usage.records import ServiceResult, ServiceSettings
from puq_bridge.usage.schema import SCHEMA_VERSION
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
MB = 1024 * 1024
DB_PASSWORD_ENV = "T_PUQ_DB_PASSWORD"


def split_password(url):
    """(the URL without its password, the password)."""
    password = urlsplit(url).password
    return url.replace(f":{password}@", "@"), password


def write_config(tmp_path, store_lines):
    path = tmp_path / "puq-bridge.toml"
    path.write_text(
        '[whmcs]\nurl = "http://127.0.0.1:9"\nidentifier = "id"\nsecret = "whmcs-secret-1"\n'
        f"[store]\n{store_lines}\n"
    )
    path.chmod(0o600)
    return path


def sqlite_config(tmp_path):
    return write_config(tmp_path, f'path = "{tmp_path / "data" / "usage.sqlite3"}"')


def postgres_config(tmp_path, url, monkeypatch):
    bare, password = split_password(url)
    monkeypatch.setenv(DB_PASSWORD_ENV, password)
    return write_config(
        tmp_path, f'url = "{bare}"\npassword_env = "{DB_PASSWORD_ENV}"\ntimeout = 2'
    )


def run(config, *args):
    return CliRunner().invoke(main, ["--config", str(config), *args])


def result(service_id, used_mb, day=0, status="updated"):
    boxes = (MailboxUsage(f"a@s{service_id}.pl", used_mb * MB, 100 * MB, "id-a"),)
    return ServiceResult(
        service_id, f"s{service_id}.pl", "mail1", status, used_mb * MB, 100 * MB, boxes
    )


def fill(store, days=3):
    for day in range(days):
        when = T0 + dt.timedelta(days=day)
        store.record_run(when, when, [result(1, 10 + day), result(2, 20 + day)])
    store.remember_settings(1, 50 * 1024 * MB, "server", now=T0)


def fill_logs(store):
    """What the addon page and the read plan need beside the runs: a run's origin and clients,
    what the sync learnt of a server, sign-ons and a client's mailbox actions."""
    from puq_bridge.usage.records import ServerStats

    when = T0 + dt.timedelta(days=5)
    store.record_run(when, when, [replace(result(4, 4), client_id=42)], origin="UsageUpdate")
    store.remember_server_stats([ServerStats("mail1", 1200, when, 1000, 20)], now=when)
    store.record_signon(4, "a@s4.pl", "ServiceSingleSignOn", when=when)
    store.record_signon(None, "admin@s4.pl", "AdminSingleSignOn", when=when)
    store.record_action(4, "CreateMailbox", "b@s4.pl", "ok", user_id="7", when=when)
    store.record_action(4, "SetMailboxQuota", "b@s4.pl", "refused", detail="quota", when=when)


# --- migrate --------------------------------------------------------------------------------------


def test_migrate_creates_then_reports_up_to_date(tmp_path):
    config = sqlite_config(tmp_path)
    first = run(config, "store", "migrate")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == (
        f"usage store {tmp_path / 'data' / 'usage.sqlite3'}: schema version {SCHEMA_VERSION} "
        "(migrated from version 0)"
    )
    again = run(config, "store", "migrate", "--json")
    assert json.loads(again.stdout) == {
        "store": str(tmp_path / "data" / "usage.sqlite3"),
        "schema_version": SCHEMA_VERSION,
        "migrated_from": SCHEMA_VERSION,
    }


def test_migrate_a_postgresql_store_named_by_the_config(tmp_path, postgres_db, monkeypatch):
    config = postgres_config(tmp_path, postgres_db, monkeypatch)
    done = run(config, "store", "migrate")
    assert done.exit_code == 0, done.output
    assert f"usage store {split_password(postgres_db)[0]}: schema version" in done.output
    assert "migrated from version 0" in done.output
    assert split_password(postgres_db)[1] not in done.output


# --- copy -----------------------------------------------------------------------------------------


def test_copy_a_sqlite_history_to_postgresql_twice(tmp_path, postgres_db, monkeypatch):
    config = sqlite_config(tmp_path)
    with UsageStore(tmp_path / "data" / "usage.sqlite3") as sqlite:
        fill(sqlite)
        fill_logs(sqlite)
        expected = (sqlite.latest(1), sqlite.history(2, now=T0 + dt.timedelta(days=2)))
        logs = (sqlite.server_stats(), sqlite.signons(), sqlite.actions(4))
    with UsageStore(postgres_db) as target:  # the database already has a run of its own
        own = T0 + dt.timedelta(days=10)
        target.record_run(own, own, [result(3, 7)])
    bare, password = split_password(postgres_db)
    monkeypatch.setenv(DB_PASSWORD_ENV, password)
    args = ("store", "copy", "--to", bare, "--password-env", DB_PASSWORD_ENV, "--json")

    first = run(config, *args)
    assert first.exit_code == 0, first.output
    counts = json.loads(first.stdout)
    assert counts["to"] == bare and password not in first.output
    assert (counts["runs"], counts["runs_present"], counts["samples"], counts["mailboxes"]) == (
        4,
        0,
        7,
        7,
    )
    assert (counts["daily"], counts["settings"], counts["servers"]) == (7, 1, 1)
    assert (counts["signons"], counts["actions"]) == (2, 2)

    second = run(config, *args)
    assert second.exit_code == 0, second.output
    again = json.loads(second.stdout)
    assert [again[k] for k in ("runs", "runs_present", "signons", "actions")] == [0, 4, 0, 0]

    with UsageStore(postgres_db) as target:
        assert target.counts() == {"runs": 5, "samples": 8, "mailboxes": 8, "daily": 8}
        # what the addon page and the read plan read: origins, clients, servers, the logs
        (usage_update,) = target.runs(origin="UsageUpdate")
        assert usage_update.updated == 1
        assert {s.service_id: s.client_id for s in target.latest_samples()}[4] == 42
        assert (target.server_stats(), target.signons(), target.actions(4)) == logs
        assert target.latest(1) == expected[0]
        assert target.history(2, now=T0 + dt.timedelta(days=2)) == expected[1]
        assert target.service_settings(1) == {1: ServiceSettings(50 * 1024 * MB, "server")}
        assert target.latest(3).used_bytes == 7 * MB  # its own run is still there


def test_copy_in_plain_words_and_from_another_file(tmp_path):
    source = tmp_path / "old.sqlite3"
    with UsageStore(source) as old:
        fill(old, days=2)
    target = tmp_path / "new.sqlite3"
    done = CliRunner().invoke(main, ["store", "copy", "--from", str(source), "--to", str(target)])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == (
        "copied 2 runs (4 samples, 4 mailboxes), 4 daily rows, 1 product settings, 0 server "
        "statistics, 0 sign-ons and 0 client actions "
        f"from {source} "
        f"to {target}; 0 runs were there already"
    )


def test_copy_refuses_the_same_store(tmp_path):
    config = sqlite_config(tmp_path)
    same = run(config, "store", "copy", "--to", str(tmp_path / "data" / "usage.sqlite3"))
    assert same.exit_code == 2 and "source and destination are the same store" in same.output


def test_copy_with_an_unset_password_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("T_PUQ_UNSET", raising=False)
    config = sqlite_config(tmp_path)
    result_ = run(
        config,
        "store",
        "copy",
        "--to",
        "postgresql://u@127.0.0.1:1/x",
        "--password-env",
        "T_PUQ_UNSET",
    )
    assert (
        result_.exit_code == 2 and "environment variable T_PUQ_UNSET is not set" in result_.output
    )


# --- PostgreSQL that cannot be used ---------------------------------------------------------------


@pytest.fixture(params=["wrong password", "nothing listening"])
def bad_postgres(request, tmp_path, postgres_db, monkeypatch):
    """A config whose [store] url cannot be used; (config, expected cause, the real password)."""
    bare, password = split_password(postgres_db)
    if request.param == "wrong password":
        monkeypatch.setenv(DB_PASSWORD_ENV, "not-the-password")
        cause = 'password authentication failed for user "postgres"'
    else:
        monkeypatch.setenv(DB_PASSWORD_ENV, password)
        bare = bare.replace(f":{urlsplit(bare).port}/", ":1/")
        cause = "Connection refused"
    config = write_config(
        tmp_path, f'url = "{bare}"\npassword_env = "{DB_PASSWORD_ENV}"\ntimeout = 2'
    )
    return config, cause, password


def assert_one_line_naming_host_and_cause(output, cause, password):
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: usage store postgresql://postgres@127.0.0.1:")
    assert cause in lines[0] and '"127.0.0.1"' in lines[0]
    assert password not in output and "not-the-password" not in output


def test_store_migrate_exits_2_with_one_line(bad_postgres):
    config, cause, password = bad_postgres
    done = run(config, "store", "migrate")
    assert done.exit_code == 2
    assert_one_line_naming_host_and_cause(done.output, cause, password)


def test_serve_exits_2_at_start_with_one_line(bad_postgres):
    config, cause, password = bad_postgres
    with open(config, "a") as extra:
        extra.write('[adapter]\nsecret = "adapter-shared-secret-0123-456789-abcdef"\n')
    done = run(config, "serve", "--listen", "127.0.0.1:1")
    assert done.exit_code == 2
    assert_one_line_naming_host_and_cause(done.output, cause, password)


def test_sync_fails_cleanly_writing_nothing_to_whmcs(bad_postgres, whmcs_server):
    """The store is opened before anything else: WHMCS is not even asked."""
    sim, url = whmcs_server
    config, cause, password = bad_postgres
    text = config.read_text().replace("http://127.0.0.1:9", url)
    config.write_text(text)
    done = run(config, "sync-usage")
    assert done.exit_code == 2
    assert_one_line_naming_host_and_cause(done.output, cause, password)
    assert sim.requests == []
