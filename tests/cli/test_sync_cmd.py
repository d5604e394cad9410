"""``puq-bridge sync-usage`` through click's CliRunner, against the simulators, with a config file
in tmp_path."""

import json
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from puq_bridge.cli import main
from puq_bridge.cli.sync_cmd import servers_table, summary_line, summary_table
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.usage.backends.sqlite import sync_lock
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.report import ServerResult, SyncReport
from puq_bridge.usage.store import UsageStore
from tests.support.sync import GB, MB, PASSWORD, Farm, write_config
from tests.support.zimbra import echoing_auth

SERVICE_KEYS = {
    "service_id": int,
    "domain": str,
    "server": str,
    "mailboxes": int,
    "used_bytes": int,
    "limit_bytes": int,
    "used_mb": int,
    "limit_mb": int,
    "status": str,
}
SERVER_KEYS = {
    "server": str,
    "plan": str,
    "why": str,
    "requests": int,
    "usage_requests": int,
    "rows": int,
    "throttled": int,
    "retries": int,
}


@pytest.fixture
def farm(whmcs_server):
    sim, _url = whmcs_server
    f = Farm(sim)
    f.add_mail("mail1")
    f.add_mail("mail2")
    f.domain("mail1", "a.pl", (3 * MB, GB), (MB, GB))
    f.domain("mail2", "b.pl", (5 * MB, 0))
    f.ids = {"a": f.service("mail1", "a.pl"), "b": f.service("mail2", "b.pl")}
    yield f
    f.stop()


@pytest.fixture
def bridge(farm, whmcs_server, tmp_path, monkeypatch):
    """Run the CLI with the config; secrets only in the environment."""
    path, store, env = write_config(tmp_path, whmcs_server[1], farm)
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def run(*args):
        return CliRunner().invoke(
            main, ["--config", str(path), "sync-usage", *args], catch_exceptions=False
        )

    run.store = store
    return run


