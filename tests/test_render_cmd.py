"""``puq-bridge render`` against FakeWhmcs (and FakeZimbra for the live fallback) on loopback, with a real store."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs import FakeWhmcs
from puq_bridge.simulators.zimbra import FakeZimbra
from puq_bridge.store import ServiceResult, UsageStore
from puq_bridge.usage import GB, MB, MailboxUsage

from .cli_support import ZimbraTarget, one_error_line, write_bridge

SERVICE_PASSWORD = "Serwis-Hasl0-42"
ZIMBRA_PASSWORD = "zimbra-render-pass"


@pytest.fixture
def whmcs():
    """FakeWhmcs on loopback with one Polish client, one English client and a service each on server mail1."""
    sim = FakeWhmcs()
    server = sim.add_server("mail1", "mail1.example.com", "192.0.2.1")
    product = sim.add_product("Prywatny serwer mailowy Zimbra")
    pl_client = sim.add_client("Jan", "Kowalski", "jan@firma.pl", language="polish", currency_code="PLN")
    en_client = sim.add_client("Ann", "Smith", "ann@example.com", language="english", currency_code="EUR")
    sim.pl_service = sim.add_service(pl_client, product, "firma.pl", server_id=server, password=SERVICE_PASSWORD,
                                     next_due_date="2026-11-22", config_options={"Total space (GB)": "10"})
    sim.en_service = sim.add_service(en_client, product, "example.com", server_id=server, billing_cycle="Annually",
                                     recurring_amount="490.00")
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
    targets = [ZimbraTarget("mail1", zimbra.url, "admin@example.com", ZIMBRA_PASSWORD, whmcs_server=1)] if zimbra else []
    return write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=targets)


def store_usage(bridge, service_id, mailboxes, *, domain="firma.pl"):
    taken = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    result = ServiceResult(service_id, domain, "mail1", "updated", sum(m.used_bytes for m in mailboxes), 10 * GB,
                           tuple(mailboxes))
    with UsageStore(bridge.store_path) as store:
        store.record_run(taken, taken, [result])


def row_names(html):
    return re.findall(r'<tr data-puq="mailbox-row"><td class="puq-name" data-value="([^"]*)"', html)


def test_renders_both_tabs_from_the_store(tmp_path, whmcs, zimbra):
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    store_usage(bridge, whmcs.pl_service, [MailboxUsage("a@firma.pl", GB, 2 * GB),
                                           MailboxUsage("b@firma.pl", 3 * GB, 4 * GB)])
    result = bridge.run("render", "--service-id", str(whmcs.pl_service))
    assert result.exit_code == 0, result.stderr
    html = result.stdout
    assert "Informacja o serwerze" in html and "Wykorzystanie zasobów" in html
    assert row_names(html) == ["b@firma.pl", "a@firma.pl"]
    assert "22.11.2026" in html and "49,00 zł" in html and "10,0 GB" in html and "4,0 GB (40,0%)" in html
    assert "mail1.example.com" in html and 'data-puq="usage-chart"' in html
    assert SERVICE_PASSWORD not in html and "whmcs-secret" not in html and ZIMBRA_PASSWORD not in html
    assert zimbra.requests == []                                  # the store answered: no Zimbra round trip
    assert whmcs.count("GetClientsProducts") == 1 and whmcs.count("GetClientsDetails") == 1


def test_language_and_currency_follow_the_client(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    html = bridge.run("render", "--service-id", str(whmcs.en_service)).stdout
    assert "Server information" in html and "EUR 490.00" in html and ">annually<" in html
    forced = bridge.run("render", "--service-id", str(whmcs.en_service), "--lang", "pl").stdout
    assert "Informacja o serwerze" in forced and "490,00 EUR" in forced


def test_single_tab_and_page(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    store_usage(bridge, whmcs.pl_service, [MailboxUsage("a@firma.pl", GB, 2 * GB)])
    tab = bridge.run("render", "--service-id", str(whmcs.pl_service), "--tab", "resource-usage").stdout
    assert 'data-puq="usage-chart"' in tab and 'data-puq="mailbox-table"' not in tab and "nav-tabs" not in tab
    page = bridge.run("render", "--service-id", str(whmcs.pl_service), "--page").stdout
    assert page.startswith("<!DOCTYPE html>") and '<html lang="pl">' in page and 'data-toggle="tab"' in page


def test_live_zimbra_read_when_the_store_has_nothing(tmp_path, whmcs, zimbra):
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    result = bridge.run("render", "--service-id", str(whmcs.pl_service), "--lang", "en")
    assert result.exit_code == 0, result.stderr
    assert row_names(result.stdout) == ["biuro@firma.pl", "jan@firma.pl"]
    assert "1.8 GB of 10.0 GB" in result.stdout                   # 1.5 GB + 300 MB of the product's 10 GB
    assert "unlimited" in result.stdout
    assert zimbra.count("GetQuotaUsage") == 1
    assert not bridge.store_path.exists()                         # rendering does not create the store


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
    result = bridge_for(tmp_path, whmcs).run("render", "--service-id", "1", "--page", "--tab", "server-info")
    assert result.exit_code == 2 and "--page shows both tabs" in result.stderr
    assert whmcs.requests == []


def test_render_section_of_the_config_is_used(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    overrides = tmp_path / "my-templates"
    overrides.mkdir()
    (overrides / "server_info.html").write_text('<p data-puq="ours">{{ facts.domain }}</p>', encoding="utf-8")
    with bridge.path.open("a", encoding="utf-8") as config:
        config.write(f'\n[render]\ntemplates_dir = "{overrides}"\nstale_after_hours = 0.5\n')
    store_usage(bridge, whmcs.pl_service, [MailboxUsage("a@firma.pl", GB, 2 * GB)])   # stored an hour ago
    html = bridge.run("render", "--service-id", str(whmcs.pl_service), "--lang", "en").stdout
    assert '<p data-puq="ours">firma.pl</p>' in html
    assert 'data-puq="notice-stale"' in html and "older than 0.5 hours" in html


def test_a_default_lang_without_translations_is_one_line_and_exit_2(tmp_path, whmcs):
    bridge = bridge_for(tmp_path, whmcs)
    with bridge.path.open("a", encoding="utf-8") as config:
        config.write('\n[render]\ndefault_lang = "de"\n')
    result = bridge.run("render", "--service-id", str(whmcs.en_service))
    assert result.exit_code == 2
    assert one_error_line(result).startswith(f"error: {bridge.path}: render.default_lang: no translations for 'de'")
    assert whmcs.requests == []


def test_the_product_setting_kept_by_the_adapter_is_the_total_space(tmp_path, whmcs, zimbra):
    """GetClientsProducts has no module settings: the store holds what the adapter last received."""
    bridge = bridge_for(tmp_path, whmcs, zimbra)
    row = whmcs.services[whmcs.pl_service]
    sid = whmcs.add_service(int(row["clientid"]), int(row["pid"]), "firma.pl", server_id=int(row["serverid"]))
    with UsageStore(bridge.store_path) as store:
        store.remember_total_space(sid, 50 * GB)
    live = bridge.run("render", "--service-id", str(sid), "--lang", "en")
    assert live.exit_code == 0, live.stderr
    assert 'data-puq="total-space">50.0 GB<' in live.stdout and "1.8 GB of 50.0 GB" in live.stdout
    store_usage(bridge, sid, [MailboxUsage("a@firma.pl", GB, 2 * GB)])
    stored = bridge.run("render", "--service-id", str(sid), "--lang", "en").stdout
    assert 'data-puq="total-space">50.0 GB<' in stored and "1.0 GB of 50.0 GB" in stored
