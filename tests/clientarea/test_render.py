"""The client-area tabs as HTML: escaping, languages, units, states, overrides, the chart and the
page."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from puq_bridge.clientarea.facts import ServiceFacts
from puq_bridge.clientarea.render import Renderer
from puq_bridge.errors import ConfigError
from puq_bridge.units import GB, MB
from puq_bridge.usage.records import DailyPoint, Snapshot
from puq_bridge.zimbra.models import MailboxUsage

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)
SERVICE_PASSWORD = "Sekret-Hasl0!"


def make_facts(**changes) -> ServiceFacts:
    facts = ServiceFacts(
        service_id=42,
        domain="example.pl",
        status="Active",
        registration_date=dt.date(2026, 1, 15),
        next_due_date=dt.date(2026, 11, 22),
        billing_cycle="Monthly",
        recurring_amount=Decimal("49.00"),
        currency_code="PLN",
        payment_method="Bank Transfer",
        hostname="mail1.example.com",
        main_ip="192.0.2.10",
        webmail_url="https://mail1.example.com/",
        admin_url="https://mail1.example.com:7071/zimbraAdmin/",
        total_space_bytes=10 * GB,
        language="polish",
    )
    return replace(facts, **changes)


def make_snapshot(mailboxes=(), *, age_hours: float = 2, **changes) -> Snapshot:
    mailboxes = tuple(mailboxes)
    snap = Snapshot(
        service_id=42,
        domain="example.pl",
        server="mail1",
        taken_at=NOW - dt.timedelta(hours=age_hours),
        used_bytes=sum(m.used_bytes for m in mailboxes),
        limit_bytes=10 * GB,
        mailboxes=mailboxes,
    )
    return replace(snap, **changes)


def history(days: int) -> list[DailyPoint]:
    first = NOW.date() - dt.timedelta(days=days - 1)
    return [
        DailyPoint(first + dt.timedelta(days=i), (i + 1) * 100 * MB, 10 * GB) for i in range(days)
    ]


MAILBOXES = (
    MailboxUsage("jan@example.pl", int(1.5 * GB), 2 * GB),
    MailboxUsage("anna@example.pl", 3 * GB, 4 * GB),
    MailboxUsage("biuro@example.pl", 200 * MB, 0),
)


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-puq="mailbox-row">(.*?)</tr>', page)


def names(page: str) -> list[str]:
    """The mailboxes' whole addresses, in table order (a name cell may show the local part only)."""
    return [
        html.unescape(re.search(r'<td[^>]*data-value="([^"]*)"', r).group(1)) for r in rows(page)
    ]


def shown_names(page: str) -> list[str]:
    """The name cells' text, as a reader sees it."""
    return [
        html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<td[^>]*>(.*?)</td>", r).group(1)))
        for r in rows(page)
    ]


# --- escaping and secrets -------------------------------------------------------------------------


def test_hostile_names_are_escaped(renderer):
    evil_box = "<script>alert(1)</script>@x.pl"
    evil_domain = 'x.pl"><img src=x onerror=alert(2)>'
    facts = make_facts(
        hostname="mail\"1'.example.com",
        domain=evil_domain,
        webmail_url='https://mail"1.example.com/"><b>',
    )
    snap = make_snapshot([MailboxUsage(evil_box, GB, 2 * GB)], domain=evil_domain)
    for out in (
        renderer.client_area(facts, snap, history(3), now=NOW),
        renderer.page(facts, snap, [], now=NOW),
    ):
        assert "<script>alert(1)" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
        assert "<img src=x" not in out
        assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in out
        shown = out.replace("<wbr>", "")  # the wrap points breakable() puts into host names
        assert 'mail"1' not in out and "mail&#34;1&#39;.example.com" in shown
        assert "<b>" not in out


def test_non_http_links_are_not_linked(renderer):
    facts = make_facts(webmail_url="javascript:alert(1)")
    out = renderer.tab("server-info", facts, None, now=NOW)
    assert 'href="javascript' not in out
    assert "javascript:alert(1)" in out.replace("<wbr>", "")  # shown as text, harmless


def test_every_template_is_autoescaped(renderer):
    names_ = [n for n in renderer.env.list_templates() if n.endswith((".html", ".j2"))]
    assert {
        "client_area.html",
        "page.html",
        "server_info.html",
        "resource_usage.html",
        "chart.html",
    } <= set(names_)
    assert all(renderer.env.autoescape(n) for n in names_ + ["page.css", "x.json"])


