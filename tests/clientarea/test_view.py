"""Plain client-area data: facts from WHMCS services and module params, and the view built for the templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from decimal import Decimal

import pytest

from puq_bridge.clientarea.facts import ServiceFacts, facts_from_params, facts_from_service
from puq_bridge.clientarea.view import build_view, mailbox_rows
from puq_bridge.config import ZimbraConfig
from puq_bridge.errors import ParamsError
from puq_bridge.usage.model import GB, MB, MailboxUsage
from puq_bridge.usage.records import DailyPoint, Snapshot
from puq_bridge.whmcs.models import Client, Service

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)


def service(**changes) -> Service:
    values = dict(
        id=42,
        client_id=7,
        product_id=3,
        product_name="Prywatny serwer mailowy Zimbra",
        group_name="Mail",
        domain="example.pl",
        status="Active",
        server_id=3,
        server_name="mail1",
        server_ip="192.0.2.10",
        server_hostname="mail1.example.com",
        dedicated_ip="",
        registration_date=dt.date(2026, 1, 15),
        next_due_date=dt.date(2026, 12, 15),
        billing_cycle="Quarterly",
        recurring_amount=Decimal("147.00"),
        first_payment_amount=Decimal("147.00"),
        payment_method="banktransfer",
        payment_method_name="Bank Transfer",
        username="admin",
        disk_usage_mb=0,
        disk_limit_mb=0,
        last_update=None,
        config_options={"Total space (GB)": "50"},
        password="Sekret-Hasl0!",
    )
    values.update(changes)
    return Service(**values)


CLIENT = Client(
    id=7,
    firstname="Jan",
    lastname="Kowalski",
    companyname="",
    email="jan@example.pl",
    language="polish",
    currency_code="PLN",
    status="Active",
)
ENTRY = ZimbraConfig(
    name="mail1",
    whmcs_server=3,
    url="https://zimbra-internal.example.com:7071",
    admin_user="admin@example.com",
    password="zimbra-secret",
)


def test_facts_from_service():
    facts = facts_from_service(service(), CLIENT, None)
    assert facts == ServiceFacts(
        service_id=42,
        domain="example.pl",
        status="Active",
        registration_date=dt.date(2026, 1, 15),
        next_due_date=dt.date(2026, 12, 15),
        billing_cycle="Quarterly",
        recurring_amount=Decimal("147.00"),
        currency_code="PLN",
        payment_method="Bank Transfer",
        hostname="mail1.example.com",
        main_ip="192.0.2.10",
        webmail_url="https://mail1.example.com/",
        admin_url="https://mail1.example.com:7071/zimbraAdmin/",
        total_space_bytes=50 * GB,
        language="polish",
    )


def test_facts_hold_no_secret():
    facts = facts_from_service(service(), CLIENT, ENTRY)
    values = [str(getattr(facts, f.name)) for f in fields(facts)]
    assert not any("Sekret" in v or "zimbra-secret" in v for v in values)


def test_facts_prefer_dedicated_ip_and_configured_urls():
    entry = ZimbraConfig(
        name="mail1",
        whmcs_server=3,
        url="https://zimbra-internal.example.com:7071",
        admin_user="a",
        password="p",
        webmail_url="https://poczta.example.pl",
        admin_url="https://admin.example.pl:9071/",
    )
    facts = facts_from_service(
        service(dedicated_ip="203.0.113.5", server_hostname=""), CLIENT, entry
    )
    assert facts.main_ip == "203.0.113.5"
    assert (
        facts.hostname == "zimbra-internal.example.com"
    )  # no WHMCS hostname: the config entry's host
    assert (facts.webmail_url, facts.admin_url) == (
        "https://poczta.example.pl",
        "https://admin.example.pl:9071/",
    )


def test_facts_without_total_space_option():
    assert facts_from_service(service(config_options={}), CLIENT).total_space_bytes is None


PARAMS = {
    "serviceid": "42",
    "domain": "example.pl",
    "serverhostname": "mail1.example.com",
    "serverip": "192.0.2.10",
    "configoption3": "20",
    "password": "Sekret-Hasl0!",
    "service": {
        "regdate": "2026-01-15",
        "nextduedate": "2026-12-15 00:00:00",
        "billingcycle": "Annually",
        "amount": "490.00",
        "paymentmethod": "Przelew",
        "status": "Suspended",
    },
    "clientsdetails": {"language": "english", "currency_code": "EUR"},
}


def test_facts_from_params():
    facts = facts_from_params(PARAMS, None)
    assert facts.service_id == 42 and facts.status == "Suspended"
    assert facts.next_due_date == dt.date(2026, 12, 15) and facts.registration_date == dt.date(
        2026, 1, 15
    )
    assert facts.recurring_amount == Decimal("490.00") and facts.currency_code == "EUR"
    assert facts.billing_cycle == "Annually" and facts.payment_method == "Przelew"
    assert facts.total_space_bytes == 20 * GB and facts.language == "english"
    assert facts.admin_url == "https://mail1.example.com:7071/zimbraAdmin/"
    assert "Sekret" not in repr(facts)


def test_facts_from_params_configurable_option_wins():
    params = dict(PARAMS, configoptions={"Total space (GB)": "1,5"}, configoption3="0")
    assert facts_from_params(params).total_space_bytes == int(1.5 * GB)


def test_facts_from_minimal_params():
    facts = facts_from_params({"serviceid": 5, "service": {"regdate": "0000-00-00"}})
    assert facts.registration_date is None and facts.recurring_amount is None
    assert facts.total_space_bytes is None and facts.webmail_url == "" and facts.language == ""


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "serviceid is missing"),
        ({"serviceid": "abc"}, "serviceid is not a number: 'abc'"),
        ({"serviceid": 1, "service": {"regdate": "15/01/2026"}}, "service.regdate is not a date"),
        ({"serviceid": 1, "service": {"amount": "49 zł"}}, "service.amount is not an amount"),
        ({"serviceid": 1, "service": "x"}, "service must be an object"),
        (
            {"serviceid": 1, "configoption3": "lots"},
            r"'Total space \(GB\)' \(configoption3\) must be a number of GB",
        ),
    ],
)
def test_bad_params_name_the_key(params, message):
    with pytest.raises(ParamsError, match=message):
        facts_from_params(params)


# --- the view --------------------------------------------------------------------------------------------------------


def snapshot(mailboxes, **changes) -> Snapshot:
    values = dict(
        service_id=42,
        domain="example.pl",
        server="mail1",
        taken_at=NOW - dt.timedelta(hours=1),
        used_bytes=sum(m.used_bytes for m in mailboxes),
        limit_bytes=8 * GB,
        mailboxes=tuple(mailboxes),
    )
    values.update(changes)
    return Snapshot(**values)


def test_view_totals_use_product_space_then_snapshot_limit():
    boxes = [MailboxUsage("a@x.pl", 2 * GB, 4 * GB)]
    with_product = build_view(facts_from_service(service(), CLIENT), snapshot(boxes), now=NOW)
    assert (
        with_product.usage.total_bytes == 50 * GB
        and with_product.usage.percent == pytest.approx(4.0)
    )
    without = build_view(
        facts_from_service(service(config_options={}), CLIENT), snapshot(boxes), now=NOW
    )
    assert without.usage.total_bytes == 8 * GB and without.usage.percent == pytest.approx(25.0)
    unlimited = build_view(
        facts_from_service(service(config_options={}), CLIENT),
        snapshot(boxes, limit_bytes=0),
        now=NOW,
    )
    assert (
        unlimited.usage.total_bytes == 0
        and unlimited.usage.percent is None
        and unlimited.usage.level == "none"
    )


def test_view_without_snapshot():
    view = build_view(
        facts_from_service(service(), CLIENT), None, [DailyPoint(NOW.date(), 1, 2)], now=NOW
    )
    assert not view.usage.has_data and view.usage.used_bytes is None and view.usage.mailboxes == ()
    assert view.usage.history == (DailyPoint(NOW.date(), 1, 2),)
    assert view.ids == {
        "root": "puq-ca-42",
        "server-info": "puq-srv-info-42",
        "resource-usage": "puq-usage-42",
    }


def test_view_staleness_and_failure():
    facts = facts_from_service(service(), CLIENT)
    old = snapshot([], taken_at=NOW - dt.timedelta(hours=30))
    assert build_view(facts, old, now=NOW).usage.stale
    assert not build_view(facts, old, now=NOW, stale_after_hours=31).usage.stale
    failed = snapshot([], error="Zimbra mail1: refused", failed_at=NOW - dt.timedelta(minutes=5))
    usage = build_view(facts, failed, now=NOW).usage
    assert (
        usage.unreachable and usage.failed_at == NOW - dt.timedelta(minutes=5) and not usage.stale
    )


def test_naive_times_are_taken_as_utc():
    facts = facts_from_service(service(), CLIENT)
    snap = snapshot([], taken_at=dt.datetime(2026, 11, 20, 12))
    assert build_view(facts, snap, now=dt.datetime(2026, 11, 22, 12)).usage.stale


def test_mailbox_rows_order_and_levels():
    rows = mailbox_rows(
        [
            MailboxUsage("b@x.pl", 10 * MB, 100 * MB),
            MailboxUsage("z@x.pl", 95 * MB, 100 * MB),
            MailboxUsage("a@x.pl", 10 * MB, 100 * MB),
            MailboxUsage("u@x.pl", 80 * MB, 0),
            MailboxUsage("w@x.pl", 76 * MB, 100 * MB),
        ]
    )
    assert [r.name for r in rows] == ["z@x.pl", "u@x.pl", "w@x.pl", "a@x.pl", "b@x.pl"]
    assert [r.level for r in rows] == ["danger", "none", "warning", "ok", "ok"]
    assert rows[1].percent is None and rows[1].unlimited


# --- the formatted table and bars (what the templates print) ---------------------------------------------------------


@pytest.fixture(scope="module")
def polish():
    from puq_bridge.clientarea.render import Renderer

    return Renderer().catalog("pl")


def test_mailbox_table_cells_are_formatted_once_in_python(polish):
    from puq_bridge.clientarea.view import mailbox_table

    rows = mailbox_rows(
        [
            MailboxUsage("jan@x.pl", int(1.55 * GB) + 1, 2 * GB),
            MailboxUsage("a&b@x.pl", 3 * GB, 0),
            MailboxUsage("noat", 0, 2 * GB),
        ]
    )
    table = mailbox_table(rows, polish)
    assert [tuple(c) for c in table] == [
        ("a&b@x.pl", f"-1 {3 * GB} Infinity", "a&b", "@x.pl", "\u2014", "3,0", "bez limitu"),
        (
            "jan@x.pl",
            f"77.500 {int(1.55 * GB) + 1} {2 * GB}",
            "jan",
            "@x.pl",
            "77,5%",
            "1,6",
            "2,0",
        ),
        ("noat", f"0.000 0 {2 * GB}", "noat", "", "0,0%", "0,0", "2,0"),
    ]
    assert table[1].percent == "77,5%" and table[1].sort_keys.split()[2] == str(2 * GB)


def test_mailbox_bars_cap_the_width_and_skip_unlimited(polish):
    from puq_bridge.clientarea.view import mailbox_bars

    rows = mailbox_rows(
        [
            MailboxUsage("over@x.pl", 150 * MB, 100 * MB),
            MailboxUsage("free@x.pl", 80 * MB, 0),
            MailboxUsage("ok@x.pl", 10 * MB, 100 * MB),
        ]
    )
    over, free, ok = mailbox_bars(rows, polish)
    assert over == (
        "over@x.pl",
        "0,1 GB z 0,1 GB (150,0%)",
        "bg-danger progress-bar-danger",
        "100.0",
        "150.0",
    )
    assert free.width == "" and free.level_class == "" and free.label == "0,1 GB (bez limitu)"
    assert ok.level_class.startswith("bg-success") and ok.width == ok.value == "10.0"


def test_build_view_with_a_formatter_fills_table_and_top_bars(polish):
    boxes = [MailboxUsage(f"u{i}@x.pl", i * MB, GB) for i in range(40)]
    facts = facts_from_service(service(), CLIENT)
    view = build_view(facts, snapshot(boxes), now=NOW, fmt=polish, bars_limit=5)
    assert len(view.usage.table) == 40
    assert [b.name for b in view.usage.bars] == [f"u{i}@x.pl" for i in (39, 38, 37, 36, 35)]
    assert [c.name for c in view.usage.table] == [r.name for r in view.usage.mailboxes]
    plain = build_view(facts, snapshot(boxes), now=NOW)
    assert plain.usage.table == () and plain.usage.bars == ()
