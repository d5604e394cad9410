"""The sync engine against the simulators: FakeWhmcs and FakeZimbra served on loopback by
BackgroundServer."""

import datetime as dt
import threading

import pytest
from lxml import etree

from puq_bridge.errors import ParamsError, SyncLockedError, ZimbraError
from puq_bridge.usage.backends.sqlite import sync_lock
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.report import SyncReport
from puq_bridge.usage.store import UsageStore
from puq_bridge.usage.sync import SyncEngine, describe, needs_write
from tests.support.sync import GB, MB
from tests.support.zimbra import CAPTURES


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "store" / "usage.sqlite3") as s:
        yield s


def by_id(report: SyncReport) -> dict[int, ServiceResult]:
    return {r.service_id: r for r in report.results}


# --- the rules, without servers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "whmcs, read, expected",
    [
        ((118, 10240), (118, 10240), False),  # same values: no write
        ((118, 10240), (119, 10240), True),  # usage grew
        ((118, 10240), (118, 0), True),  # limit became unlimited
        ((0, 0), (1, 0), True),  # first usage of a new service
        ((0, 0), (0, 0), False),  # empty and new: nothing to write
        ((118, 10240), (0, 10240), True),  # emptied: the 0 is written (sent so that it lands)
        ((118, 0), (118, 0), False),  # unlimited, as WHMCS already says
        (
            (118, 10240),
            (0, 20480),
            True,
        ),  # emptied but the limit changed: the limit is still written
    ],
)
def test_needs_write(whmcs, read, expected):
    assert needs_write(*whmcs, *read) is expected


def test_lock_is_exclusive_and_released(tmp_path):
    store_path = tmp_path / "sub" / "usage.sqlite3"
    with sync_lock(store_path) as lock_path:
        assert lock_path == tmp_path / "sub" / "usage.sqlite3.lock"
        with pytest.raises(
            SyncLockedError, match=r"another sync-usage run holds the lock .*\(pid \d+\)"
        ):
            with sync_lock(store_path):
                pass  # pragma: no cover
    with sync_lock(store_path):
        pass


def test_describe_names_the_server_once():
    assert (
        describe(ConnectionRefusedError("connection refused"), "mail2")
        == "mail2: ConnectionRefusedError: connection refused"
    )
    assert (
        describe(ZimbraError("mail2", "AuthRequest", "connection refused"), "mail2")
        == "Zimbra mail2 AuthRequest: connection refused"
    )
    assert describe(ValueError("first line\nsecond line")) == "ValueError: first line"


# --- against the simulators -----------------------------------------------------------------------


# Zimbra's own accounts inside a client's domain (the nucleus-be GetQuotaUsage capture lists them
# beside the mailboxes)
def _system_accounts(sim, domain: str, *, galsync_quota: int = 500 * MB) -> list[str]:
    names = sim.add_system_accounts(domain)
    galsync = names[0]
    sim.accounts[galsync]["attrs"]["zimbraMailQuota"] = str(galsync_quota)
    sim.set_used(galsync, 40 * MB)
    sim.set_used(names[1], 7 * MB)  # the spam account holds a few messages
    return names


def test_system_accounts_are_not_the_clients_mailboxes(farm, whmcs_client, store):
    """galsync, spam, ham and virus-quarantine accounts count nowhere: not in the mailboxes, the
    used space, or the sum of quotas (their quota 0 would make it unlimited); one directory query
    per server per run."""
    mail = farm.add_mail("mail1")
    farm.domain("mail1", "firma.pl", (3 * MB, GB), (MB, 500 * MB))
    farm.domain("mail1", "sklep.pl", (2 * MB, GB))
    system = _system_accounts(mail.sim, "firma.pl") + _system_accounts(mail.sim, "sklep.pl")
    firma, sklep = farm.service("mail1", "firma.pl"), farm.service("mail1", "sklep.pl")

    report = farm.engine(whmcs_client, store=store).run()

    assert report.exit_code == 0
    written = farm.writes()
    assert (written[firma]["diskusage"], written[firma]["disklimit"]) == ("4", "1524")
    assert (written[sklep]["diskusage"], written[sklep]["disklimit"]) == ("2", "1024")
    result = by_id(report)[firma]
    assert (result.used_bytes, result.limit_bytes) == (4 * MB, GB + 500 * MB)
    assert [m.name for m in result.mailboxes] == ["user0@firma.pl", "user1@firma.pl"]
    stored = store.latest(firma)
    assert {m.name for m in stored.mailboxes} == {"user0@firma.pl", "user1@firma.pl"}
    assert stored.used_bytes == 4 * MB and stored.limit_bytes == GB + 500 * MB
    assert not any(name in repr(store.latest(sklep)) for name in system)
    assert mail.sim.count("SearchDirectory") == 1