def test_service_password_never_in_output(renderer):
    facts = make_facts(payment_method="Bank Transfer")
    out = renderer.page(facts, make_snapshot(MAILBOXES), history(5), now=NOW)
    assert SERVICE_PASSWORD not in out
    assert "password" not in out.lower()


# --- languages and formats ------------------------------------------------------------------------


POLISH_LABELS = [
    "Informacja o serwerze",
    "Wykorzystanie zasobów",
    "Data rejestracji",
    "Kwota cykliczna",
    "Cykl rozliczeniowy",
    "Następny termin płatności",
    "Metoda płatności",
    "Nazwa hosta",
    "Główny adres IP",
    "Adres panelu klienta (WEBmail)",
    "Adres panelu administracyjnego",
    "Przestrzeń całkowita",
    "Wykorzystana przestrzeń",
    "Nazwa użytkownika",
    "Użyto w %",
    "Użyto w GB",
    "Limit w GB",
]


def test_polish_labels_and_formats(renderer):
    out = renderer.client_area(
        make_facts(language="polish"), make_snapshot(MAILBOXES), history(3), now=NOW
    )
    for label in POLISH_LABELS:
        assert html.escape(label) in out, label
    assert "1,5" in out and "4,7 GB" in out  # used 1.5 + 3 + 0.195 GB
    assert "22.11.2026" in out and "15.01.2026" in out
    assert "49,00 zł" in out
    assert ">Miesięcznie<" in out
    assert 'lang="pl"' in out


def test_english_formats(renderer):
    out = renderer.client_area(
        make_facts(language="english"), make_snapshot(MAILBOXES), history(3), now=NOW
    )
    assert "Server information" in out and "Registration date" in out and "Main IP address" in out
    assert "4.7 GB" in out and "22 Nov 2026" in out and "PLN 49.00" in out and ">Monthly<" in out
    assert "Last updated" in out and "22 Nov 2026, 10:00 UTC" in out


#: WHMCS's billing cycles and its own words for them (lang keys ``orderpaymentterm*``), English
#: and Polish.
CYCLES = [
    ("Monthly", "Monthly", "Miesięcznie"),
    ("Quarterly", "Quarterly", "Kwartalnie"),
    ("Semi-Annually", "Semi-Annually", "Półrocznie"),
    ("Annually", "Annually", "Rocznie"),
    ("Biennially", "Biennially", "Co dwa lata"),
    ("Triennially", "Triennially", "Co trzy lata"),
    ("Free Account", "Free Account", "Darmowe konto"),
    ("One Time", "One Time", "Jednorazowo"),
]


@pytest.mark.parametrize("cycle, english, polish", CYCLES)
def test_billing_cycle_in_whmcs_words(renderer, cycle, english, polish):
    for lang, word in (("en", english), ("pl", polish)):
        out = renderer.tab("server-info", make_facts(billing_cycle=cycle), None, lang=lang, now=NOW)
        assert f"<td>{html.escape(word)}</td>" in out, (lang, cycle)


def test_an_unknown_billing_cycle_is_shown_as_whmcs_sent_it(renderer):
    out = renderer.tab("server-info", make_facts(billing_cycle="Weekly"), None, now=NOW)
    assert "<td>Weekly</td>" in out


@pytest.mark.parametrize("lang, heading", [("en", "Mailboxes (3)"), ("pl", "Użytkownicy (3)")])
def test_mailbox_heading_says_the_count_once(renderer, lang, heading):
    out = renderer.tab("server-info", make_facts(), make_snapshot(MAILBOXES), lang=lang, now=NOW)
    found = re.search(r'<h4[^>]*data-puq="mailboxes-heading"[^>]*>(.*?)</h4>', out, re.S)
    assert found and re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() == heading
    word = heading.split()[0]
    assert out.count(word) == 1, f"{word!r} repeated"


@pytest.mark.parametrize(
    "whmcs_language, expected",
    [
        ("polish", "pl"),
        ("Polish", "pl"),
        ("english", "en"),
        ("german", "en"),
        ("klingon", "en"),
        (None, "en"),
    ],
)
def test_language_for(renderer, whmcs_language, expected):
    assert renderer.language_for(whmcs_language) == expected


