"""The demo run (``run_demo``): the whole flow against the simulators, checked from what it leaves
behind.

One demo run (kept serving) is shared by the module; it is inspected through the simulators' state,
the store, the written pages and the running servers. The command itself is in
tests/cli/test_demo_cmd.py.
"""

import datetime as dt
import re

import pytest
import requests

from puq_bridge.demo.pages import page_name
from puq_bridge.demo.run import LANGS, SYNC_DAYS, run_demo
from puq_bridge.units import bytes_to_mb

NOW = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "pages"
    lines = []
    report, env = run_demo(out, serve=True, now=NOW, echo=lines.append)
    yield report, env, lines
    env.stop()


def _service(env, key):
    return next(sid for sid, s in env.by_service_id.items() if s.key == key)


def _secrets(env):
    values = [env.adapter_secret, env.config.whmcs.secret, *(z.password for z in env.config.zimbra)]
    return values + [s.password for s in env.sample.services]


def test_report_lists_the_steps_counts_and_requests(demo):
    report, env, lines = demo
    assert lines == report.steps and len(lines) >= 6
    assert report.counts["mailboxes"] == env.sample.mailbox_count >= 200
    assert report.counts["sync_runs"] == len(SYNC_DAYS)
    assert set(report.requests) == {"whmcs", "zimbra mail1", "zimbra mail2", "adapter"}
    assert all(n > 0 for n in report.requests.values())
    assert isinstance(report.duration_s, float) and report.duration_s > 0  # (timed in bench/)


def test_services_are_provisioned_through_the_signed_adapter(demo):
    report, env, _ = demo
    services = len(env.sample.services)
    assert report.adapter_calls == {
        "CreateAccount": services + 1,  # and a leaving client's domain, then terminated
        "TerminateAccount": 1,
        "SuspendAccount": 1,
        "ClientArea": services,
    }
    zimbra = env.zimbra_sims[env.sample.services[0].server.key]
    assert "byly-klient.pl" not in zimbra.domains
    assert zimbra.count("DeleteDistributionList") == 2  # the list and the dynamic group
    assert sorted(a for a, _ in env.whmcs_sim.module_calls) == ["ModuleCreate"] * services + [
        "ModuleSuspend"
    ]
    for s in env.sample.services:
        zimbra = env.zimbra_sims[s.server.key]
        assert s.domain in zimbra.domains
        assert s.primary in zimbra.accounts
    leaving = env.sample.services[0].server.key  # the leaving client's domain lived there too
    for server in env.sample.servers:
        zimbra, hosted = env.zimbra_sims[server.key], len(env.sample.services_on(server))
        hosted += server.key == leaving
        assert zimbra.count("CreateDomain") == zimbra.count("CreateAccount") == hosted


def test_module_params_pass_the_forwarders_whitelist(demo):
    from puq_bridge.whmcs.params import CLIENT_KEYS, PARAM_KEYS, SERVICE_FIELDS

    _, env, _ = demo
    params = env.module_params(_service(env, "nowak"))
    apart = {"clientsdetails", "service", "configoptions", "customfields"}
    assert set(params) - apart <= set(PARAM_KEYS) | {f"configoption{i}" for i in range(1, 25)}
    assert set(params["clientsdetails"]) <= set(CLIENT_KEYS) and set(params["service"]) <= set(
        SERVICE_FIELDS
    )
    assert params["configoption6"] == "domain" and params["clientsdetails"]["language"] == "polish"


def test_the_suspended_service_is_locked_in_zimbra_and_suspended_in_whmcs(demo):
    _, env, _ = demo
    sid = _service(env, "brightwave-old")
    domain = env.zimbra_sims["mail2"].domains["brightwave-archive.com"]
    assert domain["attrs"]["zimbraDomainStatus"] == "locked"
    assert env.whmcs_sim.services[sid]["status"] == "Suspended"
    assert env.whmcs_sim.services[_service(env, "nowak")]["status"] == "Active"


def test_every_sample_mailbox_exists_with_todays_usage(demo):
    _, env, _ = demo
    for s in env.sample.services:
        accounts = env.zimbra_sims[s.server.key].accounts
        assert all(accounts[m.name]["used"] == m.used_bytes for m in s.mailboxes)


def test_whmcs_holds_todays_usage_and_the_store_a_month_of_history(demo):
    _, env, _ = demo
    for sid, s in env.by_service_id.items():
        used = sum(m.used_bytes for m in s.mailboxes)
        row = env.whmcs_sim.services[sid]
        assert int(row["diskusage"]) == bytes_to_mb(used)
        assert int(row["disklimit"]) == int(s.product.total_space_gb * 1024)
        history = env.store.history(sid, now=NOW)
        assert len(history) == len(SYNC_DAYS)
        assert (
            history[0].day == (NOW - dt.timedelta(days=SYNC_DAYS[0])).date()
            and history[-1].day == NOW.date()
        )
        assert [p.used_bytes for p in history] == sorted(p.used_bytes for p in history)
        assert history[-1].used_bytes == used


