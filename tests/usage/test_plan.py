"""The read plan of a server: the cost model on both sides, a whole-server reply grouped by domain,
pages, and a sync under Zimbra's DoS filter."""

import datetime as dt

import pytest

from puq_bridge.simulators.zimbra.app import populate
from puq_bridge.usage import plan
from puq_bridge.usage.records import ServerStats
from puq_bridge.usage.store import UsageStore
from puq_bridge.usage.sync import SyncEngine
from puq_bridge.zimbra.models import SystemAccounts
from tests.support.sync import GB, MB

NOW = dt.datetime(2026, 11, 22, 3, tzinfo=dt.timezone.utc)


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as s:
        yield s


# --- the cost model -------------------------------------------------------------------------------


def test_many_small_domains_on_a_server_of_the_bridges_own_are_read_whole():
    chosen = plan.choose(2000, accounts=10_400, bridge_rows=10_000)
    # 1 request + 10,400 rows (11,400) against 2,000 requests + 10,000 rows (2,010,000)
    assert (chosen.plan, chosen.requests) == ("server", 1)
    assert "1 request(s) for 10,400 accounts vs 2,000 requests (10,000 rows)" in chosen.why


def test_a_few_domains_on_a_big_shared_server_are_read_per_domain():
    chosen = plan.choose(3, accounts=50_000, bridge_rows=30)
    # 1 request + 50,000 rows (51,000) against 3 requests + 30 rows (3,030)
    assert (chosen.plan, chosen.requests) == ("domain", 3)
    assert chosen.why.startswith("cheaper per domain")


def test_the_break_even_is_a_thousand_rows_a_request():
    # whole: 1 x 1000 + accounts; per domain: 5 x 1000 + 0 rows: whole wins below 4,000 accounts
    assert plan.choose(5, accounts=3_999, bridge_rows=0).plan == "server"
    assert plan.choose(5, accounts=4_000, bridge_rows=0).plan == "domain"
    assert plan.choose(5, accounts=4_000, bridge_rows=1).plan == "server"


def test_pages_count_in_the_cost():
    chosen = plan.choose(3, accounts=250_000, bridge_rows=249_000, page_rows=100_000)
    assert (chosen.plan, chosen.requests) == ("domain", 3)  # 3 pages + 250,000 rows
    chosen = plan.choose(500, accounts=250_000, bridge_rows=249_000, page_rows=100_000)
    assert (chosen.plan, chosen.requests) == ("server", 3)


def test_what_decides_before_the_numbers():
    assert plan.choose(0, private=True).plan == "server"
    assert "private-server" in plan.choose(3, private=True, accounts=10**6).why
    assert plan.choose(1, accounts=10).plan == "domain"  # one request either way
    unknown = plan.choose(40, accounts=None, unknown="service.PERM_DENIED: permission denied")
    assert unknown.plan == "domain" and "PERM_DENIED" in unknown.why
    assert plan.choose(40, accounts=10, forced="domain").plan == "domain"
    assert plan.choose(2, accounts=10**6, forced="server").plan == "server"


def test_the_server_is_counted_only_when_the_choice_needs_it():
    fresh = ServerStats("mail1", 500, NOW - dt.timedelta(days=1), 400, 20)
    stale = ServerStats("mail1", 500, NOW - dt.timedelta(days=8), 400, 20)
    assert plan.needs_count(None, 2, NOW) and plan.needs_count(stale, 20, NOW)
    assert not plan.needs_count(fresh, 20, NOW)
    assert not plan.needs_count(None, 1, NOW)  # one domain: nothing to choose
    assert not plan.needs_count(None, 20, NOW, forced="domain")


def test_a_whole_server_reply_is_grouped_by_domain_without_system_accounts():
    system = SystemAccounts(frozenset({"gal-id"}), frozenset({"spam.x@a.pl"}))
    rows = plan.DomainRows(["A.pl", "b.pl", "empty.pl"], system)
    for name, id in [
        ("u1@a.pl", "1"),
        ("galsync@a.pl", "gal-id"),
        ("spam.x@a.pl", "s"),
        ("u2@A.PL", "2"),
        ("u1@b.pl", "3"),
        ("u1@nobody.pl", "4"),  # a domain with no service: counted, not kept
        ("u2@nobody.pl", "5"),
    ]:
        rows.add(name, id, 10, 100)
    assert [m.name for m in rows.of("a.pl")] == ["u1@a.pl", "u2@A.PL"]
    assert [m.id for m in rows.of("B.PL")] == ["3"]
    assert rows.of("empty.pl") is None and rows.of("nobody.pl") is None
    assert (rows.rows, rows.kept, rows.system_rows, rows.wanted_rows()) == (7, 3, 2, 3)
    everything = plan.DomainRows([], system, everything=True)
    rows.add("x@nobody.pl", "9", 1, 1)
    everything.add("x@nobody.pl", "9", 1, 1)
    everything.add("galsync@a.pl", "gal-id", 1, 1)
    assert [m.name for m in everything.everyone()] == ["x@nobody.pl"]


