"""The view of a client-area page: facts joined with the stored reading and history, totals,
staleness, and the mailbox table and bars formatted for the templates."""

from __future__ import annotations

import datetime as dt

import pytest

from puq_bridge.clientarea.facts import facts_from_service
from puq_bridge.clientarea.view import build_view, mailbox_rows
from puq_bridge.units import GB, MB
from puq_bridge.usage.records import DailyPoint, Snapshot
from puq_bridge.zimbra.models import MailboxUsage
from tests.clientarea.support import CLIENT, NOW, service


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


# --- the formatted table and bars (what the templates print) --------------------------------------


def test_mailbox_table_cells_are_formatted_once_in_python(pl):
    from puq_bridge.clientarea.view import mailbox_table

    rows = mailbox_rows(
        [
            MailboxUsage("jan@x.pl", int(1.55 * GB) + 1, 2 * GB),
            MailboxUsage("a&b@x.pl", 3 * GB, 0),
            MailboxUsage("noat", 0, 2 * GB),
        ]
    )
    table = mailbox_table(rows, pl)
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


def test_mailbox_bars_cap_the_width_and_skip_unlimited(pl):
    from puq_bridge.clientarea.view import mailbox_bars

    rows = mailbox_rows(
        [
            MailboxUsage("over@x.pl", 150 * MB, 100 * MB),
            MailboxUsage("free@x.pl", 80 * MB, 0),
            MailboxUsage("ok@x.pl", 10 * MB, 100 * MB),
        ]
    )
    over, free, ok = mailbox_bars(rows, pl)
    assert over == (
        "over@x.pl",
        "over@x.pl",
        "0,1 GB z 0,1 GB (150,0%)",
        "bg-danger progress-bar-danger",
        "100.0",
        "150.0",
    )
    assert free.width == "" and free.level_class == "" and free.label == "0,1 GB (bez limitu)"
    assert ok.level_class.startswith("bg-success") and ok.width == ok.value == "10.0"


def test_build_view_with_a_formatter_fills_table_and_top_bars(pl):
    boxes = [MailboxUsage(f"u{i}@x.pl", i * MB, GB) for i in range(40)]
    facts = facts_from_service(service(), CLIENT)
    view = build_view(facts, snapshot(boxes), now=NOW, fmt=pl, bars_limit=5)
    assert len(view.usage.table) == 40
    assert [b.name for b in view.usage.bars] == [f"u{i}@x.pl" for i in (39, 38, 37, 36, 35)]
    assert [c.name for c in view.usage.table] == [r.name for r in view.usage.mailboxes]
    plain = build_view(facts, snapshot(boxes), now=NOW)
    assert plain.usage.table == () and plain.usage.bars == ()