def test_unknown_whmcs_language_renders_english(renderer):
    out = renderer.client_area(make_facts(language="norwegian"), None, [], now=NOW)
    assert "Server information" in out and "Informacja o serwerze" not in out


def test_explicit_lang_wins_over_client_language(renderer):
    out = renderer.tab("server-info", make_facts(language="polish"), None, lang="en", now=NOW)
    assert "Registration date" in out


def test_unknown_lang_and_tab_are_clear_errors(renderer):
    with pytest.raises(ValueError, match="no translations for language 'de'"):
        renderer.client_area(make_facts(), None, [], lang="de", now=NOW)
    with pytest.raises(ValueError, match="unknown tab 'billing'"):
        renderer.tab("billing", make_facts(), None, now=NOW)


def test_missing_polish_key_falls_back_to_english(tmp_path):
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "pl.json").write_text(
        '{"tab.server_info": "Serwer", "_format": {"decimal": ","}}', encoding="utf-8"
    )
    out = Renderer(tmp_path).client_area(make_facts(), make_snapshot(MAILBOXES), [], now=NOW)
    assert ">Serwer<" in out  # from the override
    assert "Resource usage" in out  # missing in pl: English
    assert "4,7 GB" in out  # pl's own rule kept


def test_shipped_catalogs_have_the_same_keys(renderer):
    en, pl = renderer.catalog("en"), renderer.catalog("pl")
    assert en.messages.keys() == pl.messages.keys()
    import json
    from importlib.resources import files

    raw_en = json.loads(
        files("puq_bridge.templates").joinpath("i18n/en.json").read_text(encoding="utf-8")
    )
    raw_pl = json.loads(
        files("puq_bridge.templates").joinpath("i18n/pl.json").read_text(encoding="utf-8")
    )
    assert raw_en.keys() == raw_pl.keys()


def test_broken_catalog_override_is_a_config_error(tmp_path):
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "pl.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pl\.json.*not valid JSON"):
        Renderer(tmp_path).client_area(make_facts(), None, [], now=NOW)


# --- units and states -----------------------------------------------------------------------------


def test_unlimited_mailbox_and_unlimited_total(renderer):
    boxes = [MailboxUsage("a@example.pl", 5 * GB, 0)]
    out = renderer.client_area(
        make_facts(total_space_bytes=None, language="english"),
        make_snapshot(boxes, limit_bytes=0),
        history(2),
        now=NOW,
    )
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows(out)[0])
    assert cells[1:] == ["\u2014", "5.0", "unlimited"]
    assert 'data-puq="total-space">unlimited<' in out
    assert "5.0 GB (no limit)" in out


def test_empty_domain_renders(renderer):
    out = renderer.client_area(make_facts(language="english"), make_snapshot([]), [], now=NOW)
    assert rows(out) == []
    assert 'data-puq="no-mailboxes"' in out and "no mailboxes" in out


def test_no_usage_data_yet(renderer):
    out = renderer.client_area(make_facts(language="english"), None, [], now=NOW)
    assert out.count('data-puq="no-data"') == 2  # both tabs say so
    assert 'data-puq="used-space">\u2014<' in out
    assert (
        'data-puq="total-space">10.0 GB<' in out
    )  # the product's total space is known without usage
    assert 'data-puq="usage-chart"' in out and 'data-puq="chart-empty"' in out


def test_thousand_mailboxes_sorted_by_usage(renderer):
    boxes = [
        MailboxUsage(f"user{i:04d}@example.pl", (i * 7919) % 1000 * MB, 2 * GB) for i in range(1000)
    ]
    out = renderer.client_area(make_facts(), make_snapshot(boxes), history(90), now=NOW)
    shown = names(out)
    assert len(shown) == 1000
    used = {m.name: m.used_bytes for m in boxes}
    assert [used[n] for n in shown] == sorted(used.values(), reverse=True)
    assert out.count('data-puq="mailbox-bar"') == 10
    assert "10 najbardziej wykorzystanych z 1000 skrzynek" in out


def test_ties_are_ordered_by_name(renderer):
    boxes = [
        MailboxUsage("b@x.pl", MB, GB),
        MailboxUsage("a@x.pl", MB, GB),
        MailboxUsage("c@x.pl", 2 * MB, GB),
    ]
    assert names(renderer.tab("server-info", make_facts(), make_snapshot(boxes), now=NOW)) == [
        "c@x.pl",
        "a@x.pl",
        "b@x.pl",
    ]


