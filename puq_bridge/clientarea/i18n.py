"""Translations and locale formatting for the client-area tabs: a small formatter of our own, no
CLDR.

A catalog is a JSON object of ``key -> text`` plus a ``"_format"`` object holding the locale's
rules: decimal and group separators, date and time patterns, month names, the money pattern,
currency symbols and the time zone. :meth:`Catalog.layered` puts one language over another
(English), so a key or rule missing in Polish falls back to English one key at a time.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from puq_bridge.units import GB, MB

log = logging.getLogger(__name__)

FORMAT_KEY = "_format"

#: Rules used when a catalog (and its fallback) leaves one out.
DEFAULT_FORMAT: dict[str, Any] = {
    "decimal": ".",
    "group": ",",
    "min_grouping": 1,
    "date": "{year:04d}-{month:02d}-{day:02d}",
    "date_short": "{month:02d}-{day:02d}",
    "datetime": "{date} {hour:02d}:{minute:02d} {tz}",
    "months": [],
    "money": "{code} {amount}",
    "money_no_code": "{amount}",
    "symbols": {},
    "percent": "{value}%",
    "unit": "{value} {unit}",
    "timezone": "UTC",
    "missing": "\u2014",
}


class Catalog:
    """The labels and formats of one language.

    Args:
        code: the language code (``"pl"``, ``"en"``).
        messages: ``key -> text``; texts may hold ``{name}`` fields filled by :meth:`text`.
        formats: the ``"_format"`` rules (see the module docstring); missing ones come from
            :data:`DEFAULT_FORMAT`.
    """

    def __init__(
        self, code: str, messages: Mapping[str, str], formats: Mapping[str, Any] | None = None
    ):
        self.code = code
        self.messages = dict(messages)
        self.formats = {**DEFAULT_FORMAT, **(formats or {})}
        self._zone = _zone(self.formats["timezone"])

    @classmethod
    def from_documents(cls, code: str, *documents: Mapping[str, Any]) -> "Catalog":
        """Layer catalog documents, later ones winning key by key (pass the fallback first)."""
        messages: dict[str, str] = {}
        formats: dict[str, Any] = {}
        for doc in documents:
            formats.update(doc.get(FORMAT_KEY, {}))
            messages.update({k: v for k, v in doc.items() if k != FORMAT_KEY})
        return cls(code, messages, formats)

    # --- labels -----------------------------------------------------------------------------------

    def text(self, key: str, **values: Any) -> str:
        """The label for ``key`` with ``{name}`` fields filled in; the key itself when no catalog
        has it."""
        template = self.messages.get(key)
        if template is None:
            log.debug("no translation for %r in %s", key, self.code)
            return key
        return template.format(**values) if values else template

    __call__ = text

    def has(self, key: str) -> bool:
        """True when the catalog (or its fallback) has ``key``."""
        return key in self.messages

    # --- numbers ----------------------------------------------------------------------------------

    def number(self, value: float | int | Decimal, digits: int = 1) -> str:
        """``value`` rounded half-up to ``digits`` decimals, with the locale's separators.

        A float rounds as it prints (2.55 -> 2.6), not as its binary value (2.5499...). Ints and
        plainly printed non-negative floats take a string fast path; the rest goes through
        :class:`~decimal.Decimal`, same result.
        """
        if digits >= 0:
            kind = type(value)
            if kind is float:
                if value > 0.0 and digits <= 6:
                    scaled = value * 10**digits
                    # Well away from a rounding midpoint printf's rounding of the binary value gives
                    # the same digits as rounding its repr half-up; the margin dwarfs the float
                    # error of ``scaled`` below 2**31.
                    if scaled < 2147483648.0 and abs(scaled - int(scaled) - 0.5) > 1e-6:
                        text = "%.*f" % (digits, value)
                        if (
                            value < 999.0
                        ):  # no group separator below 1000: only the decimal point to localise
                            return text.replace(".", self.formats["decimal"])
                        whole, _, fraction = text.partition(".")
                        return self._join(whole, fraction)
                whole, dot, fraction = repr(value).partition(".")
                if (
                    dot and whole[0] != "-" and "e" not in fraction
                ):  # not -x, 1e-05, 1.5e+16, inf or nan
                    whole, fraction = _round_half_up(whole, fraction, digits)
                    return self._join(whole, fraction)
            elif kind is int:
                return ("-" if value < 0 else "") + self._join(str(abs(value)), "0" * digits)
        return self._decimal(value, digits)

    def _decimal(self, value: Any, digits: int) -> str:
        try:
            exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return self.formats["missing"]
        quantum = Decimal(1).scaleb(-digits)
        rounded = exact.quantize(quantum, rounding=ROUND_HALF_UP)
        sign = "-" if rounded < 0 else ""
        whole, _, fraction = f"{abs(rounded):f}".partition(".")
        return sign + self._join(whole, fraction)

    def _join(self, whole: str, fraction: str) -> str:
        """Unsigned digits before and after the point, joined with the locale's separators."""
        formats = self.formats
        if len(whole) >= 3 + int(formats["min_grouping"]):
            whole = self._group(whole)
        return whole + formats["decimal"] + fraction if fraction else whole

    def _group(self, digits: str) -> str:
        parts = []
        while len(digits) > 3:
            parts.insert(0, digits[-3:])
            digits = digits[:-3]
        parts.insert(0, digits)
        return self.formats["group"].join(parts)

    def gb_value(self, size_bytes: int | None) -> str:
        """Bytes as GB of 1024**3 with one decimal, no unit (``"1,5"``); the missing sign for
        ``None``."""
        if size_bytes is None:
            return self.formats["missing"]
        if type(size_bytes) is int and size_bytes >= 0:
            # exact half-up tenths in integers: the same digits as Decimal(size_bytes) / GB
            # quantized to 0.1
            whole, tenth = divmod((20 * size_bytes + GB) // (2 * GB), 10)
            if whole < 1000:  # no group separator below 1000
                return f"{whole}{self.formats['decimal']}{tenth}"
            return self._join(str(whole), str(tenth))
        return self.number(Decimal(size_bytes) / GB, 1)

    def gb(self, size_bytes: int | None) -> str:
        """Bytes as GB with the unit (``"1,5 GB"``)."""
        if size_bytes is None:
            return self.formats["missing"]
        return self.unit(self.gb_value(size_bytes), "GB")

    def mb(self, size_bytes: int | None) -> str:
        """Bytes as whole MB of 1024**2 with the unit (``"512 MB"``)."""
        if size_bytes is None:
            return self.formats["missing"]
        return self.unit(self.number(Decimal(size_bytes) / MB, 0), "MB")

    def unit(self, value: str, unit: str) -> str:
        """A formatted number and its unit, by the locale's pattern."""
        return self.formats["unit"].format(value=value, unit=unit)

    def percent(self, value: float | None) -> str:
        """A percentage with one decimal (``"12,5%"``); the missing sign for ``None``
        (unlimited)."""
        if value is None:
            return self.formats["missing"]
        pattern = self.formats["percent"]
        prefix, suffix = _affixes(pattern)
        if prefix is None:
            return pattern.format(value=self.number(value, 1))
        return prefix + self.number(value, 1) + suffix

    def money(self, amount: Decimal | float | None, currency_code: str = "") -> str:
        """An amount with two decimals and the currency (``"49,00 zł"``, ``"PLN 49.00"``)."""
        if amount is None:
            return self.formats["missing"]
        text = self.number(amount, 2)
        code = (currency_code or "").strip().upper()
        if not code:
            return self.formats["money_no_code"].format(amount=text)
        symbol = self.formats["symbols"].get(code, code)
        return self.formats["money"].format(amount=text, code=code, symbol=symbol)

    # --- dates ------------------------------------------------------------------------------------

    def date(self, value: dt.date | None, pattern: str = "date") -> str:
        """A date by the locale's pattern (``"22.11.2026"``, ``"22 Nov 2026"``); datetimes in the
        locale's zone."""
        if value is None:
            return self.formats["missing"]
        if isinstance(value, dt.datetime):
            value = self.local(value)
        return self.formats[pattern].format(**self._date_fields(value))

    def date_short(self, value: dt.date | None) -> str:
        """Day and month only, for chart axes (``"22.11"``, ``"22 Nov"``)."""
        return self.date(value, "date_short")

    def datetime(self, value: dt.datetime | None) -> str:
        """Date and time in the locale's zone, with the zone's abbreviation
        (``"22.11.2026 04:00 CET"``)."""
        if value is None:
            return self.formats["missing"]
        local = self.local(value)
        return self.formats["datetime"].format(
            date=self.date(local),
            hour=local.hour,
            minute=local.minute,
            tz=local.tzname() or "UTC",
        )

    def local(self, value: dt.datetime) -> dt.datetime:
        """``value`` in the locale's time zone (a naive datetime is taken as UTC)."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(self._zone)

    def _date_fields(self, value: dt.date) -> dict[str, Any]:
        months = self.formats["months"]
        name = months[value.month - 1] if len(months) == 12 else str(value.month)
        return {"year": value.year, "month": value.month, "day": value.day, "mon": name}


def _round_half_up(whole: str, fraction: str, digits: int) -> tuple[str, str]:
    """The digits of a plain decimal ``whole.fraction`` rounded half-up to ``digits`` places:
    ``("9", "96")`` -> 10.0."""
    if len(fraction) <= digits:
        return whole, fraction + "0" * (digits - len(fraction))
    if fraction[digits] < "5":
        return whole, fraction[:digits]
    bumped = str(int(whole + fraction[:digits]) + 1).rjust(len(whole) + digits, "0")
    cut = len(bumped) - digits
    return bumped[:cut], bumped[cut:]


@lru_cache(maxsize=64)
def _affixes(pattern: str) -> tuple[str | None, str]:
    """``(prefix, suffix)`` around the only field of a ``"{value}"`` pattern, or ``(None, "")`` for
    anything else."""
    prefix, field, suffix = pattern.partition("{value}")
    if not field or any(c in prefix + suffix for c in "{}"):
        return None, ""
    return prefix, suffix


def _zone(name: str) -> dt.tzinfo:
    if name.upper() == "UTC":
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r is not available; showing times in UTC", name)
        return dt.timezone.utc