# --- against the simulators -----------------------------------------------------------------------


def _system(sim, domain: str) -> list[str]:
    names = sim.add_system_accounts(domain)
    sim.set_used(names[0], 40 * MB)
    return names


def test_whole_server_read_gives_each_domain_its_mailboxes_only(farm, whmcs_client, store):
    mail = farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (3 * MB, GB), (MB, 500 * MB))
    farm.domain("mail1", "b.pl", (2 * MB, GB))
    farm.domain("mail1", "nobody.pl", (50 * MB, GB), (60 * MB, GB))  # no service of the bridge
    system = _system(mail.sim, "a.pl") + _system(mail.sim, "nobody.pl")
    s_a, s_b = farm.service("mail1", "a.pl"), farm.service("mail1", "B.pl")

    report = farm.engine(whmcs_client, store=store).run()

    assert report.exit_code == 0
    written = {sid: (p["diskusage"], p["disklimit"]) for sid, p in farm.writes().items()}
    assert written == {s_a: ("4", "1524"), s_b: ("2", "1024")}
    assert sorted(m.name for m in store.latest(s_a).mailboxes) == ["user0@a.pl", "user1@a.pl"]
    assert [m.name for m in store.latest(s_b).mailboxes] == ["user0@b.pl"]
    assert not any(name in repr(store.latest(s_a)) for name in system)
    (usage,) = [r["attrs"] for r in mail.sim.requests if r["op"] == "GetQuotaUsage"]
    assert "domain" not in usage
    (server,) = report.servers
    total = len(mail.sim.accounts)  # 5 mailboxes and 8 system accounts
    assert (server.plan, server.usage_requests, server.rows) == ("server", 1, total)
    assert server.requests == 4  # Auth, system accounts, the count, the read
    learnt = store.server_stats()["mail1"]
    assert (learnt.accounts, learnt.bridge_rows, learnt.domains) == (total, 3, 2)


def test_a_domain_missing_from_the_whole_reply_is_read_on_its_own(farm, whmcs_client):
    farm.add_mail("mail1")
    farm.domain("mail1", "a.pl", (MB, GB))
    farm.domain("mail1", "empty.pl")  # exists, no mailbox yet
    s_a = farm.service("mail1", "a.pl")
    s_empty = farm.service("mail1", "empty.pl", disk_limit=5)
    s_gone = farm.service("mail1", "gone.pl", disk_usage=9)
    sim = farm.mail["mail1"].sim

    report = farm.engine(whmcs_client).run()

    r = {x.service_id: x for x in report.results}
    assert r[s_a].status == "updated" and r[s_a].used_bytes == MB
    assert r[s_empty].status == "updated" and (r[s_empty].used_bytes, r[s_empty].mailboxes) == (
        0,
        (),
    )
    assert r[s_gone].status == "failed" and "NO_SUCH_DOMAIN" in r[s_gone].error
    assert farm.whmcs.services[s_gone]["diskusage"] == "9"  # never zeros
    reads = [r["attrs"].get("domain") for r in sim.requests if r["op"] == "GetQuotaUsage"]
    assert reads[0] is None and sorted(reads[1:]) == ["empty.pl", "gone.pl"]
    assert report.servers[0].usage_requests == 3


def test_a_few_domains_on_a_crowded_server_are_read_per_domain(farm, whmcs_client, store):
    mail = farm.add_mail("mail1")
    for d in range(3):
        farm.domain("mail1", f"d{d}.pl", (MB, GB), (2 * MB, GB))
        farm.service("mail1", f"d{d}.pl")
    for d in range(5):  # 2,500 accounts of other customers
        populate(mail.sim, f"other{d}.pl", 500, seed=d)

    report = farm.engine(whmcs_client, store=store).run()

    assert report.totals["updated"] == 3
    reads = [r["attrs"] for r in mail.sim.requests if r["op"] == "GetQuotaUsage"]
    assert sorted(q["domain"] for q in reads) == ["d0.pl", "d1.pl", "d2.pl"]
    assert all(q["allServers"] in ("1", "true") for q in reads)
    (server,) = report.servers
    assert (server.plan, server.usage_requests, server.rows) == ("domain", 3, 6)
    assert "3 requests (rows not known yet, counted as none)" in server.why
    assert "2,506 accounts" in server.why

    mail.sim.requests.clear()
    again = farm.engine(whmcs_client, store=store).run()
    assert "3 requests (6 rows)" in again.servers[0].why  # learnt last run
    assert mail.sim.count("GetMailboxStats") == 0  # the store knew the count