def test_system_accounts_past_the_directorys_search_cap(farm, whmcs_client):
    """A directory with more system accounts than SearchDirectory's cap (a GAL sync account per
    domain)."""
    mail = farm.add_mail("mail1")
    mail.sim.search_max_results = 2
    farm.domain("mail1", "firma.pl", (3 * MB, GB))
    _system_accounts(mail.sim, "firma.pl")
    for i in range(3):
        mail.sim.add_domain(f"d{i}.pl")
        mail.sim.add_system_accounts(f"d{i}.pl", spam=False)
    firma = farm.service("mail1", "firma.pl")
    report = farm.engine(whmcs_client).run()
    assert report.exit_code == 0, report.results
    assert farm.writes()[firma]["disklimit"] == "1024"


def test_the_nucleus_be_capture_gives_the_limits_a_client_bought(farm, whmcs_client):
    """The accounts of the real GetQuotaUsage reply: nucleus.be 1001 MB (not 1501 with galsync's 500
    MB), mail.webruimte.eu 1050 MB (not unlimited because of three quota-0 system accounts)."""
    capture = CAPTURES / "GetQuotaUsageResponse.xml"
    if not capture.exists():
        pytest.skip(f"reference capture not available: {capture} (the ../shared folder)")
    account = "{urn:zimbraAdmin}account"
    rows = [
        (a.get("name"), int(a.get("used")), int(a.get("limit")))
        for a in etree.parse(str(capture)).iter(account)
    ]
    mail = farm.add_mail("mail1")
    for domain in sorted({name.split("@")[1] for name, _, _ in rows}):
        mail.sim.add_domain(domain)
    for name, used, limit in rows:
        local = name.split("@")[0]
        # What the real server holds on these accounts (real-world.md; zm-mailbox
        # CreateGalSyncAccount, BUG_57866)
        flags = {"zimbraIsSystemAccount": "TRUE"} if local == "galsync" or "." in local else {}
        if local == "galsync":
            flags["zimbraIsSystemResource"] = "TRUE"
        mail.sim.add_account(name, quota=limit, used=used, attrs=flags)
        if not limit:
            mail.sim.accounts[name]["attrs"]["zimbraMailQuota"] = "0"
    ids = {d: farm.service("mail1", d) for d in ("nucleus.be", "mail.webruimte.eu", "chris.be")}

    report = farm.engine(whmcs_client).run()

    assert report.exit_code == 0
    written = farm.writes()
    limits = {d: written[sid]["disklimit"] for d, sid in ids.items()}
    assert limits == {"nucleus.be": "1001", "mail.webruimte.eu": "1050", "chris.be": "100"}
    mailboxes = {d: len(by_id(report)[sid].mailboxes) for d, sid in ids.items()}
    assert mailboxes == {"nucleus.be": 5, "mail.webruimte.eu": 3, "chris.be": 2}