@pytest.mark.parametrize("age_hours, stale", [(25.9, False), (26.1, True)])
def test_stale_notice_after_configured_age(renderer, age_hours, stale):
    out = renderer.tab(
        "resource-usage", make_facts(), make_snapshot(MAILBOXES, age_hours=age_hours), now=NOW
    )
    assert ('data-puq="notice-stale"' in out) is stale


def test_stale_after_hours_is_configurable():
    snap = make_snapshot(MAILBOXES, age_hours=3)
    assert "notice-stale" not in Renderer().tab("resource-usage", make_facts(), snap, now=NOW)
    out = Renderer(stale_after_hours=2).tab(
        "resource-usage", make_facts(language="english"), snap, now=NOW
    )
    assert "older than 2 hours" in out


def test_unreachable_notice_keeps_last_data(renderer):
    snap = make_snapshot(
        MAILBOXES,
        error="Zimbra mail1 GetQuotaUsage: connection refused",
        failed_at=NOW - dt.timedelta(minutes=30),
    )
    out = renderer.client_area(make_facts(language="english"), snap, history(5), now=NOW)
    assert 'data-puq="notice-unreachable"' in out
    assert "could not be reached on 22 Nov 2026, 11:30 UTC" in out
    assert len(rows(out)) == 3  # last known data still shown
    assert "connection refused" not in out  # the internal error is not shown to the client
    assert "notice-unreachable" not in renderer.client_area(
        make_facts(), make_snapshot(MAILBOXES), [], now=NOW
    )


def test_percent_and_bar_levels(renderer):
    boxes = [
        MailboxUsage("full@x.pl", 95 * MB, 100 * MB),
        MailboxUsage("half@x.pl", 50 * MB, 100 * MB),
        MailboxUsage("over@x.pl", 150 * MB, 100 * MB),
    ]
    out = renderer.tab(
        "resource-usage", make_facts(language="english"), make_snapshot(boxes), now=NOW
    )
    assert "(95.0%)" in out and "(150.0%)" in out
    assert 'style="width: 100.0%"' in out  # over quota: the bar stops at 100 %
    assert "bg-danger" in out and "bg-success" in out


# --- issue 12: phones, long tables, the usage tab ---------------------------------------------


@pytest.mark.parametrize(
    "text, shown",
    [
        ("mail1.example.com", "mail1<wbr>.example<wbr>.com"),
        (
            "https://mail1.example.com:7071/zimbraAdmin/",
            "https://mail1<wbr>.example<wbr>.com<wbr>:7071<wbr>/zimbraAdmin<wbr>/",
        ),
        ("192.0.2.10", "192<wbr>.0<wbr>.2<wbr>.10"),
        ("a<b.pl", "a&lt;b<wbr>.pl"),
        ("", ""),
    ],
)
def test_host_names_and_links_wrap_between_their_parts(text, shown):
    from puq_bridge.clientarea.render import breakable

    assert str(breakable(text)) == shown


def test_facts_wrap_host_names_and_links_only_between_parts(renderer):
    out = renderer.tab("server-info", make_facts(), None, now=NOW)
    assert 'data-puq="hostname">mail1<wbr>.example<wbr>.com<' in out
    assert ">https://mail1<wbr>.example<wbr>.com<wbr>:7071<wbr>/zimbraAdmin<wbr>/</a>" in out
    assert "table-responsive" not in out  # nothing scrolls sideways: the facts stack on a phone


def long_table(count=96, domain="kancelaria-nowak.pl"):
    boxes = [MailboxUsage(f"user{i:03d}@{domain}", (i + 1) * MB, GB) for i in range(count)]
    boxes.append(MailboxUsage("guest@partner.example", 500 * MB, GB))
    return make_facts(domain=domain), make_snapshot(boxes, domain=domain)


def test_long_mailbox_table_writes_its_domain_once(renderer):
    facts, snap = long_table()
    out = renderer.tab("server-info", facts, snap, lang="en", now=NOW)
    table = re.search(r'<table[^>]*data-puq="mailbox-table".*?</table>', out, re.S).group(0)
    assert table.count("@kancelaria-nowak<wbr>.pl") == 1  # in the header
    assert '<span class="puq-domain" data-puq="mailbox-domain">@kancelaria-nowak<wbr>.pl' in table
    assert "kancelaria-nowak.pl</td>" not in table
    shown = shown_names(out)
    assert shown[0] == "guest@partner.example"  # another domain keeps its whole address
    assert shown[1:4] == ["user095", "user094", "user093"]
    assert names(out)[1] == "user095@kancelaria-nowak.pl"  # sort and filter still see it all