def test_big_servers_are_read_in_pages(farm, whmcs_client, store):
    mail = farm.add_mail("mail1")
    for d in range(4):
        farm.domain("mail1", f"d{d}.pl", *[((b + 1) * MB, GB) for b in range(3)])
        farm.service("mail1", f"d{d}.pl")
    engine = farm.engine(whmcs_client, store=store, page_rows=4)

    report = engine.run()

    assert report.totals["updated"] == 4
    assert {p["diskusage"] for p in farm.writes().values()} == {"6"}
    reads = [r["attrs"] for r in mail.sim.requests if r["op"] == "GetQuotaUsage"]
    # 4 rows a page, 2 of them the previous page's last: 12 rows in 5 pages
    assert [q["offset"] for q in reads] == ["0", "2", "4", "6", "8"]
    (server,) = report.servers
    assert (server.plan, server.usage_requests, server.rows) == ("server", 5, 12)


def test_a_forced_plan_is_followed(farm, whmcs_client):
    from dataclasses import replace

    farm.add_mail("mail1")
    for d in range(3):
        farm.domain("mail1", f"d{d}.pl", (MB, GB))
        farm.service("mail1", f"d{d}.pl")
    mail = farm.mail["mail1"]
    engine = farm.engine(whmcs_client)
    engine.servers = (replace(mail.entry, read_plan="domain"),)

    report = engine.run()

    assert report.servers[0].plan == "domain" and "read_plan" in report.servers[0].why
    assert mail.sim.count("GetQuotaUsage") == 3 and mail.sim.count("GetMailboxStats") == 0


# --- the DoS filter, a whole sync -----------------------------------------------------------------


def _per_domain_farm(farm, servers: int, domains: int):
    for s in range(servers):
        farm.add_mail(f"mail{s}")
        for d in range(domains):
            farm.domain(f"mail{s}", f"d{d}.s{s}.pl", (s * MB + d + 1, GB), (MB, GB))
            farm.service(f"mail{s}", f"d{d}.s{s}.pl")


def _engine(farm, whmcs_client, rate, **kw) -> SyncEngine:
    from dataclasses import replace

    from puq_bridge.zimbra.client import ZimbraAdmin

    def factory(entry):
        return ZimbraAdmin.from_config(entry, max_requests_per_second=rate)

    entries = [replace(m.entry, read_plan="domain") for m in farm.mail.values()]
    return SyncEngine(whmcs_client, entries, factory, **kw)


def test_a_sync_that_meets_the_dos_filter_loses_no_row(farm, whmcs_client, store):
    """Unpaced, 4 readers per server overrun a filter of 8 a second: refused reads are sent again
    after Retry-After, and every service gets exactly its usage."""
    _per_domain_farm(farm, servers=3, domains=10)
    for m in farm.mail.values():
        m.sim.dos_filter(8, retry_after=1)

    report = _engine(farm, whmcs_client, None, store=store, per_server_concurrency=4).run()

    assert report.totals == {"updated": 30, "unchanged": 0, "failed": 0, "skipped": 0}
    assert sum(s.throttled for s in report.servers) >= 1
    assert sum(s.retries for s in report.servers) == sum(s.throttled for s in report.servers)
    refused = sum(len(m.sim.refused) for m in farm.mail.values())
    assert refused == sum(s.throttled for s in report.servers)
    written = farm.writes()
    for s in range(3):
        for d in range(10):
            sid = next(r.service_id for r in report.results if r.domain == f"d{d}.s{s}.pl")
            assert written[sid]["diskusage"] == str(s + 2)  # s MB + a few bytes + 1 MB


def test_at_its_rate_the_sync_never_meets_the_filter(farm, whmcs_client):
    _per_domain_farm(farm, servers=2, domains=8)
    for m in farm.mail.values():
        m.sim.dos_filter(8)
    report = _engine(farm, whmcs_client, 6, per_server_concurrency=4).run()
    assert report.totals["updated"] == 16
    assert [(s.throttled, s.retries) for s in report.servers] == [(0, 0), (0, 0)]
    assert not any(m.sim.refused for m in farm.mail.values())


def test_a_read_refused_for_good_fails_its_services_and_writes_nothing(farm, whmcs_client, store):
    _per_domain_farm(farm, servers=2, domains=2)
    sim = farm.mail["mail0"].sim
    sim.dos_filter(1000, retry_after=3600)  # a proxy asking for an hour
    sim.inject("throttle", on="GetQuotaUsage", times=100)

    report = _engine(farm, whmcs_client, None, store=store).run()

    failed = {r.domain: r for r in report.results if r.status == "failed"}
    assert set(failed) == {"d0.s0.pl", "d1.s0.pl"}
    assert all("Retry-After" in r.error or "asked to wait" in r.error for r in failed.values())
    assert {farm.whmcs.services[r.service_id]["diskusage"] for r in failed.values()} == {"0"}
    assert len(farm.writes()) == 2  # mail1's two services only
    assert report.exit_code == 1