def test_multi_server_sync_writes_exactly_what_was_read(farm, whmcs_client, store):
    """Healthy, down, token-expiring and HTML-answering servers, one failing WHMCS write, skipped
    services."""
    for name in ("mail1", "mail2", "mail3", "mail4"):
        farm.add_mail(name)
    farm.domain(
        "mail1", "a.pl", (3 * MB, 1 * GB), (MB + 1, 1 * GB)
    )  # 4 MB + 1 byte -> 5 MB of 2048 MB
    farm.domain("mail1", "b.pl", (10 * MB, 0), (0, 1 * GB))  # an unlimited mailbox -> limit 0
    farm.domain("mail2", "down.pl", (5 * MB, 1 * GB))
    farm.domain("mail3", "expiring.pl", (7 * MB, 2 * GB))
    farm.domain("mail4", "html.pl", (9 * MB, 1 * GB))
    s_a = farm.service("mail1", "a.pl", disk_usage=77, disk_limit=1)
    s_b = farm.service("mail1", "b.pl")
    s_a_total = farm.service(
        "mail1", "A.pl", config_options={"Total space (GB)": "5"}
    )  # same domain, read once
    s_down = farm.service("mail2", "down.pl", disk_usage=33, disk_limit=44)
    s_exp = farm.service("mail3", "expiring.pl")
    s_html = farm.service("mail4", "html.pl", disk_usage=55, disk_limit=66)
    s_nodomain = farm.service("mail1", "")
    other_server = farm.whmcs.add_server("elsewhere", "mx9.example.net", "192.0.2.9")
    s_unmapped = farm.service(None, "x.pl", server_id=other_server)
    farm.service("mail1", "gone.pl", status="Terminated")  # not a synced status: not listed
    farm.mail["mail2"].server.stop()
    farm.mail["mail3"].sim.inject("expire", on="GetQuotaUsage")
    farm.mail["mail4"].sim.inject("html", on="GetQuotaUsage")
    farm.whmcs.inject("http500", on="UpdateClientProduct")  # whichever write comes first fails
    engine = farm.engine(whmcs_client, store=store)

    report = engine.run()

    r = by_id(report)
    assert set(r) == {s_a, s_b, s_a_total, s_down, s_exp, s_html, s_nodomain, s_unmapped}
    statuses = {sid: res.status for sid, res in r.items()}
    failed_write = [sid for sid in (s_a, s_b, s_a_total, s_exp) if statuses[sid] == "failed"]
    assert len(failed_write) == 1 and "UpdateClientProduct" in r[failed_write[0]].error
    assert all(
        statuses[sid] == "updated"
        for sid in (s_a, s_b, s_a_total, s_exp)
        if sid not in failed_write
    )
    assert statuses[s_down] == statuses[s_html] == "failed"
    assert "mail2" in r[s_down].error and "refused" in r[s_down].error.lower()
    assert "mail4" in r[s_html].error
    assert statuses[s_nodomain] == "skipped" and "no domain" in r[s_nodomain].error
    # a server no [[zimbra]] entry serves is a failure that names it (a typo must not go unseen)
    assert statuses[s_unmapped] == "failed" and "mx9.example.net" in r[s_unmapped].error
    assert "ignore_servers" in r[s_unmapped].error
    assert report.exit_code == 1

    written = farm.writes()
    assert set(written) == {s_a, s_b, s_a_total, s_exp}  # never a failed read, never a skipped one
    expected = {
        s_a: ("5", "2048"),
        s_b: ("10", "00"),  # unlimited: a 0 WHMCS's API does not skip
        s_a_total: ("5", "5120"),
        s_exp: ("7", "2048"),
    }
    for sid, (used, limit) in expected.items():
        assert (written[sid]["diskusage"], written[sid]["disklimit"]) == (used, limit)
        row = farm.whmcs.services[sid]
        if sid in failed_write:
            assert row["lastupdate"] in (
                "",
                "0000-00-00 00:00:00",
            )  # the failed write changed nothing
        else:
            assert (row["diskusage"], row["disklimit"]) == (str(int(used)), str(int(limit)))
            assert row["lastupdate"] not in ("", "0000-00-00 00:00:00")
    for sid, values in (
        (s_down, ("33", "44")),
        (s_html, ("55", "66")),
    ):  # failed reads: untouched, never zeros
        assert (
            farm.whmcs.services[sid]["diskusage"],
            farm.whmcs.services[sid]["disklimit"],
        ) == values

    mail1, mail3 = farm.mail["mail1"].sim, farm.mail["mail3"].sim
    # mail1 holds only the bridge's two domains: counted once, then read whole in one request
    # (a.pl once for its two services); the one-domain servers are read per domain
    assert mail1.count("Auth") == 1 and mail1.count("GetMailboxStats") == 1
    (whole,) = [r["attrs"] for r in mail1.requests if r["op"] == "GetQuotaUsage"]
    assert "domain" not in whole and whole["limit"] == "100000"  # one page of [sync] page_rows
    plans = {s.server: (s.plan, s.usage_requests) for s in report.servers}
    assert plans == {
        "mail1": ("server", 1),
        "mail2": (None, 0),
        "mail3": ("domain", 1),
        "mail4": ("domain", 1),
    }
    (single,) = [r["attrs"] for r in mail3.requests if r["op"] == "GetQuotaUsage"][-1:]
    assert single["domain"] == "expiring.pl" and single["allServers"] in ("1", "true")
    assert mail3.count("Auth") == 2  # re-authenticated once after expiry
    assert not any(m.sim.count("GetMailbox") for m in farm.mail.values())

    assert store.latest(s_down) is None
    assert store.latest(s_a).used_bytes == 4 * MB + 1 and len(store.latest(s_a).mailboxes) == 2
    assert store.counts()["samples"] == 8