def test_json_document_matches_the_design(bridge, farm):
    result = bridge("--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # exactly one document and nothing else on stdout
    assert set(doc) == {"started", "duration_s", "dry_run", "totals", "services", "servers"}
    assert [(s["server"], s["plan"], s["usage_requests"]) for s in doc["servers"]] == [
        ("mail1", "domain", 1),
        ("mail2", "domain", 1),
    ]
    for server in doc["servers"]:
        assert set(server) == set(SERVER_KEYS) and server["why"].startswith("one domain")
        assert all(isinstance(server[k], t) for k, t in SERVER_KEYS.items()), server
    assert isinstance(doc["started"], str) and doc["started"].endswith("Z")
    assert isinstance(doc["duration_s"], float) and doc["dry_run"] is False
    assert doc["totals"] == {"updated": 2, "unchanged": 0, "failed": 0, "skipped": 0}
    for service in doc["services"]:
        assert set(service) == set(SERVICE_KEYS) | {"error"}
        assert all(isinstance(service[k], t) for k, t in SERVICE_KEYS.items()), service
        assert service["error"] is None
    a = next(s for s in doc["services"] if s["service_id"] == farm.ids["a"])
    assert (a["mailboxes"], a["used_bytes"], a["used_mb"], a["limit_mb"]) == (2, 4 * MB, 4, 2048)
    assert farm.whmcs.services[farm.ids["b"]]["diskusage"] == "5"
    with UsageStore(bridge.store) as store:
        assert store.counts()["runs"] == 1


def test_json_leaves_zimbra_system_accounts_out(bridge, farm):
    sim = farm.mail["mail1"].sim
    system = sim.add_system_accounts("a.pl")
    sim.set_used(system[0], 9 * MB)
    result = bridge("--json")
    assert result.exit_code == 0, result.stderr
    a = next(s for s in json.loads(result.stdout)["services"] if s["service_id"] == farm.ids["a"])
    assert (a["mailboxes"], a["used_bytes"], a["used_mb"], a["limit_mb"]) == (2, 4 * MB, 4, 2048)
    assert farm.whmcs.services[farm.ids["a"]]["disklimit"] == "2048"
    with UsageStore(bridge.store) as store:
        assert [m.name for m in store.latest(farm.ids["a"]).mailboxes] == [
            "user0@a.pl",
            "user1@a.pl",
        ]


def test_a_trickling_zimbra_fails_its_services_at_the_deadline_and_the_run_ends(
    farm, whmcs_server, tmp_path, monkeypatch, bounded
):
    """The run (and its lock) is bounded: the trickling server's request ends at its deadline."""
    path, store, env = write_config(tmp_path, whmcs_server[1], farm)
    # mail2's entry: 0.2 s per read, so 0.6 s per request
    mail2 = 'password_env = "T_ZIMBRA_1"\ntimeout = '
    path.write_text(path.read_text().replace(mail2 + "2", mail2 + "0.2"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sim = farm.mail["mail2"].sim
    sim.trickle_seconds = 0.05
    sim.inject("trickle", on="GetQuotaUsage")
    result = bounded(
        CliRunner().invoke,
        main,
        ["--config", str(path), "sync-usage", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    services = {s["service_id"]: s for s in json.loads(result.stdout)["services"]}
    b = services[farm.ids["b"]]
    assert b["status"] == "failed" and "\n" not in b["error"]
    assert b["error"].startswith("Zimbra mail2 GetQuotaUsage: no complete reply from ")
    assert "within the 0.6 s deadline for a request" in b["error"]
    assert services[farm.ids["a"]]["status"] == "updated"
    with sync_lock(store):  # the run let go of its lock
        pass


ODD_PASSWORD = 'Zi&m<b>r"a-P4ss/x'


def test_a_password_echoed_escaped_reaches_no_output_log_or_store(
    farm, whmcs_server, tmp_path, monkeypatch
):
    """mail2 (or a proxy before it) answers AuthRequest quoting it: the password comes back
    XML-escaped."""
    from html import escape

    path, store, env = write_config(tmp_path, whmcs_server[1], farm)
    mail2 = farm.mail["mail2"]
    mail2.server.stop()
    with BackgroundServer(echoing_auth(mail2.sim), port=mail2.server.port) as _:
        env["T_ZIMBRA_1"] = ODD_PASSWORD
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(
            main, ["--config", str(path), "-vv", "sync-usage", "--json"], catch_exceptions=False
        )
    assert result.exit_code == 1
    b = next(s for s in json.loads(result.stdout)["services"] if s["service_id"] == farm.ids["b"])
    assert b["status"] == "failed" and "AuthRequest" in b["error"] and "********" in b["error"]
    with sqlite3.connect(store) as db:  # everything the store holds, failed attempts included
        stored = "\n".join(db.iterdump())
    assert "AuthRequest" in stored
    for text in (result.stdout, result.stderr, b["error"], stored):
        for form in (ODD_PASSWORD, escape(ODD_PASSWORD), escape(ODD_PASSWORD, quote=False)):
            assert form not in text
        assert "P4ss" not in text


def test_cron_output_is_one_line_and_a_line_per_failure(bridge, farm):
    ok = bridge()
    assert ok.exit_code == 0 and ok.stdout == ""
    assert ok.stderr.splitlines() == [summary_line_of(ok.stderr)]
    assert "0 updated, 2 unchanged" not in ok.stderr and "2 updated" in ok.stderr

    farm.mail["mail2"].server.stop()
    farm.mail["mail1"].sim.set_used("user0@a.pl", 9 * MB)
    failed = bridge()
    assert failed.exit_code == 1 and failed.stdout == ""
    lines = failed.stderr.splitlines()
    assert lines[0].startswith("sync-usage: 1 updated, 0 unchanged, 1 failed, 0 skipped")
    assert len(lines) == 2 and lines[1].startswith(
        f"failed: service {farm.ids['b']} (b.pl on mail2): "
    )
    assert "refused" in lines[1].lower()


def summary_line_of(stderr: str) -> str:
    (line,) = [x for x in stderr.splitlines() if x.startswith("sync-usage: ")]
    return line


def test_dry_run_writes_neither_whmcs_nor_the_store(bridge, farm):
    result = bridge("--dry-run", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True and doc["totals"]["updated"] == 2
    assert farm.whmcs.count("UpdateClientProduct") == 0
    assert not bridge.store.exists() and not bridge.store.parent.exists()


def test_held_lock_exits_3_and_writes_nothing(bridge, farm):
    with sync_lock(bridge.store):
        result = bridge("--json")
        plain = bridge()
    assert result.exit_code == 3 and plain.exit_code == 3
    doc = json.loads(result.stdout)  # --json: one document, also for a run that could not start
    assert doc["exit_code"] == 3 and doc["services"] == [] and sum(doc["totals"].values()) == 0
    assert "another sync-usage run holds the lock" in doc["error"]
    assert "another sync-usage run holds the lock" in plain.stderr and plain.stdout == ""
    assert farm.whmcs.count("UpdateClientProduct") == 0 and farm.mail["mail1"].sim.requests == []
    with UsageStore(bridge.store) as store:
        assert store.counts()["runs"] == 0


def test_second_run_while_the_first_is_running_exits_3(bridge, farm):
    from puq_bridge.config import load_config
    from puq_bridge.usage.sync import SyncEngine
    from puq_bridge.whmcs.client import WhmcsClient
    from puq_bridge.zimbra.client import ZimbraAdmin

    sim = farm.mail["mail1"].sim
    sim.hang_seconds = 0.5
    sim.inject("hang", on="GetQuotaUsage")
    cfg = load_config(bridge.store.parent.parent / "bridge.toml")
    with UsageStore(cfg.store.path) as store:
        engine = SyncEngine(
            WhmcsClient(cfg.whmcs.url, cfg.whmcs.identifier, cfg.whmcs.secret, timeout=2),
            cfg.zimbra,
            lambda e: ZimbraAdmin(e.url, e.admin_user, e.password, name=e.name, timeout=2),
            store=store,
        )
        thread = threading.Thread(target=engine.run)
        thread.start()
        for _ in range(200):
            if sim.count("GetQuotaUsage"):
                break
            threading.Event().wait(0.005)
        second = bridge()
        thread.join(timeout=10)
    assert second.exit_code == 3
    assert farm.whmcs.count("UpdateClientProduct") == 2  # the first run's writes only


def test_unknown_server_is_a_usage_error(bridge, farm):
    result = bridge("--server", "mail1", "--server", "nope")
    assert result.exit_code == 2
    assert "'nope'" in result.stderr and "mail1, mail2" in result.stderr
    assert farm.whmcs.requests == []


def test_server_option_limits_the_run(bridge, farm):
    result = bridge("--server", "mail2", "--json")
    doc = json.loads(result.stdout)
    assert [s["service_id"] for s in doc["services"]] == [farm.ids["b"]]
    assert farm.mail["mail1"].sim.requests == []


@pytest.mark.parametrize("value", ["0", "x"])
def test_bad_concurrency_is_a_usage_error(bridge, value):
    result = bridge("--concurrency", value)
    assert result.exit_code == 2 and "--concurrency" in result.stderr


def test_whmcs_refusing_the_listing_is_one_error_line(bridge, farm):
    farm.whmcs.inject("auth", on="GetClientsProducts", times=2)  # 403: not retried
    result = bridge("--json")
    # nothing could be synced: not "some failed" (1) but its own code, and a document that says why
    assert result.exit_code == 4
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 4 and doc["error"].startswith("WHMCS GetClientsProducts")
    plain = bridge()
    lines = plain.stderr.splitlines()
    assert plain.exit_code == 4 and plain.stdout == ""
    assert len(lines) == 1 and lines[0].startswith("error: WHMCS GetClientsProducts")


def test_quiet_prints_nothing_when_every_service_synced(bridge, farm, tmp_path):
    path = bridge.store.parent.parent / "bridge.toml"
    run = CliRunner().invoke(main, ["--config", str(path), "-q", "sync-usage"])
    assert run.exit_code == 0 and run.stdout == "" and run.stderr == ""
    farm.mail["mail1"].sim.inject("http500", on="GetQuotaUsage", times=10)
    failed = CliRunner().invoke(main, ["--config", str(path), "-q", "sync-usage"])
    assert failed.exit_code == 1 and "failed: service" in failed.stderr


def test_a_config_error_under_json_is_one_document(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[whmcs]\nurl = 'https://x'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(bad), "sync-usage", "--json"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and "whmcs" in doc["error"]


def test_help_lists_the_exit_codes_and_the_lock():
    result = CliRunner().invoke(main, ["sync-usage", "--help"])
    assert result.exit_code == 0
    for code in ("0", "1", "2", "3", "4"):
        assert f"  {code}  " in result.stdout
    assert "lock" in result.stdout


def test_no_secret_in_output(bridge, farm, tmp_path, monkeypatch):
    monkeypatch.setenv("T_ZIMBRA_0", "not-the-password")  # mail1 now fails to authenticate
    result = bridge("--json")
    assert result.exit_code == 1
    text = result.stdout + result.stderr
    for secret in ("not-the-password", PASSWORD, "whmcs-secret"):
        assert secret not in text
    doc = json.loads(result.stdout)
    a = next(s for s in doc["services"] if s["service_id"] == farm.ids["a"])
    assert a["status"] == "failed" and "mail1" in a["error"] and a["used_bytes"] is None


def test_summary_table_and_line():
    import datetime as dt

    report = SyncReport(
        dt.datetime(2026, 11, 22, 3, tzinfo=dt.timezone.utc),
        1.84,
        True,
        [
            ServiceResult(42, "example.pl", "mail1", "updated", 123456789, 0, (), None),
            ServiceResult(43, "b.pl", "mail2", "failed", error="mail2: connection refused"),
        ],
    )
    table = summary_table(report).splitlines()
    assert table[0].split() == [
        "service",
        "domain",
        "server",
        "mailboxes",
        "used",
        "MB",
        "limit",
        "MB",
        "status",
        "error",
    ]
    assert table[1].split() == [
        "42",
        "example.pl",
        "mail1",
        "0",
        "118",
        "unlimited",
        "updated",
        "-",
    ]
    assert table[2].split()[:7] == ["43", "b.pl", "mail2", "-", "-", "-", "failed"]
    assert table[2].endswith("mail2: connection refused")
    assert summary_line(report) == (
        "sync-usage: 1 updated, 0 unchanged, 1 failed, 0 skipped in 1.8 s "
        "(dry run: nothing written)"
    )


def test_servers_table_says_each_servers_plan_and_why():
    import datetime as dt

    report = SyncReport(dt.datetime(2026, 11, 22, 3, tzinfo=dt.timezone.utc), 1.0, False, [])
    report.servers = [
        ServerResult("mail1", "server", "cheaper: 1 request(s) for 12 accounts", 4, 1, 12, 2, 2),
        ServerResult("mail2", None, "nothing read: mail2: connection refused"),
    ]
    table = servers_table(report).splitlines()
    assert table[0].split()[:7] == [
        "server",
        "plan",
        "requests",
        "usage",
        "reads",
        "rows",
        "refused",
    ]
    assert table[1].split()[:7] == ["mail1", "server", "4", "1", "12", "2", "2"]
    assert table[1].endswith("cheaper: 1 request(s) for 12 accounts")
    assert table[2].split()[:2] == ["mail2", "-"] and table[2].endswith("connection refused")