def test_pages_for_every_service_and_language_with_every_mailbox(demo):
    report, env, _ = demo
    assert len(report.pages) == len(env.sample.services) * len(LANGS)
    index = report.index.read_text(encoding="utf-8")
    for sid, s in env.by_service_id.items():
        for lang in LANGS:
            page = (report.out_dir / page_name(sid, lang)).read_text(encoding="utf-8")
            assert f'href="{page_name(sid, lang)}"' in index
            assert f'lang="{lang}"' in page[:300]
            assert page.count('data-puq="mailbox-row"') == len(s.mailboxes)
            assert s.domain in page and 'data-puq="usage-chart"' in page
    polish = (report.out_dir / page_name(_service(env, "nowak"), "pl")).read_text(encoding="utf-8")
    assert "Wykorzystanie zasobów" in polish and "bez limitu" in polish


def test_zimbras_own_accounts_are_in_zimbra_and_in_no_page(demo):
    report, env, _ = demo
    with_system = [s for s in env.sample.services if s.system_accounts]
    assert {s.key for s in with_system} == {"nowak", "harbour"}
    for sid, s in env.by_service_id.items():
        accounts = env.zimbra_sims[s.server.key].accounts
        assert all(a.name in accounts and accounts[a.name]["used"] for a in s.system_accounts)
        for lang in LANGS:
            page = (report.out_dir / page_name(sid, lang)).read_text(encoding="utf-8")
            assert not any(a.name in page for a in s.system_accounts)
            assert not re.search(r"(galsync|spam|ham|virus-quarantine)[.@]", page)


def test_no_secret_and_no_outside_reference_in_any_page(demo):
    report, env, lines = demo
    pages = [*report.pages, *report.addon_pages, report.index]
    texts = [p.read_text(encoding="utf-8") for p in pages] + [
        "\n".join(lines)
    ]
    for secret in _secrets(env):
        assert all(secret not in text for text in texts)
    loaders = re.compile(
        r"""(?:src|srcset|poster)\s*=\s*["']?\s*(?:https?:)?//|<link[^>]+href=["']?(?:https?:)?//"""
        r"""|url\(\s*["']?(?:https?:)?//|@import""",
        re.I,
    )
    for page in texts:
        assert not loaders.search(page)


def test_serve_keeps_the_pages_the_adapter_and_the_simulators_running(demo):
    report, env, _ = demo
    urls = report.urls
    assert set(urls) == {"whmcs", "mail1", "mail2", "adapter", "pages"}
    assert all(u.startswith("http://127.0.0.1:") for u in urls.values())
    page = requests.get(f"{urls['pages']}/index.html", timeout=5)
    assert page.status_code == 200 and "puq-bridge demo" in page.text
    assert requests.get(f"{urls['pages']}/../../etc/passwd", timeout=5).status_code == 404
    unsigned = requests.post(
        f"{urls['adapter']}/whmcs/CreateAccount", json={"params": {}}, timeout=5
    )
    assert unsigned.status_code == 401
    sid = _service(env, "piekarnia")
    assert env.forwarder.call("ClientArea", env.module_params(sid))["vars"]


def test_no_secret_in_the_logs_even_at_debug(tmp_path, caplog):
    caplog.set_level("DEBUG")
    _, env = run_demo(tmp_path / "out", serve=True, now=NOW)
    try:
        leaked = [secret[:4] + "…" for secret in _secrets(env) if secret in caplog.text]
    finally:
        env.stop()
    assert caplog.text.count("\n") > 100 and leaked == []


def test_the_adapters_first_client_area_shows_payment_method_display_names():
    """Pages look the gateways' names up in the background and never wait for them; the demo has
    them before its first page, so even that one says "Credit Card", not "stripe"."""
    from puq_bridge.demo.run import DemoEnvironment
    from puq_bridge.demo.sample import build_sample

    with DemoEnvironment(build_sample(today=NOW.date())) as env:
        asked = env.whmcs_sim.count("GetPaymentMethods")
        for sid, s in env.by_service_id.items():
            page = env.client_area(sid)
            cell = re.search(r"(?:Payment method|Metoda płatności)</th><td>([^<]*)</td>", page)
            assert cell and cell.group(1) == s.payment_method_name != s.payment_method
        assert asked == env.whmcs_sim.count("GetPaymentMethods") == 1


def test_the_addon_page_in_both_languages_shows_the_tested_servers(demo):
    report, env, _ = demo
    assert [p.name for p in report.addon_pages] == ["addon.html", "addon-pl.html"]
    english, polish = (p.read_text(encoding="utf-8") for p in report.addon_pages)
    assert 'lang="en"' in english and "Sync runs" in english
    assert 'lang="pl"' in polish and "Synchronizacje" in polish
    for server in env.sample.servers:  # Test now ran on each: its version is shown
        row = english.split(f'data-puq-server="{server.key}"', 1)[1].split("</tr>", 1)[0]
        assert "Zimbra 10.0.8_GA" in row and 'data-puq-server-state="ok"' in row
    assert 'data-puq-orphan="stary-klient.pl"' in english
    assert 'data-puq-busy="1"' not in english