def test_unchanged_services_are_not_written_again(farm, whmcs_client, store):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    farm.domain("mail1", "empty.pl", (0, GB))
    s_a = farm.service("mail1", "a.pl")
    s_empty = farm.service(
        "mail1", "empty.pl", disk_usage=12, disk_limit=1024
    )  # emptied since WHMCS last saw it
    engine = farm.engine(whmcs_client, store=store)
    first = by_id(engine.run())
    assert first[s_a].status == first[s_empty].status == "updated"
    assert set(farm.writes()) == {s_a, s_empty}
    assert farm.whmcs.services[s_empty]["diskusage"] == "0"  # the drop to 0 landed
    before = farm.whmcs.count("UpdateClientProduct")

    second = engine.run()

    assert {r.status for r in second.results} == {"unchanged"} and second.exit_code == 0
    assert farm.whmcs.count("UpdateClientProduct") == before
    assert store.latest(s_empty).used_bytes == 0 and store.counts()["runs"] == 2


def test_a_usage_and_a_limit_that_fall_to_0_land_in_whmcs(farm, whmcs_client, store):
    # WHMCS's API sets a field only when PHP finds the value non-empty, and "0" is empty to PHP
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    sid = farm.service("mail1", "a.pl", disk_usage=3, disk_limit=1024)
    for mailbox in list(farm.mail["mail1"].sim.accounts):
        farm.mail["mail1"].sim.set_used(mailbox, 0)
        farm.mail["mail1"].sim.accounts[mailbox]["attrs"]["zimbraMailQuota"] = "0"
    engine = farm.engine(whmcs_client, store=store)
    assert by_id(engine.run())[sid].status == "updated"
    row = farm.whmcs.services[sid]
    assert (row["diskusage"], row["disklimit"]) == ("0", "0")
    assert row["lastupdate"] not in ("", "0000-00-00 00:00:00")
    assert by_id(engine.run())[sid].status == "unchanged"  # and no write on the next run
    assert farm.whmcs.count("UpdateClientProduct") == 1


def test_a_zero_that_whmcs_does_not_take_is_reported_not_hidden(
    farm, whmcs_client, store, monkeypatch
):
    # a WHMCS that still skips the zero (a client sending a plain 0 behaves the same on today's)
    farm.add_mail("mail1")
    farm.domain("mail1", "empty.pl", (0, GB))
    sid = farm.service("mail1", "empty.pl", disk_usage=12, disk_limit=1024)
    plain = whmcs_client.update_client_product

    def update_usage(service_id, *, disk_usage_mb, disk_limit_mb, last_update):
        plain(service_id, diskusage=disk_usage_mb, disklimit=disk_limit_mb)

    monkeypatch.setattr(whmcs_client, "update_usage", update_usage)
    result = by_id(farm.engine(whmcs_client, store=store).run())[sid]
    assert result.status == "failed" and result.used_bytes == 0
    assert result.error == (
        "WHMCS kept disk usage 12 MB where Zimbra has 0 MB: its API skipped the 0; "
        "the module's UsageUpdate (WHMCS's daily cron) writes it"
    )
    assert store.latest(sid).used_bytes == 0  # the page still shows the real 0


def test_usage_change_between_runs_is_written(farm, whmcs_client):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    sid = farm.service("mail1", "a.pl")
    engine = farm.engine(whmcs_client)
    engine.run()
    farm.mail["mail1"].sim.set_used("user0@a.pl", 300 * MB + 5)
    assert by_id(engine.run())[sid].status == "updated"
    assert farm.whmcs.services[sid]["diskusage"] == "301"


