import pytest

from puq_bridge.usage import (GB, MB, DomainUsage, MailboxUsage, bytes_to_gb, bytes_to_mb, percent,
                              total_space_from_options)


@pytest.mark.parametrize("value, mb", [(0, 0), (1, 1), (MB - 1, 1), (MB, 1), (MB + 1, 2), (10 * GB, 10240)])
def test_bytes_to_mb_rounds_up(value, mb):
    assert bytes_to_mb(value) == mb


def test_bytes_to_mb_rejects_negative():
    with pytest.raises(ValueError, match="negative"):
        bytes_to_mb(-1)


def test_gb_is_binary():
    assert bytes_to_gb(3 * GB // 2) == 1.5


@pytest.mark.parametrize("used, limit, expected", [(50, 100, 50.0), (0, 100, 0.0), (10, 0, None), (5, -1, None)])
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


@pytest.mark.parametrize("options, expected", [
    ({"Total space (GB)": "50"}, 50 * GB),
    ({"total space": "1,5 GB"}, int(1.5 * GB)),
    ({"Total Space": "0"}, None),
    ({"Total space": ""}, None),
    ({"Total space": "lots"}, None),
    ({"Disk": "50"}, None),
    ({}, None),
])
def test_total_space_from_options(options, expected):
    assert total_space_from_options(options) == expected