def test_long_mailbox_table_has_filter_and_pages_for_its_script(renderer):
    facts, snap = long_table()
    for lang, showing in (
        ("en", "Showing {first}–{last} of {count}"),
        ("pl", "Pozycje {first}–{last} z {count}"),
    ):
        out = renderer.tab("server-info", facts, snap, lang=lang, now=NOW)
        assert len(rows(out)) == 97  # every row is sent: without JavaScript the whole table reads
        assert re.search(r'<div class="puq-tools" data-puq="table-tools" hidden>', out)
        assert re.search(r'<div class="puq-pager" data-puq="pager" hidden>', out)
        assert 'type="search"' in out and 'data-puq="filter"' in out
        options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', out)
        assert [v for v, _ in options] == ["25", "50", "100", "0"]
        assert f'data-text="{showing}"' in out
        assert "position: sticky" in out  # the header stays in view (client_area.css)


def test_short_mailbox_table_has_no_paging_controls(renderer):
    out = renderer.tab("server-info", make_facts(), make_snapshot(MAILBOXES), now=NOW)
    assert (
        len(rows(out)) == 3
        and 'data-puq="table-tools"' not in out
        and 'data-puq="pager"' not in out
    )


def test_usage_tab_starts_with_the_chart_then_the_top_mailboxes(renderer):
    facts, snap = long_table(count=40)
    out = renderer.tab("resource-usage", facts, snap, history(30), lang="en", now=NOW)
    pane = out.split('data-puq-tab="resource-usage">', 1)[1]
    first_block = re.search(r"<(section|div|h4|p|ul|figure)\b[^>]*>", pane).group(0)
    assert 'data-puq="usage-history"' in first_block
    chart, total, bars = (
        pane.index(hook)
        for hook in ('data-puq="usage-chart"', 'data-puq="usage-total"', 'data-puq="mailbox-bars"')
    )
    assert chart < total < bars
    assert pane.count('data-puq="mailbox-bar"') == 10 and "The 10 most used of 41 mailboxes" in pane
    assert ">user039</span>" in pane  # the bars name mailboxes as the table does


@pytest.mark.parametrize(
    "days, lang, heading",
    [
        (30, "en", "Used space, 24 Oct 2026 – 22 Nov 2026"),
        (30, "pl", "Wykorzystana przestrzeń, 24.10.2026 – 22.11.2026"),
        (90, "en", "Used space, 25 Aug 2026 – 22 Nov 2026"),
        (1, "en", "Used space on 22 Nov 2026"),
        (0, "en", "Used space per day"),
    ],
)
def test_chart_heading_names_the_period_drawn(renderer, days, lang, heading):
    out = renderer.tab(
        "resource-usage", make_facts(), make_snapshot(MAILBOXES), history(days), lang=lang, now=NOW
    )
    found = re.search(r'<h4[^>]*data-puq="history-heading"[^>]*>(.*?)</h4>', out, re.S)
    assert found and found.group(1).strip() == heading


def test_chart_text_is_in_css_px_at_any_width(renderer):
    chart = svg(
        renderer.tab("resource-usage", make_facts(), make_snapshot(MAILBOXES), history(30), now=NOW)
    )
    outer = re.match(r"<svg[^>]*>", chart).group(0)
    assert "viewBox" not in outer and 'font-size="12"' in outer and 'width="100%"' in outer
    assert 'x="0.00%"' in chart and 'x="100.00%"' in chart  # the first and last date, at the edges
    assert 'vector-effect="non-scaling-stroke"' in chart


# --- markup ---------------------------------------------------------------------------------------