def test_dry_run_reads_everything_and_writes_nothing(farm, whmcs_client, store):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    sid = farm.service("mail1", "a.pl")
    report = farm.engine(whmcs_client, store=store).run(dry_run=True)
    assert by_id(report)[sid].status == "updated" and report.dry_run
    assert farm.mail["mail1"].sim.count("GetQuotaUsage") == 1
    assert farm.whmcs.count("UpdateClientProduct") == 0
    assert store.counts() == {"runs": 0, "samples": 0, "mailboxes": 0, "daily": 0}
    assert not store.path.with_name(store.path.name + ".lock").exists()


def test_a_held_lock_stops_the_run_before_any_request(farm, whmcs_client, store):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    farm.service("mail1", "a.pl")
    with sync_lock(store.path):
        with pytest.raises(SyncLockedError):
            farm.engine(whmcs_client, store=store).run()
    assert farm.whmcs.requests == [] and farm.mail["mail1"].sim.requests == []
    assert store.counts()["runs"] == 0


def test_overlapping_runs_cannot_both_write(farm, whmcs_client, store):
    """A run in another thread holds the lock while it waits on a slow Zimbra; the second run is
    refused."""
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    farm.service("mail1", "a.pl")
    sim = farm.mail["mail1"].sim
    sim.hang_seconds = 0.5
    sim.inject("hang", on="GetQuotaUsage")
    engine = farm.engine(whmcs_client, store=store)
    first: list = []
    thread = threading.Thread(target=lambda: first.append(engine.run()))
    thread.start()
    for _ in range(200):
        if sim.count("GetQuotaUsage"):
            break
        threading.Event().wait(0.005)
    with pytest.raises(SyncLockedError):
        engine.run()
    thread.join(timeout=10)
    assert first[0].totals["updated"] == 1
    assert farm.whmcs.count("UpdateClientProduct") == 1 and store.counts()["runs"] == 1


def test_request_counts_equal_the_bound(farm, whmcs_client, store):
    """3 servers x 4 domains x 3 mailboxes, each server holding only the bridge's domains: 1 auth,
    1 system-account query, 1 account count (first run only: the store knows it afterwards) and
    1 whole-server GetQuotaUsage per server, 1 write per service."""
    for s in range(3):
        mail = farm.add_mail(f"mail{s}")
        for d in range(4):
            farm.domain(mail.entry.name, f"d{d}.s{s}.pl", *[((b + 1) * MB, GB) for b in range(3)])
            farm.service(mail.entry.name, f"d{d}.s{s}.pl")
    seen: list[tuple[int, int]] = []
    report = farm.engine(whmcs_client, store=store, concurrency=2, per_server_concurrency=2).run(
        progress=lambda result, done, total: seen.append((done, total))
    )
    assert report.totals == {"updated": 12, "unchanged": 0, "failed": 0, "skipped": 0}
    for m in farm.mail.values():
        assert m.sim.count("Auth") == 1 and m.sim.count("GetQuotaUsage") == 1
        assert m.sim.count("SearchDirectory") == 1 and m.sim.count("GetMailboxStats") == 1
        assert len(m.sim.requests) == 4
        m.sim.requests.clear()
    assert farm.whmcs.count("UpdateClientProduct") == 12
    assert farm.whmcs.count("GetClientsProducts") == 1
    assert seen == [(i, 12) for i in range(1, 13)]
    assert [(s.server, s.plan, s.requests, s.usage_requests, s.rows) for s in report.servers] == [
        (f"mail{i}", "server", 4, 1, 12) for i in range(3)
    ]

    again = farm.engine(whmcs_client, store=store, concurrency=2, per_server_concurrency=2).run()
    assert again.totals["unchanged"] == 12
    for m in farm.mail.values():
        assert [r["op"] for r in m.sim.requests].count("GetQuotaUsage") == 1
        assert len(m.sim.requests) == 3  # no count: the store knew the server's accounts


def test_products_and_statuses_select_the_services(farm, whmcs_client):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (MB, GB))
    other = farm.whmcs.add_product("Web hosting")
    sid = farm.service("mail1", "a.pl")
    farm.service("mail1", "a.pl", product=other)
    suspended = farm.service("mail1", "a.pl", status="Suspended")
    farm.service("mail1", "a.pl", status="Pending")
    report = farm.engine(
        whmcs_client, products=[farm.product], statuses=["Active", "Suspended"]
    ).run()
    assert sorted(r.service_id for r in report.results) == sorted([sid, suspended])
    assert farm.mail["mail1"].sim.count("GetQuotaUsage") == 1


