"""The addon page's data and markup from a real store: paging, the services Zimbra does not know and
the domains no service points to, the servers' states, the versions, escaping, both languages."""

import datetime as dt
from types import SimpleNamespace

import pytest

from puq_bridge.admin.jobs import AdminJobs
from puq_bridge.admin.query import AddonRequest, PageQuery
from puq_bridge.admin.render import AdminRenderer
from puq_bridge.admin.view import Pager, UsageOverview, build_view
from puq_bridge.config import ZimbraConfig
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MB = 1024 * 1024
HOSTILE = '<img src=x onerror="alert(1)">.pl'


def entry(name, server_id):
    return ZimbraConfig(
        name=name,
        whmcs_server=server_id,
        url=f"https://{name}.example.com:7071",
        admin_user=f"admin@{name}.example.com",
        password="zimbra-secret-pw",
    )


SERVERS = [entry("mail1", 1), entry("mail2", 2)]
ZIMBRA_DOMAINS = {
    "mail1": ["d1.pl", "d2.pl", "spare.pl", "mail1.example.com"],
    "mail2": ["other.pl"],
}


def ok(sid, used, limit, server="mail1", domain=None, tenancy="domain"):
    domain = domain or f"d{sid}.pl"
    box = (MailboxUsage(f"a@{domain}", used, limit, f"id{sid}"),)
    return ServiceResult(
        sid, domain, server, "updated", used, limit, box, tenancy=tenancy, client_id=100 + sid
    )


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as s:
        results = [ok(sid, sid * MB, 100 * MB) for sid in range(1, 26)]
        results += [
            ServiceResult(30, "gone.pl", "mail1", "failed", error="NO_SUCH_DOMAIN: gone.pl"),
            ServiceResult(31, "x.pl", "", "skipped", error="no [[zimbra]] entry for server 9"),
            ok(32, 2 * MB, 0, server="mail2", domain="private.pl", tenancy="server"),
            ok(33, 99 * MB, 100 * MB, domain=HOSTILE),
        ]
        s.record_run(NOW, NOW + dt.timedelta(seconds=3), results, origin="sync-usage")
        yield s


@pytest.fixture
def jobs():
    made = AdminJobs(
        sync=lambda server, progress: SimpleNamespace(totals={}, store_error=None),
        test=lambda server: "10.0.8_GA",
        domains=lambda server: ZIMBRA_DOMAINS[server],
    )
    for server in ZIMBRA_DOMAINS:
        made.domains(server)
    made.wait(5)
    return made


def view_of(store, jobs, query=PageQuery(), page_size=10, **request):
    req = AddonRequest(query=query, version=request.pop("version", "0.1.0"), **request)
    return build_view(
        req,
        store=store,
        servers=SERVERS,
        jobs=jobs,
        overview=UsageOverview.build(store),
        bridge_version="0.1.0",
        now=NOW,
        page_size=page_size,
    )


def test_tables_are_paged_and_a_page_out_of_range_is_the_last(store, jobs):
    view = view_of(store, jobs, PageQuery(near=99))
    usage = view.usage
    assert usage.nearest_pager == Pager(3, 26, 10, "near")  # 24 + 1 + 33; 32 has no limit
    assert [r.service_id for r in usage.nearest] == [6, 5, 4, 3, 2, 1]
    first = view_of(store, jobs).usage
    assert first.nearest[0].domain == HOSTILE and first.nearest[1].service_id == 25
    assert first.largest[0].service_id == 33


def test_services_zimbra_does_not_know_and_domains_no_service_uses(store, jobs):
    usage = view_of(store, jobs, page_size=100).usage
    missing = {m.sample.service_id: m.reason for m in usage.missing}
    # d3..d25 and the hostile domain are not in mail1's list either
    assert missing[30] == "no_such_domain" and missing[31] == "skipped"
    assert missing[3] == "not_on_server" and 1 not in missing and 2 not in missing
    assert 32 not in missing  # a private server's service covers the whole server
    orphans = {(o.server, o.domain) for o in usage.orphans}
    # spare.pl is on mail1 and no service uses it; the admin's own domain is left out;
    # mail2 is a client's private server: all its domains are that service's
    assert orphans == {("mail1", "spare.pl")}
    assert usage.private == ("mail2",)