def test_twenty_one_and_six_markup(renderer):
    out = renderer.client_area(make_facts(), make_snapshot(MAILBOXES), history(3), now=NOW)
    assert '<ul class="nav nav-tabs"' in out and 'class="tab-content' in out
    assert 'class="tab-pane fade show in active puq-pane" id="puq-srv-info-42"' in out
    assert 'id="puq-usage-42"' in out
    assert out.count('data-toggle="tab"') == 2
    assert '<li class="nav-item active"' in out and 'class="nav-link active"' in out
    for hook in ('data-puq-tab="server-info"', 'data-puq-tab="resource-usage"'):
        assert out.count(hook) == 2  # the link and the pane
    assert (
        '<table class="table table-striped table-sm table-condensed puq-mailboxes" '
        'data-puq="mailbox-table">' in out
    )
    assert 'class="progress' in out and 'role="progressbar"' in out


def test_tab_ids_differ_per_service(renderer):
    a = renderer.client_area(make_facts(service_id=1), None, [], now=NOW)
    b = renderer.client_area(make_facts(service_id=2), None, [], now=NOW)
    assert 'id="puq-srv-info-1"' in a and 'id="puq-srv-info-2"' in b and "puq-srv-info-1" not in b


def test_single_tabs(renderer):
    info = renderer.tab("server-info", make_facts(), make_snapshot(MAILBOXES), history(3), now=NOW)
    usage = renderer.tab(
        "resource-usage", make_facts(), make_snapshot(MAILBOXES), history(3), now=NOW
    )
    assert 'data-puq="mailbox-table"' in info and 'data-puq="usage-chart"' not in info
    assert 'data-puq="usage-chart"' in usage and 'data-puq="mailbox-table"' not in usage
    assert 'data-toggle="tab"' not in info


def test_page_is_standalone(renderer):
    out = renderer.page(
        make_facts(), make_snapshot(MAILBOXES), history(90), now=NOW, brand="Hoster & Co"
    )
    assert out.startswith("<!DOCTYPE html>")
    assert '<html lang="pl">' in out and 'name="viewport"' in out
    assert "<title>example.pl \u2013 Serwer pocztowy</title>" in out
    assert "Hoster &amp; Co" in out
    assert ".nav-tabs" in out and ".progress" in out  # page.css inlined
    assert 'classList.add("active", "show", "in")' in out  # the tab switcher
    assert not re.search(
        r'\b(src|href)="(https?:)?//', out.replace('href="https://mail1.example.com', "")
    )
    assert "<link" not in out and "@import" not in out


# --- chart ----------------------------------------------------------------------------------------


def svg(out: str) -> str:
    """The chart's markup: the outer SVG (with the inner one holding the data) and its legend."""
    return re.search(r'<svg data-puq="usage-chart".*?</figure>', out, re.S).group(0)


def polyline_points(chart: str, name: str) -> int:
    found = re.search(rf'<polyline data-puq="{name}" points="([^"]*)"', chart)
    return len(found.group(1).split()) if found else 0


@pytest.mark.parametrize("days", [0, 1, 2, 90])
def test_history_chart_point_counts(renderer, days):
    chart = svg(
        renderer.tab(
            "resource-usage", make_facts(), make_snapshot(MAILBOXES), history(days), now=NOW
        )
    )
    assert 'width="100%"' in chart
    stretched = 'viewBox="0 0 1000 220"' in chart and 'preserveAspectRatio="none"' in chart
    assert stretched is (days > 0)  # the data's own SVG, stretched across
    assert polyline_points(chart, "chart-used") == days
    assert ('data-puq="chart-empty"' in chart) is (days == 0)
    assert chart.count('data-puq="chart-marker"') == (days if days <= 31 else 0)


def test_chart_axis_labels_follow_locale(renderer):
    pl = svg(
        renderer.tab("resource-usage", make_facts(), make_snapshot(MAILBOXES), history(90), now=NOW)
    )
    en = svg(
        renderer.tab(
            "resource-usage",
            make_facts(),
            make_snapshot(MAILBOXES),
            history(90),
            lang="en",
            now=NOW,
        )
    )
    assert ">22.11<" in pl and ">10,0 GB<" in pl
    assert ">22 Nov<" in en and ">10.0 GB<" in en


# --- overrides ------------------------------------------------------------------------------------


def test_override_directory_replaces_a_template(tmp_path):
    (tmp_path / "resource_usage.html").write_text(
        '<p data-puq="custom">{{ t("tab.resource_usage") }}: {{ fmt.gb(usage.used_bytes) }} '
        "{{ facts.domain }}</p>",
        encoding="utf-8",
    )
    out = Renderer(tmp_path).client_area(
        make_facts(domain="<b>x.pl"), make_snapshot(MAILBOXES), [], now=NOW
    )
    assert '<p data-puq="custom">Wykorzystanie zasobów: 4,7 GB &lt;b&gt;x.pl</p>' in out
    assert 'data-puq="mailbox-table"' in out  # the other templates still come from the package