def two_servers(farm):
    """mail1 with a.pl and b.pl, mail2 with c.pl, one 1 MB mailbox each: their three service ids."""
    farm.add_mail("mail1")
    farm.add_mail("mail2")
    for server, domain in (("mail1", "a.pl"), ("mail1", "b.pl"), ("mail2", "c.pl")):
        farm.domain(server, domain, (MB, GB))
    return (
        farm.service("mail1", "a.pl"),
        farm.service("mail1", "b.pl"),
        farm.service("mail2", "c.pl"),
    )


def test_only_servers_and_only_services(farm, whmcs_client):
    s_a, s_b, s_c = two_servers(farm)
    engine = farm.engine(whmcs_client)

    assert {r.service_id for r in engine.run(only_servers=["mail2"]).results} == {s_c}
    assert farm.mail["mail1"].sim.requests == []

    one = engine.run(only_services=[s_b, 999])
    assert by_id(one)[s_b].status == "updated"
    assert by_id(one)[999].status == "skipped" and "999 not found" in by_id(one)[999].error
    assert farm.mail["mail1"].sim.count("GetQuotaUsage") == 1  # only b.pl
    assert farm.whmcs.services[s_a]["diskusage"] == "0"

    with pytest.raises(ParamsError, match="unknown Zimbra server nope"):
        engine.run(only_servers=["nope"])


def test_auth_failure_fails_every_service_of_that_server_only(farm, whmcs_client):
    from puq_bridge.config import ZimbraConfig

    s_a, s_b, s_c = two_servers(farm)
    e = farm.mail["mail1"].entry
    farm.mail["mail1"].entry = ZimbraConfig(
        e.name, e.whmcs_server, e.url, e.admin_user, "wrong-password", timeout=2
    )
    r = by_id(farm.engine(whmcs_client).run())
    assert r[s_a].status == r[s_b].status == "failed" and r[s_c].status == "updated"
    assert "AUTH_FAILED" in r[s_a].error and "wrong-password" not in r[s_a].error
    assert (
        farm.mail["mail1"].sim.count("Auth") == 1
        and farm.mail["mail1"].sim.count("GetQuotaUsage") == 0
    )
    assert set(farm.writes()) == {s_c}


def test_missing_domain_on_zimbra_fails_only_that_service(farm, whmcs_client):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (MB, GB))
    s_a, s_missing = (
        farm.service("mail1", "a.pl"),
        farm.service("mail1", "missing.pl", disk_usage=9),
    )
    r = by_id(farm.engine(whmcs_client).run())
    assert r[s_a].status == "updated"
    assert r[s_missing].status == "failed" and "NO_SUCH_DOMAIN" in r[s_missing].error
    assert farm.whmcs.services[s_missing]["diskusage"] == "9"


def test_runs_record_their_origin_and_each_services_client(farm, whmcs_client, store):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (MB, GB))
    s_a, s_missing = farm.service("mail1", "a.pl"), farm.service("mail1", "missing.pl")
    other = farm.whmcs.add_server("elsewhere", "mx9.example.net", "192.0.2.9")
    s_nowhere = farm.service(None, "b.pl", server_id=other)
    engine = farm.engine(whmcs_client, store=store)
    engine.run()
    engine.run(only_services=[s_a], origin="SyncUsage")
    assert [r.origin for r in store.runs()] == ["SyncUsage", "sync-usage"]
    clients = {s.service_id: s.client_id for s in store.latest_samples()}
    assert clients == {s_a: farm.client_id, s_missing: farm.client_id, s_nowhere: farm.client_id}


def test_retention_keeps_the_store_bounded_over_many_days(farm, whmcs_client, tmp_path):
    """One run a day for 100 days, with an injected clock: detail and daily history stay within
    their windows."""
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (MB, GB), (2 * MB, GB))
    farm.domain("mail1", "b.pl", (MB, GB))
    sid = farm.service("mail1", "a.pl")
    farm.service("mail1", "b.pl")
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)]
    with UsageStore(tmp_path / "usage.sqlite3", detail_days=5, history_days=90) as store:
        engine = farm.engine(whmcs_client, store=store, clock=lambda: now[0])
        for day in range(100):
            now[0] = dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone.utc) + dt.timedelta(days=day)
            farm.mail["mail1"].sim.set_used("user0@a.pl", (day + 1) * MB)
            engine.run()
        counts = store.counts()
        assert counts["runs"] <= 5 + 1 and counts["samples"] <= 2 * (5 + 1)
        assert counts["mailboxes"] <= 3 * (5 + 1) and counts["daily"] <= 2 * (90 + 1)
        points = store.history(sid, days=90, now=now[0])
        assert len(points) == 90 and points[-1].used_bytes == 102 * MB


