import pytest

from puq_bridge.units import GB, MB, bytes_to_gb, bytes_to_mb, parse_total_space, percent
from puq_bridge.usage.model import (
    DomainUsage,
    service_limit_bytes,
    service_total_space,
    total_space_from_options,
)
from puq_bridge.zimbra.models import MailboxUsage


@pytest.mark.parametrize(
    "value, mb", [(0, 0), (1, 1), (MB - 1, 1), (MB, 1), (MB + 1, 2), (10 * GB, 10240)]
)
def test_bytes_to_mb_rounds_up(value, mb):
    assert bytes_to_mb(value) == mb


def test_bytes_to_mb_rejects_negative():
    with pytest.raises(ValueError, match="negative"):
        bytes_to_mb(-1)


def test_gb_is_binary():
    assert bytes_to_gb(3 * GB // 2) == 1.5


@pytest.mark.parametrize(
    "used, limit, expected", [(50, 100, 50.0), (0, 100, 0.0), (10, 0, None), (5, -1, None)]
)
def test_percent_never_divides_by_zero(used, limit, expected):
    assert percent(used, limit) == expected


def test_domain_totals():
    d = DomainUsage.of("x.pl", [MailboxUsage("a@x.pl", 10, 100), MailboxUsage("b@x.pl", 5, 50)])
    assert d.used_bytes == 15
    assert d.mailbox_limit_bytes == 150
    assert d.limit_bytes() == 150
    assert d.limit_bytes(product_total_bytes=1000) == 1000


def test_one_unlimited_mailbox_makes_domain_unlimited():
    d = DomainUsage.of("x.pl", [MailboxUsage("a@x.pl", 10, 100), MailboxUsage("b@x.pl", 5, 0)])
    assert d.mailbox_limit_bytes == 0
    assert d.mailboxes[1].unlimited and d.mailboxes[1].percent is None


def test_empty_domain_is_unlimited_and_zero():
    d = DomainUsage.of("x.pl", [])
    assert (d.used_bytes, d.limit_bytes()) == (0, 0)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"Total space (GB)": "50"}, 50 * GB),
        ({"total space": "1,5 GB"}, int(1.5 * GB)),
        ({"Total Space": "0"}, None),
        ({"Total space": ""}, None),
        ({"Total space": "lots"}, None),  # a client's option that is not a number: not set
        ({"Total space (GB)": "-5"}, None),
        ({"Disk": "50"}, None),
        ({}, None),
    ],
)
def test_total_space_from_options(options, expected):
    assert total_space_from_options(options) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("50", 50 * GB),
        ("50 GB", 50 * GB),
        ("50gb", 50 * GB),
        (" 1,5 ", int(1.5 * GB)),
        ("1.5 GB", int(1.5 * GB)),
        ("0", None),
        ("0,0", None),
        ("", None),
        (None, None),
        (20, 20 * GB),
    ],
)
def test_parse_total_space(text, expected):
    assert parse_total_space(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1", "inf", "nan", "1e3", "1,5,5", "GB", "50 MB", "5 0"])
def test_parse_total_space_refuses_what_is_not_gb(text):
    with pytest.raises(ValueError, match="expected a number of GB"):
        parse_total_space(text)


def test_one_rule_option_then_product_then_mailboxes():
    usage = DomainUsage.of("x.pl", [MailboxUsage("a@x.pl", 10, GB)])
    option = {"Total space (GB)": "5"}
    assert service_total_space(option, 50 * GB) == 5 * GB  # the client's choice wins
    assert service_total_space({}, 50 * GB) == 50 * GB  # else the product's setting
    assert service_total_space({"Total space": "0"}, 50 * GB) == 50 * GB
    assert service_total_space(None, None) is None
    assert service_limit_bytes(usage, option, 50 * GB) == 5 * GB
    assert service_limit_bytes(usage, {}, 50 * GB) == 50 * GB
    assert service_limit_bytes(usage, {}, None) == GB  # else the sum of the mailbox quotas
    unlimited = DomainUsage.of(
        "x.pl", [MailboxUsage("a@x.pl", 10, GB), MailboxUsage("b@x.pl", 1, 0)]
    )
    assert service_limit_bytes(unlimited, {}, 0) == 0


def test_a_mailbox_table_is_the_same_mailboxes_in_less_memory():
    from puq_bridge.usage.model import MailboxTable

    boxes = (
        MailboxUsage("a@firma.pl", 3 * MB, GB, "id-a"),
        MailboxUsage("b@firma.pl", 0, 0, "id-b"),  # unlimited
        MailboxUsage("c@firma.pl", MB, GB, ""),
    )
    table = MailboxTable.of(boxes)
    assert table == boxes and list(table) == list(boxes) and len(table) == 3
    assert table[1] == boxes[1] and table[-1] == boxes[2] and table[:2] == boxes[:2]
    assert DomainUsage.of("firma.pl", table).mailboxes is table
    usage, plain = DomainUsage.of("firma.pl", table), DomainUsage.of("firma.pl", boxes)
    assert (usage.used_bytes, usage.mailbox_limit_bytes) == (4 * MB, 0) == (
        plain.used_bytes,
        plain.mailbox_limit_bytes,
    )
    limited = MailboxTable.of([boxes[0], boxes[2]])
    assert DomainUsage.of("firma.pl", limited).mailbox_limit_bytes == 2 * GB
    empty = MailboxTable.of(())
    assert empty == () and list(empty) == [] and DomainUsage.of("x", empty).used_bytes == 0
    assert DomainUsage.of("x", empty).mailbox_limit_bytes == 0
    both = MailboxTable.concat([limited, empty, MailboxTable.of(boxes[1:2])])
    assert both == (boxes[0], boxes[2], boxes[1])
    assert hash(table) == hash(MailboxTable.of(list(boxes)))