def test_server_states_come_from_their_last_run(store, jobs):
    view = view_of(store, jobs)
    states = {s.name: s.state for s in view.servers}
    assert states == {"mail1": "partial", "mail2": "ok"}
    assert view.servers[0].host == "mail1.example.com:7071"
    assert view.servers[0].domains.value == frozenset(ZIMBRA_DOMAINS["mail1"])


def test_a_store_without_runs_and_no_store_at_all(tmp_path, jobs):
    with UsageStore(tmp_path / "empty.sqlite3") as empty:
        view = view_of(empty, jobs)
        assert view.runs.rows == () and view.runs.last_sync_usage is None
        assert [s.state for s in view.servers] == ["never", "never"]
        html = AdminRenderer().output(view)
        assert "No runs recorded yet." in html and "No readings yet." in html
    view = build_view(
        AddonRequest(),
        store=None,
        servers=SERVERS,
        jobs=jobs,
        overview=None,
        bridge_version="0.1.0",
        now=NOW,
    )
    assert view.runs is None and not view.has_store
    assert 'data-puq="no-store"' in AdminRenderer().output(view)


def test_the_versions_warning(store, jobs):
    assert not view_of(store, jobs).versions_differ
    assert view_of(store, jobs, version="0.0.9").versions_differ
    html = AdminRenderer().output(view_of(store, jobs, version=None))
    assert 'data-puq="version-warning"' in html and "an unknown version" in html


def test_the_markup_escapes_what_the_store_holds(store, jobs):
    html = AdminRenderer().output(view_of(store, jobs))
    assert HOSTILE not in html and "<img" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;.pl" in html
    assert "zimbra-secret-pw" not in html


def test_a_run_can_be_opened_to_list_all_its_problems(store, jobs):
    (run,) = store.runs()
    view = view_of(store, jobs, PageQuery(run=run.id))
    assert view.runs.expanded == run
    assert [p.service_id for p in view.runs.expanded_rows] == [30, 31]
    html = AdminRenderer().output(view)
    assert 'id="puq-run-detail"' in html and "no [[zimbra]] entry" in html


@pytest.mark.parametrize(
    "lang, heading, number", [("en", "Sync runs", "99.0%"), ("pl", "Synchronizacje", "99,0%")]
)
def test_both_languages(store, jobs, lang, heading, number):
    html = AdminRenderer().output(view_of(store, jobs, lang=lang))
    assert f'lang="{lang}"' in html and heading in html and number in html
    sidebar = AdminRenderer().sidebar(view_of(store, jobs, lang=lang))
    assert f'lang="{lang}"' in sidebar


def test_the_default_language_is_the_configured_one(store, jobs):
    html = AdminRenderer(default_lang="pl").output(view_of(store, jobs))
    assert 'lang="pl"' in html


def test_links_to_services_in_whmcs(store, jobs):
    html = AdminRenderer().output(view_of(store, jobs))
    assert 'href="clientsservices.php?userid=125&amp;id=25"' in html
    assert 'href="clientsservices.php?id=30"' in html  # a failed read knows no client


def test_the_demo_frame_wraps_output_and_sidebar(store, jobs):
    renderer = AdminRenderer()
    view = view_of(store, jobs)
    page = renderer.frame(renderer.output(view), renderer.sidebar(view), lang="en")
    assert page.startswith("<!DOCTYPE html>") and 'data-puq="addon"' in page
    assert 'data-puq="addon-sidebar"' in page and "<link" not in page


def test_client_actions_are_listed_and_filtered_by_service(store, jobs):
    import datetime as dt

    for s in (1, 2, 3):  # the sign-ons the store keeps (schema 5)
        when = dt.datetime(2026, 11, 10 + s, 3, 0, tzinfo=dt.timezone.utc)
        store.record_signon(s, f"jan@d{s}.pl", "MailboxSignOn", when=when)
    html = AdminRenderer().output(view_of(store, jobs))
    assert 'data-puq="actions-table"' in html and "jan@d3.pl" in html
    assert 'href="addonmodules.php?module=puqbridge&amp;puq_service=2#puq-actions"' in html
    only = view_of(store, jobs, PageQuery(service=2)).actions
    assert [a.actor for a in only.rows] == ["jan@d2.pl"] and only.pager.total == 1