def test_the_engine_never_resizes_a_clients_pool_and_pooled_clients_keep_their_connections(
    farm, whmcs_server, whmcs_client, caplog
):
    """requests pools 10 connections per host; at concurrency 12 the 11th and 12th are opened and
    thrown away ("Connection pool is full, discarding connection") on every round unless the
    clients' pools are bigger. Pools are sized when the clients are built (``pooled_session``): the
    engine must not remount a session, since in the adapter other threads (ClientArea) use the same
    clients at that moment."""
    from puq_bridge.http import pooled_session
    from puq_bridge.whmcs.client import WhmcsClient
    from puq_bridge.zimbra.client import ZimbraAdmin

    _, url = whmcs_server
    mail = farm.add_mail("mail1")
    farm.whmcs.latency = mail.sim.latency = 0.03  # so that the requests overlap
    for i in range(24):
        farm.domain("mail1", f"d{i}.example.pl", (MB, GB))
        farm.service("mail1", f"d{i}.example.pl")
    caplog.set_level("WARNING", logger="urllib3.connectionpool")
    whmcs = WhmcsClient(url, "whmcs-id", "whmcs-secret", timeout=2, session=pooled_session(12))
    zimbra = ZimbraAdmin.from_config(mail.entry, pool_size=12)
    sessions = (whmcs.session, zimbra.session, whmcs_client.session)
    adapters = [dict(session.adapters) for session in sessions]
    report = SyncEngine(
        whmcs, [mail.entry], lambda entry: zimbra, concurrency=12, per_server_concurrency=12
    ).run()
    assert report.totals["updated"] == 24
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
    for i in range(24):  # a client with requests' 10: slower, but left as it is
        farm.mail["mail1"].sim.set_used(f"user0@d{i}.example.pl", 2 * MB)
    report = SyncEngine(whmcs_client, [mail.entry], lambda entry: zimbra, concurrency=12).run()
    assert report.totals["updated"] == 24
    assert [
        dict(session.adapters) for session in sessions
    ] == adapters  # the very same adapter objects
    zimbra.close()
    whmcs.session.close()


# --- private servers (product tenancy `server`, kept in the store by the adapter) -----------------


def test_a_private_server_is_read_whole_once_and_gives_its_domains_too(
    farm, whmcs_client, store
):
    farm.add_mail("mail1")
    farm.add_mail("mail2")
    farm.domain("mail1", "a.pl", (3 * MB, GB), (MB, GB))
    farm.domain("mail1", "b.pl", (10 * MB, 2 * GB))
    farm.domain("mail1", "c.pl", (5 * MB, GB))
    farm.domain("mail2", "d.pl", (7 * MB, GB))
    private = farm.service("mail1", "a.pl")
    private_too = farm.service(
        "mail1", "b.pl"
    )  # a second private-server service of the same server
    on_a = farm.service("mail1", "A.pl")  # tenancy domain, the private service's own domain
    on_c = farm.service("mail1", "c.pl")  # tenancy domain
    unknown = farm.service("mail2", "d.pl")  # the adapter never told the store: domain, as before
    store.remember_settings(private, None, "server")
    store.remember_settings(private_too, 100 * GB, "server")
    store.remember_settings(on_a, None, "domain")
    store.remember_settings(on_c, 8 * GB, None)

    report = farm.engine(whmcs_client, store=store).run()

    assert report.exit_code == 0 and report.totals["updated"] == 5
    written = {sid: (p["diskusage"], p["disklimit"]) for sid, p in farm.writes().items()}
    assert written == {
        private: ("19", "5120"),  # 3 + 1 + 10 + 5 MB of the whole server; quotas' sum
        private_too: ("19", str(100 * 1024)),  # same reading, its own total space
        on_a: ("4", "2048"),
        on_c: ("5", str(8 * 1024)),
        unknown: ("7", "1024"),
    }
    # the private services need mail1 whole: a.pl and c.pl come from the same reply
    mail1 = [r["attrs"] for r in farm.mail["mail1"].sim.requests if r["op"] == "GetQuotaUsage"]
    assert [q.get("domain") for q in mail1] == [None]
    assert "allServers" not in mail1[0] and mail1[0]["limit"] == "100000"  # [sync] page_rows
    assert farm.mail["mail1"].sim.count("GetMailboxStats") == 0
    assert [(s.server, s.plan, s.usage_requests) for s in report.servers] == [
        ("mail1", "server", 1),
        ("mail2", "domain", 1),
    ]
    assert [
        r["attrs"]["domain"] for r in farm.mail["mail2"].sim.requests if r["op"] == "GetQuotaUsage"
    ] == ["d.pl"]
    assert farm.mail["mail1"].sim.count("Auth") == 1

    stored = store.latest(private)
    assert stored.tenancy == "server" and stored.domain == "a.pl"
    assert sorted(m.name for m in stored.mailboxes) == [
        "user0@a.pl",
        "user0@b.pl",
        "user0@c.pl",
        "user1@a.pl",
    ]
    assert store.latest(on_a).tenancy == "domain" and len(store.latest(on_a).mailboxes) == 2
    assert (
        next(s for s in report.to_json()["services"] if s["service_id"] == private)["mailboxes"]
        == 4
    )