def test_override_stylesheet_cannot_close_the_style_element(tmp_path):
    (tmp_path / "page.css").write_text(
        "body { color: red } </style><script>alert(1)</script>", encoding="utf-8"
    )
    out = Renderer(tmp_path).page(make_facts(), None, [], now=NOW)
    assert "body { color: red }" in out
    assert (
        "</style><script>alert(1)" not in out and out.count("</style>") == 2
    )  # page.css and client_area.css


def test_warm_renders_read_no_files(tmp_path):
    (tmp_path / "resource_usage.html").write_text(
        "<p>custom {{ facts.domain }}</p>", encoding="utf-8"
    )
    (tmp_path / "page.css").write_text("body { margin: 0 }", encoding="utf-8")
    renderer = Renderer(tmp_path)
    first = renderer.page(make_facts(), make_snapshot(MAILBOXES), history(3), now=NOW)
    for path in tmp_path.iterdir():
        path.unlink()
    assert renderer.page(make_facts(), make_snapshot(MAILBOXES), history(3), now=NOW) == first
    assert "<p>custom example.pl</p>" in first


def test_broken_override_template_names_the_file(tmp_path):
    (tmp_path / "server_info.html").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server_info\.html.*template error"):
        Renderer(tmp_path).client_area(make_facts(), None, [], now=NOW)


