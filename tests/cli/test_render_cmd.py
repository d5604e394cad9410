"""``puq-bridge render`` against FakeWhmcs (and FakeZimbra for the live fallback) on loopback, with
a real store."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from puq_bridge.simulators.zimbra.app import FakeZimbra
from puq_bridge.units import GB, MB
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage

from .support import ZimbraTarget, one_error_line, write_bridge

SERVICE_PASSWORD = "Serwis-Hasl0-42"
ZIMBRA_PASSWORD = "zimbra-render-pass"


@pytest.fixture
def whmcs():
    """FakeWhmcs on loopback with one Polish client, one English client and a service each on server
    mail1."""
    sim = FakeWhmcs()
    server = sim.add_server("mail1", "mail1.example.com", "192.0.2.1")
    product = sim.add_product("Prywatny serwer mailowy Zimbra")
    pl_client = sim.add_client(
        "Jan", "Kowalski", "jan@firma.pl", language="polish", currency_code="PLN"
    )
    en_client = sim.add_client(
        "Ann", "Smith", "ann@example.com", language="english", currency_code="EUR"
    )
    sim.pl_service = sim.add_service(
        pl_client,
        product,
        "firma.pl",
        server_id=server,
        password=SERVICE_PASSWORD,
        next_due_date="2026-11-22",
        config_options={"Total space (GB)": "10"},
    )
    sim.en_service = sim.add_service(
        en_client,
        product,
        "example.com",
        server_id=server,
        billing_cycle="Annually",
        recurring_amount="490.00",
    )
    with BackgroundServer(sim.wsgi_app) as running:
        sim.url = running.url
        yield sim


@pytest.fixture
def zimbra():
    """FakeZimbra on loopback holding firma.pl with two mailboxes."""
    sim = FakeZimbra("admin@example.com", ZIMBRA_PASSWORD, host="mail1.example.com")
    sim.add_domain("firma.pl")
    sim.add_account("biuro@firma.pl", quota=2 * GB, used=int(1.5 * GB))
    sim.add_account("jan@firma.pl", quota=0, used=300 * MB)
    with BackgroundServer(sim.wsgi_app) as running:
        sim.url = running.url
        yield sim


def bridge_for(tmp_path, whmcs, zimbra=None):
    targets = (
        [ZimbraTarget("mail1", zimbra.url, "admin@example.com", ZIMBRA_PASSWORD, whmcs_server=1)]
        if zimbra
        else []
    )
    return write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=targets)


def store_usage(bridge, service_id, mailboxes, *, domain="firma.pl"):
    taken = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    result = ServiceResult(
        service_id,
        domain,
        "mail1",
        "updated",
        sum(m.used_bytes for m in mailboxes),
        10 * GB,
        tuple(mailboxes),
    )
    with UsageStore(bridge.store_path) as store:
        store.record_run(taken, taken, [result])


def row_names(html):
    return re.findall(r'<tr data-puq="mailbox-row"><td class="puq-name" data-value="([^"]*)"', html)


def test_renders_both_tabs_from_the_store(tmp_path, whmcs, zimbra):
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    store_usage(
        bridge,
        whmcs.pl_service,
        [MailboxUsage("a@firma.pl", GB, 2 * GB), MailboxUsage("b@firma.pl", 3 * GB, 4 * GB)],
    )
    result = bridge.run("render", "--service-id", str(whmcs.pl_service))
    assert result.exit_code == 0, result.stderr
    html = result.stdout
    assert "Informacja o serwerze" in html and "Wykorzystanie zasobów" in html
    assert row_names(html) == ["b@firma.pl", "a@firma.pl"]
    assert (
        "22.11.2026" in html
        and "49,00 zł" in html
        and "10,0 GB" in html
        and "4,0 GB (40,0%)" in html
    )
    assert "mail1.example.com" in html and 'data-puq="usage-chart"' in html
    assert (
        SERVICE_PASSWORD not in html and "whmcs-secret" not in html and ZIMBRA_PASSWORD not in html
    )
    assert zimbra.requests == []  # the store answered: no Zimbra round trip
    assert whmcs.count("GetClientsProducts") == 1 and whmcs.count("GetClientsDetails") == 1


def test_language_and_currency_follow_the_client(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    html = bridge.run("render", "--service-id", str(whmcs.en_service)).stdout
    assert "Server information" in html and "EUR 490.00" in html and ">Annually<" in html
    forced = bridge.run("render", "--service-id", str(whmcs.en_service), "--lang", "pl").stdout
    assert "Informacja o serwerze" in forced and "490,00 EUR" in forced


def test_single_tab_and_page(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    store_usage(bridge, whmcs.pl_service, [MailboxUsage("a@firma.pl", GB, 2 * GB)])
    tab = bridge.run(
        "render", "--service-id", str(whmcs.pl_service), "--tab", "resource-usage"
    ).stdout
    assert (
        'data-puq="usage-chart"' in tab
        and 'data-puq="mailbox-table"' not in tab
        and "nav-tabs" not in tab
    )
    page = bridge.run("render", "--service-id", str(whmcs.pl_service), "--page").stdout
    assert (
        page.startswith("<!DOCTYPE html>")
        and '<html lang="pl">' in page
        and 'data-toggle="tab"' in page
    )


def test_live_zimbra_read_when_the_store_has_nothing(tmp_path, whmcs, zimbra):
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    result = bridge.run("render", "--service-id", str(whmcs.pl_service), "--lang", "en")
    assert result.exit_code == 0, result.stderr
    assert row_names(result.stdout) == ["biuro@firma.pl", "jan@firma.pl"]
    assert "1.8 GB of 10.0 GB" in result.stdout  # 1.5 GB + 300 MB of the product's 10 GB
    assert "unlimited" in result.stdout
    assert zimbra.count("GetQuotaUsage") == 1
    assert not bridge.store_path.exists()  # rendering does not create the store


def test_a_live_read_leaves_zimbra_system_accounts_out(tmp_path, whmcs, zimbra):
    system = zimbra.add_system_accounts("firma.pl")
    zimbra.set_used(system[0], 700 * MB)
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    result = bridge.run("render", "--service-id", str(whmcs.pl_service), "--lang", "en")
    assert result.exit_code == 0, result.stderr
    assert row_names(result.stdout) == ["biuro@firma.pl", "jan@firma.pl"]
    assert "1.8 GB of 10.0 GB" in result.stdout
    assert not any(name in result.stdout for name in system)


def test_live_read_failure_renders_without_usage(tmp_path, whmcs, zimbra):
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    zimbra.inject("http500", on="GetQuotaUsage", times=5)
    result = bridge.run("render", "--service-id", str(whmcs.pl_service), "--lang", "en")
    assert result.exit_code == 0
    assert 'data-puq="no-data"' in result.stdout
    assert "live read failed" in result.stderr and ZIMBRA_PASSWORD not in result.stderr


def test_no_zimbra_entry_and_no_store(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    result = bridge.run("render", "--service-id", str(whmcs.pl_service))
    assert result.exit_code == 0
    assert "Brak danych o wykorzystaniu" in result.stdout
    assert "no [[zimbra]] entry" in result.stderr


def test_unknown_service_is_one_error_line(tmp_path, whmcs):
    result = bridge_for(tmp_path, whmcs).run("render", "--service-id", "999")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: WHMCS GetClientsProducts: Service ID Not Found: 999"


def test_page_with_tab_is_a_usage_error(tmp_path, whmcs):
    result = bridge_for(tmp_path, whmcs).run(
        "render", "--service-id", "1", "--page", "--tab", "server-info"
    )
    assert result.exit_code == 2 and "--page shows both tabs" in result.stderr
    assert whmcs.requests == []


def test_render_section_of_the_config_is_used(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    (overrides / "server_info.html").write_text(
        '<p data-puq="ours">{{ facts.domain }}</p>', encoding="utf-8"
    )
    with bridge.path.open("a", encoding="utf-8") as config:
        config.write(f'\n[render]\ntemplates_dir = "{overrides}"\nstale_after_hours = 0.5\n')
    store_usage(
        bridge, whmcs.pl_service, [MailboxUsage("a@firma.pl", GB, 2 * GB)]
    )  # stored an hour ago
    html = bridge.run("render", "--service-id", str(whmcs.pl_service), "--lang", "en").stdout
    assert '<p data-puq="ours">firma.pl</p>' in html
    assert 'data-puq="notice-stale"' in html and "older than 0.5 hours" in html


def test_a_default_lang_without_translations_is_one_line_and_exit_2(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    with bridge.path.open("a", encoding="utf-8") as config:
        config.write('\n[render]\ndefault_lang = "de"\n')
    result = bridge.run("render", "--service-id", str(whmcs.en_service))
    assert result.exit_code == 2
    assert one_error_line(result).startswith(
        f"error: {bridge.path}: render.default_lang: no translations for 'de'"
    )
    assert whmcs.requests == []


def test_the_product_setting_kept_by_the_adapter_is_the_total_space(tmp_path, whmcs, zimbra):
    """GetClientsProducts has no module settings: the store holds what the adapter last received."""
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    row = whmcs.services[whmcs.pl_service]
    sid = whmcs.add_service(
        int(row["clientid"]), int(row["pid"]), "firma.pl", server_id=int(row["serverid"])
    )
    with UsageStore(bridge.store_path) as store:
        store.remember_total_space(sid, 50 * GB)
    live = bridge.run("render", "--service-id", str(sid), "--lang", "en")
    assert live.exit_code == 0, live.stderr
    assert 'data-puq="total-space">50.0 GB<' in live.stdout and "1.8 GB of 50.0 GB" in live.stdout
    store_usage(bridge, sid, [MailboxUsage("a@firma.pl", GB, 2 * GB)])
    stored = bridge.run("render", "--service-id", str(sid), "--lang", "en").stdout
    assert 'data-puq="total-space">50.0 GB<' in stored and "1.0 GB of 50.0 GB" in stored


# --- a private Zimbra server (product tenancy `server`): the adapter, the sync and render agree ---


@pytest.fixture
def hosting():
    """FakeWhmcs with servers mail1 (a client's private server, 3 domains) and mail2 (shared: 2
    domain services), each a FakeZimbra, all on loopback."""
    whmcs = FakeWhmcs()
    servers = {}
    for number, name in enumerate(("mail1", "mail2"), start=1):
        sim = FakeZimbra("admin@example.com", ZIMBRA_PASSWORD, host=f"{name}.example.com")
        running = BackgroundServer(sim.wsgi_app).start()
        sim.url, sim.server_id = (
            running.url,
            whmcs.add_server(name, f"{name}.example.com", f"192.0.2.{number}"),
        )
        servers[name] = (sim, running)
    mail1, mail2 = servers["mail1"][0], servers["mail2"][0]
    for domain, boxes in (
        ("sklep.pl", [("a", 100 * MB, GB), ("b", 200 * MB, GB)]),
        ("blog.pl", [("c", 50 * MB, GB)]),
    ):
        mail1.add_domain(domain)
        for local, used, quota in boxes:
            mail1.add_account(f"{local}@{domain}", quota=quota, used=used)
    for domain in ("one.pl", "two.pl"):
        mail2.add_domain(domain)
        mail2.add_account(f"info@{domain}", quota=GB, used=10 * MB)
    product = whmcs.add_product("Prywatny serwer mailowy Zimbra")
    client = whmcs.add_client("Jan", "Kowalski", "jan@firma.pl", language="english")
    whmcs.private = whmcs.add_service(
        client,
        product,
        "firma.pl",
        server_id=mail1.server_id,
        username="biuro",
        password=SERVICE_PASSWORD,
    )
    whmcs.shared = [
        whmcs.add_service(client, product, d, server_id=mail2.server_id)
        for d in ("one.pl", "two.pl")
    ]
    with BackgroundServer(whmcs.wsgi_app) as running:
        whmcs.url = running.url
        yield whmcs, mail1, mail2
    for _, running in servers.values():
        running.stop()


def create_params(service_id, server_id, **extra):
    """What WHMCS's forwarder sends for CreateAccount / ClientArea of the private-server product
    (setting 6)."""
    return {
        "serviceid": service_id,
        "serverid": server_id,
        "domain": "firma.pl",
        "username": "biuro",
        "password": SERVICE_PASSWORD,
        "serverhostname": "mail1.example.com",
        "configoption1": "512",
        "configoption2": "0",
        "configoption3": "",
        "configoption5": "locked",
        "configoption6": "server",
        "service": {
            "regdate": "2026-01-15",
            "nextduedate": "2026-12-15",
            "billingcycle": "Monthly",
            "amount": "49.00",
            "paymentmethod": "banktransfer",
            "status": "Active",
        },
        "clientsdetails": {"language": "english", "currency_code": "PLN"},
        **extra,
    }


def test_a_private_server_is_the_whole_server_in_whmcs_the_client_area_and_render(
    tmp_path, hosting
):
    from puq_bridge.whmcs.client import WhmcsClient
    from tests.support.adapter import make_config
    from whmcs_module.adapter import dispatch
    from whmcs_module.context import AdapterContext

    whmcs, mail1, mail2 = hosting
    bridge = write_bridge(
        tmp_path,
        whmcs.url,
        "whmcs-secret",
        zimbras=[
            ZimbraTarget(
                name, sim.url, "admin@example.com", ZIMBRA_PASSWORD, whmcs_server=sim.server_id
            )
            for name, sim in (("mail1", mail1), ("mail2", mail2))
        ],
    )
    entries = [
        {
            "name": name,
            "whmcs_server": sim.server_id,
            "url": sim.url,
            "admin_user": "admin@example.com",
            "password": ZIMBRA_PASSWORD,
            "timeout": 2,
        }
        for name, sim in (("mail1", mail1), ("mail2", mail2))
    ]
    api = WhmcsClient(whmcs.url, "whmcs-id", "whmcs-secret", timeout=2)
    with UsageStore(bridge.store_path) as store:
        ctx = AdapterContext(make_config(entries), store=store, whmcs=api)
        try:
            assert (
                dispatch("CreateAccount", create_params(whmcs.private, mail1.server_id), ctx)
                == "success"
            )
            mail1.set_used("biuro@firma.pl", 40 * MB)  # the third domain, made by CreateAccount

            synced = bridge.run("sync-usage", "--json")
            assert synced.exit_code == 0, synced.stderr
            reads = {
                name: [r["attrs"].get("domain") for r in sim.requests if r["op"] == "GetQuotaUsage"]
                for name, sim in (("mail1", mail1), ("mail2", mail2))
            }
            assert reads["mail1"] == [None]  # one whole-server read for the private one
            # mail2 holds only the two shared domains: one whole-server read is cheaper than two
            assert reads["mail2"] == [None]
            row = whmcs.services[whmcs.private]
            used_mb = 100 + 200 + 50 + 40
            assert (row["diskusage"], row["disklimit"]) == (str(used_mb), str(3 * 1024 + 512))
            assert [
                (whmcs.services[s]["diskusage"], whmcs.services[s]["disklimit"])
                for s in whmcs.shared
            ] == [("10", "1024"), ("10", "1024")]  # domain tenancy: as before

            everyone = ["a@sklep.pl", "b@sklep.pl", "biuro@firma.pl", "c@blog.pl"]
            before = mail1.count("GetQuotaUsage")
            page = dispatch("ClientArea", create_params(whmcs.private, mail1.server_id), ctx)
            assert sorted(row_names(page["vars"]["puqbridge_html"])) == everyone
            assert (
                mail1.count("GetQuotaUsage") == before
            )  # served from the store: the sync's reading
        finally:
            ctx.close()
            api.session.close()

    rendered = bridge.run("render", "--service-id", str(whmcs.private), "--lang", "en")
    assert rendered.exit_code == 0, rendered.stderr
    assert sorted(row_names(rendered.stdout)) == everyone
    assert f"{used_mb / 1024:.1f} GB of 3.5 GB" in rendered.stdout
    assert mail1.count("GetQuotaUsage") == before  # render read the store too


def test_render_reads_the_whole_server_live_when_the_store_has_only_a_domain_reading(
    tmp_path, hosting
):
    """A reading stored before the adapter told the bridge the product is a private server covers
    one domain."""
    whmcs, mail1, _ = hosting
    bridge = write_bridge(
        tmp_path,
        whmcs.url,
        "whmcs-secret",
        zimbras=[
            ZimbraTarget(
                "mail1",
                mail1.url,
                "admin@example.com",
                ZIMBRA_PASSWORD,
                whmcs_server=mail1.server_id,
            )
        ],
    )
    store_usage(bridge, whmcs.private, [MailboxUsage("old@firma.pl", GB, 2 * GB)])
    assert row_names(bridge.run("render", "--service-id", str(whmcs.private)).stdout) == [
        "old@firma.pl"
    ]
    assert mail1.requests == []  # tenancy unknown: domain, as before
    with UsageStore(bridge.store_path) as store:
        store.remember_settings(whmcs.private, None, "server")
    live = bridge.run("render", "--service-id", str(whmcs.private))
    assert live.exit_code == 0, live.stderr
    assert sorted(row_names(live.stdout)) == ["a@sklep.pl", "b@sklep.pl", "c@blog.pl"]
    assert [r["attrs"].get("domain") for r in mail1.requests if r["op"] == "GetQuotaUsage"] == [
        None
    ]
