"""The locale formatter: separators, grouping, rounding, dates, times and money from catalog
rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from puq_bridge.clientarea.i18n import Catalog
from puq_bridge.units import GB, MB


@pytest.mark.parametrize(
    "value, digits, polish, english",
    [
        (1.5, 1, "1,5", "1.5"),
        (1.25, 1, "1,3", "1.3"),  # half up, not half even
        (0.04, 1, "0,0", "0.0"),
        (1234.5, 1, "1234,5", "1,234.5"),  # Polish groups from five digits on
        (12345.67, 2, "12\u00a0345,67", "12,345.67"),
        (1234567, 0, "1\u00a0234\u00a0567", "1,234,567"),
        (-2.55, 1, "-2,6", "-2.6"),
    ],
)
def test_numbers(pl, en, value, digits, polish, english):
    assert pl.number(value, digits) == polish
    assert en.number(value, digits) == english


def test_sizes_and_percent(pl, en):
    assert pl.gb(int(1.5 * GB)) == "1,5 GB" and en.gb(int(1.5 * GB)) == "1.5 GB"
    assert pl.gb_value(GB // 2) == "0,5"
    assert pl.mb(512 * MB) == "512 MB"
    assert pl.percent(12.345) == "12,3%" and en.percent(100) == "100.0%"
    assert pl.percent(None) == "\u2014" and pl.gb(None) == "\u2014"


def test_dates(pl, en):
    day = dt.date(2026, 11, 22)
    assert pl.date(day) == "22.11.2026" and en.date(day) == "22 Nov 2026"
    assert (
        pl.date(dt.date(2026, 1, 5)) == "05.01.2026"
        and en.date(dt.date(2026, 1, 5)) == "5 Jan 2026"
    )
    assert pl.date_short(day) == "22.11" and en.date_short(day) == "22 Nov"
    assert pl.date(None) == "\u2014"


def test_times_in_the_locale_zone(pl, en):
    winter = dt.datetime(2026, 11, 22, 3, 5, tzinfo=dt.timezone.utc)
    summer = dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.timezone.utc)
    assert en.datetime(winter) == "22 Nov 2026, 03:05 UTC"
    assert pl.datetime(winter) == "22.11.2026 04:05 CET"
    assert pl.datetime(summer) == "02.07.2026 01:30 CEST"  # the local date, not the UTC one
    assert en.datetime(dt.datetime(2026, 11, 22, 3, 5)) == "22 Nov 2026, 03:05 UTC"  # naive = UTC


def test_money(pl, en):
    assert pl.money(Decimal("49"), "PLN") == "49,00 zł"
    assert pl.money(Decimal("1234.5"), "EUR") == "1234,50 EUR"
    assert en.money(Decimal("49.00"), "pln") == "PLN 49.00"
    assert en.money(Decimal("49.00"), "") == "49.00"
    assert en.money(None, "PLN") == "\u2014"


def test_layering_falls_back_per_key():
    cat = Catalog.from_documents(
        "xx",
        {"a": "A", "b": "B {n}", "_format": {"decimal": "."}},
        {"a": "Ä", "_format": {"decimal": ";"}},
    )
    assert cat.text("a") == "Ä" and cat.text("b", n=2) == "B 2" and cat.number(1.5) == "1;5"
    assert cat.text("missing.key") == "missing.key"


def test_unknown_time_zone_falls_back_to_utc(caplog):
    cat = Catalog("xx", {}, {"timezone": "Mars/Olympus"})
    assert cat.datetime(dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)).endswith("12:00 UTC")
    assert "Mars/Olympus" in caplog.text


def _reference(value, digits: int) -> str:
    """The rule the fast paths must keep: the value as it prints, rounded half-up (English
    separators)."""
    from decimal import ROUND_HALF_UP

    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):f}"
    whole, _, fraction = text.partition(".")
    if len(whole) >= 4:
        whole = f"{int(whole):,}"
    return ("-" if rounded < 0 else "") + whole + ("." + fraction if fraction else "")


def _near_ties():
    """Ties and values a hair either side of them, where printf's rounding and half-up of the repr
    part ways."""
    for k in range(0, 4000, 7):
        for tie in (k / 20, k / 200, k / 2000, (2 * k + 1) / 2):
            yield from (tie, tie + 1e-12, tie - 1e-12, tie * (1 + 2**-52), tie * (1 - 2**-52))
    for used in range(1, 400, 3):
        for limit in (3, 7, 40, 200, 1000, 1024, 2**31):
            yield 100.0 * used / limit


def test_fast_number_paths_round_like_the_decimal_rule(en):
    values = [
        *_near_ties(),
        0.0,
        -0.0,
        -0.04,
        -2.55,
        1e-05,
        1.5e16,
        2.5e9,
        12345678.95,
        7,
        -1234567,
        True,
    ]
    for value in values:
        for digits in (0, 1, 2, 3):
            assert en.number(value, digits) == _reference(value, digits), (value, digits)


def test_gb_value_is_exact_half_up_tenths(en):
    for size in [
        0,
        1,
        GB // 20,
        GB // 4,
        GB // 4 - 1,
        3 * GB // 4,
        1023 * GB + GB // 2,
        10**15,
        -GB,
    ]:
        assert en.gb_value(size) == _reference(Decimal(size) / GB, 1), size