# --- the inline scripts in a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Selenium (system chromedriver); skipped when either is missing."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not binary or not os.path.exists(driver_path):
        pytest.skip("no Chromium/chromedriver installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def test_scripts_sort_the_table_and_switch_tabs(browser, renderer, tmp_path):
    from selenium.webdriver.common.by import By

    boxes = [
        MailboxUsage("carol@x.pl", 50 * MB, 100 * MB),
        MailboxUsage("adam@x.pl", 300 * MB, 0),
        MailboxUsage("bob@x.pl", 90 * MB, 100 * MB),
        MailboxUsage("dora@x.pl", 10 * MB, 1000 * MB),
    ]
    path = tmp_path / "page.html"
    path.write_text(
        renderer.page(make_facts(), make_snapshot(boxes), history(3), lang="en", now=NOW),
        encoding="utf-8",
    )
    browser.get(path.as_uri())

    def order():
        return [
            td.text
            for td in browser.find_elements(
                By.CSS_SELECTOR, '[data-puq="mailbox-row"] td:first-child'
            )
        ]

    def click_header(n):
        browser.find_elements(By.CSS_SELECTOR, '[data-puq="mailbox-table"] th .puq-sort')[n].click()

    assert order() == [
        "adam@x.pl",
        "bob@x.pl",
        "carol@x.pl",
        "dora@x.pl",
    ]  # server order: most used first
    click_header(2)  # Used GB: now ascending
    assert order() == ["dora@x.pl", "carol@x.pl", "bob@x.pl", "adam@x.pl"]
    click_header(1)  # Used %: unlimited last
    assert order() == ["bob@x.pl", "carol@x.pl", "dora@x.pl", "adam@x.pl"]
    click_header(0)  # Username: A to Z
    assert order() == ["adam@x.pl", "bob@x.pl", "carol@x.pl", "dora@x.pl"]

    pane = {
        name: browser.find_element(By.CSS_SELECTOR, f'div[data-puq-tab="{name}"]')
        for name in ("server-info", "resource-usage")
    }
    assert pane["server-info"].is_displayed() and not pane["resource-usage"].is_displayed()
    browser.find_element(By.CSS_SELECTOR, 'a[data-puq-tab="resource-usage"]').click()
    assert pane["resource-usage"].is_displayed() and not pane["server-info"].is_displayed()
    browser.find_element(By.CSS_SELECTOR, 'a[data-puq-tab="server-info"]').click()
    assert pane["server-info"].is_displayed()


def test_number_cells_are_right_aligned_and_unbroken(browser, renderer, tmp_path):
    """The number columns get their alignment from client_area.css (no per-cell classes), with and
    without page.css."""
    from selenium.webdriver.common.by import By

    snap = make_snapshot([MailboxUsage("jan@x.pl", GB, 2 * GB), MailboxUsage("ala@x.pl", MB, 0)])
    for name, markup in (
        ("page", renderer.page(make_facts(), snap, [], lang="en", now=NOW)),
        ("bare", renderer.client_area(make_facts(), snap, [], lang="en", now=NOW)),
    ):
        path = tmp_path / f"{name}.html"
        path.write_text(markup, encoding="utf-8")
        browser.get(path.as_uri())
        cells = browser.find_elements(By.CSS_SELECTOR, '[data-puq="mailbox-row"] td')
        styles = [
            (c.value_of_css_property("text-align"), c.value_of_css_property("white-space"))
            for c in cells
        ]
        assert len(styles) == 8, name
        for row in (styles[:4], styles[4:]):
            assert row[0][0] in ("left", "start"), name
            assert row[1:] == [("right", "nowrap")] * 3, name


# --- sign-on buttons and the plan's mailbox limit ----------------------------------------------


def _options(**changes):
    from puq_bridge.clientarea.options import PageOptions

    values = dict(status="Active", tenancy="domain", mailbox_signon=True, max_mailboxes=10)
    values.update(changes)
    return PageOptions.for_service(**values)


def test_an_active_service_gets_its_sign_on_buttons(renderer):
    page = renderer.client_area(
        make_facts(), make_snapshot(MAILBOXES), lang="en", now=NOW, options=_options()
    )
    assert (
        'href="clientarea.php?action=productdetails&amp;id=42&amp;dosinglesignon=1" '
        'data-puq="webmail-signon">Log in to webmail</a>'
    ) in page
    form = r'<form method="post" action="([^"]+)"[^>]*data-puq="([^"]+)">(.*?)</form>'
    forms = re.findall(form, page)
    assert [(action, kind) for action, kind, _ in forms] == [
        ("clientarea.php?action=productdetails&amp;id=42", "admin-signon-form"),
        ("clientarea.php?action=productdetails&amp;id=42", "mailbox-signon-form"),
    ]
    for _, _, fields in forms:
        assert '<input type="hidden" name="token" value="__PUQ_CSRF_TOKEN__">' in fields
        assert '<input type="hidden" name="modop" value="custom">' in fields
    assert '<input type="hidden" name="a" value="AdminPanelSignOn">' in forms[0][2]
    button = r'<button type="submit" form="puq-mbx-42" name="mailbox" value="([^"]+)"'
    buttons = re.findall(button, page)
    assert sorted(buttons) == sorted(m.name for m in MAILBOXES) and len(rows(page)) == 3
    assert "3 of 10 mailboxes" in page


def test_the_buttons_follow_the_service_and_the_product(renderer):
    def page_with(**changes):
        return renderer.client_area(
            make_facts(), make_snapshot(MAILBOXES), lang="en", now=NOW, options=_options(**changes)
        )

    suspended = page_with(status="Suspended")
    assert "signon" not in suspended.replace("puq-signon", "")  # no button, no form
    server = page_with(tenancy="server")
    assert 'data-puq="webmail-signon"' in server and 'data-puq="admin-signon"' not in server
    assert 'data-puq="admin-link"' in server  # a private server's admin signs in as ever
    no_mailboxes = page_with(mailbox_signon=False, max_mailboxes=0)
    assert 'data-puq="mailbox-signon"' not in no_mailboxes and "Mailboxes (3)" in no_mailboxes
    assert 'data-puq="mailbox-signon"' not in renderer.client_area(
        make_facts(), make_snapshot(MAILBOXES), lang="en", now=NOW
    )


def test_the_limit_and_buttons_in_polish(renderer):
    page = renderer.client_area(
        make_facts(), make_snapshot(MAILBOXES), lang="pl", now=NOW, options=_options()
    )
    assert "3 z 10 skrzynek" in page and ">Zaloguj do poczty</a>" in page
    assert ">Zaloguj do panelu administracyjnego</button>" in page and ">Zaloguj</button>" in page


def test_a_mailbox_name_is_escaped_in_its_button(renderer):
    odd = MailboxUsage('o"neil<x>@example.pl', 1, 2)
    page = renderer.client_area(
        make_facts(), make_snapshot([odd]), lang="en", now=NOW, options=_options()
    )
    assert 'value="o&#34;neil&lt;x&gt;@example.pl"' in page and "<x>" not in page