def test_a_failed_whole_server_read_fails_the_private_service_and_writes_nothing(
    farm, whmcs_client, store
):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB))
    private = farm.service("mail1", "a.pl", disk_usage=50, disk_limit=60)
    store.remember_settings(private, None, "server")
    farm.mail["mail1"].sim.inject("http500", on="GetQuotaUsage")
    result = by_id(farm.engine(whmcs_client, store=store).run())[private]
    assert result.status == "failed" and "mail1" in result.error and result.tenancy == "server"
    assert farm.writes() == {} and store.latest(private) is None  # never zeros


def test_servers_the_operator_ignores_are_skipped_not_failed(farm, whmcs_client, store):
    ignored = farm.whmcs.add_server("legacy", "legacy.example.net", "192.0.2.8")
    typo = farm.whmcs.add_server("mail1 typo", "mail1.example.con", "192.0.2.7")
    s_ignored = farm.service(None, "old.pl", server_id=ignored)
    s_typo = farm.service(None, "typo.pl", server_id=typo)
    engine = farm.engine(whmcs_client, store=store, ignore=lambda sid, host: sid == ignored)
    r = by_id(engine.run())
    assert r[s_ignored].status == "skipped" and "ignore_servers" in r[s_ignored].error
    assert r[s_typo].status == "failed" and "mail1.example.con" in r[s_typo].error
    assert not {s_ignored, s_typo} & set(farm.writes())


def test_a_lock_that_cannot_be_taken_is_a_store_error(tmp_path):
    from puq_bridge.errors import StoreError
    from puq_bridge.usage.backends.sqlite import sync_lock

    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(StoreError, match="cannot take the sync lock"):
        with sync_lock(blocked / "usage.sqlite3"):  # its folder is a file
            pass


def test_a_new_store_does_not_shrink_a_limit_it_has_not_learnt(farm, whmcs_client, store, caplog):
    """A replaced store has forgotten the product's total space (setting 3): the quotas' sum must
    not silently replace the 10 GB WHMCS shows; once the adapter has told the store, it is used."""
    farm.add_mail("mail1")
    farm.domain("mail1", "plan.pl", (MB, 2 * GB), (MB, 2 * GB))
    sid = farm.service("mail1", "plan.pl", disk_usage=1, disk_limit=10240)
    caplog.set_level("WARNING")
    farm.engine(whmcs_client, store=store).run()
    row = farm.whmcs.services[sid]
    assert (row["diskusage"], row["disklimit"]) == ("2", "10240")  # usage written, limit kept
    assert "has not learnt its product's total space" in caplog.text and str(sid) in caplog.text
    store.remember_settings(sid, None, "domain")  # the adapter saw the product: no total space
    farm.engine(whmcs_client, store=store).run()
    assert farm.whmcs.services[sid]["disklimit"] == "4096"  # now the quotas' sum, on purpose
