"""Turning WHMCS's wire values into Python values and back, and keeping secrets out of error text.

WHMCS returns database values as strings (``"id": "1"``, ``"recurringamount": "12.95"``), empty
dates as ``"0000-00-00"``, and list containers in several shapes (``products.product[]``,
``users[]``, ``"products": ""`` when empty, or flattened ``packages[package][0][id]`` keys). These
helpers absorb all of that in one place.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from puq_bridge.logs import MASK, mask_secrets

#: Reply and request fields whose values are secrets wherever they appear.
SECRET_FIELDS = (
    "password",
    "password2",
    "passwordhash",
    "servicepassword",
    "secret",
    "accesskey",
    "access_token",
)
# A secret field's name (bare, quoted, PHP ``['name']``, or JSON-in-JSON ``\"name\"``) and its
# separator (``:``, ``=``, ``=>``), then its value: a quoted value is taken whole, escapes included,
# up to its closing quote (or the end of a truncated body); only an unquoted value stops at the
# first ``&;,}`` or blank.
_SECRET_RE = re.compile(
    r"""(\[?\\?["']?(?:%s)\\?["']?\]?\s*(?:=>|[:=])\s*)"""
    # \"…\" (JSON quoted inside a JSON string)
    r'(\\"(?:[^\\]|\\[^"\\]|\\\\(?:\\.|[^\\]))*(?:\\"|$)'
    r'|"(?:[^"\\]|\\.)*"?'  # "…" with \" escapes
    r"|'(?:[^'\\]|\\.)*'?"  # '…' (PHP)
    r"|&(?:quot|#0*34);.*?(?:&(?:quot|#0*34);|$)"  # &quot;…&quot; (an HTML page quoting it)
    r'|[^"&;,}\s]*)' % "|".join(SECRET_FIELDS),
    re.IGNORECASE | re.DOTALL,
)
# PHP's print_r / var_dump of an array (an error page dumping the request):
# ``[password] => hunter 22`` or ``["password"]=> string(9) "hunter 22"``; the value runs to the end
# of its line.
_DUMP_RE = re.compile(
    r"""(\[["']?(?:%s)["']?\]\s*=>\s*(?:string\(\d+\)\s*)?)([^\n]*)""" % "|".join(SECRET_FIELDS),
    re.IGNORECASE,
)
_QUOTE_RE = re.compile(r'\\"|"|\'|&(?:quot|#0*34);')
_EMPTY_DATES = {"", "0000-00-00", "0000-00-00 00:00:00"}


def to_int(value: Any, default: int = 0) -> int:
    """``"118"`` → 118; empty or ``None`` → ``default``; ``"12.00"`` → 12."""
    if value is None or value == "":
        return default
    if isinstance(value, (bool, int)):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        return int(to_decimal(value))


def to_opt_int(value: Any) -> int | None:
    """Like :func:`to_int`, but 0 and empty are ``None`` (WHMCS's "no server")."""
    number = to_int(value)
    return number or None


def to_decimal(value: Any) -> Decimal:
    """A money amount: ``"12.95"`` → ``Decimal("12.95")``; empty → ``Decimal("0")``."""
    if value is None or value == "":
        return Decimal("0")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation as err:
        raise ValueError(f"not an amount: {value!r}") from err


def to_bool(value: Any) -> bool:
    """``true``/``1``/``"on"`` and friends → ``True``."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def to_date(value: Any) -> dt.date | None:
    """``"2026-12-15"`` → a date; ``"0000-00-00"`` and empty → ``None``."""
    text = "" if value is None else str(value).strip()
    if text in _EMPTY_DATES:
        return None
    return dt.date.fromisoformat(text[:10])


def to_datetime(value: Any) -> dt.datetime | None:
    """``"2026-11-22 03:00:00"`` (or ISO 8601) → a datetime; ``"0000-00-00 00:00:00"`` and
    empty → ``None``."""
    text = "" if value is None else str(value).strip()
    if text in _EMPTY_DATES:
        return None
    return dt.datetime.fromisoformat(text)


def items(
    reply: Mapping[str, Any], container: str, item: str | None = None
) -> list[dict[str, Any]]:
    """The list inside ``reply[container][item]`` (or ``reply[container]`` when ``item`` is
    ``None``).

    Copes with ``""`` / ``None`` / ``[]`` when empty, a single dict instead of a list, and the
    flattened ``container[item][0][key]`` form.
    """
    value = reply.get(container)
    if value is None:
        return _flattened(reply, container, item)
    if isinstance(value, dict) and item is not None:
        value = value.get(item)
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


def _flattened(reply: Mapping[str, Any], container: str, item: str | None) -> list[dict[str, Any]]:
    prefix = f"{container}[{item}][" if item else f"{container}["
    rows: dict[int, dict[str, Any]] = {}
    for key, value in reply.items():
        match = (
            re.fullmatch(r"(\d+)\]\[([^\]]+)\]", key[len(prefix) :])
            if key.startswith(prefix)
            else None
        )
        if match:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value
    return [rows[i] for i in sorted(rows)]


def strings(value: Any, item: str | None = None) -> list[str]:
    """A list of names from a list, a ``{item: [...]}`` container, or a comma-separated string."""
    if isinstance(value, dict) and item is not None:
        value = value.get(item)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def form_fields(params: Mapping[str, Any]) -> dict[str, str]:
    """Request params as PHP form fields: ``None`` dropped, lists/dicts in PHP's ``key[i]``
    notation, bools 1/0, dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DD HH:MM:SS``."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out.update({f"{key}[{i}]": form_value(v) for i, v in enumerate(value)})
        elif isinstance(value, dict):
            out.update({f"{key}[{k}]": form_value(v) for k, v in value.items()})
        else:
            out[key] = form_value(value)
    return out


def form_value(value: Any) -> str:
    """One value as WHMCS expects it in a form field."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret value (:func:`~puq_bridge.logs.mask_secrets`) and the whole
    value of every ``password``-like field masked; a quoted value keeps its quotes
    (``"password": "********"``)."""
    text = _DUMP_RE.sub(
        lambda m: m.group(1) + (MASK if m.group(2).strip() else ""), mask_secrets(text, secrets)
    )
    return _SECRET_RE.sub(_mask_field, text)


def _mask_field(match: re.Match) -> str:
    name, value = match.group(1), match.group(2)
    quote = _QUOTE_RE.match(value)
    if quote is None:
        return name + (MASK if value else "")
    opening = quote.group(0)
    closed = (
        len(value) >= 2 * len(opening) and _QUOTE_RE.fullmatch(value[-len(opening) :]) is not None
    )
    inner = value[len(opening) : len(value) - len(opening) if closed else None]
    return name + opening + (MASK if inner else "") + (value[-len(opening) :] if closed else "")


def snippet(body: str, secrets: Iterable[str | None] = (), limit: int = 120) -> str:
    """A short one-line, secret-free quote of a reply body: an HTML page's title or text, else its
    start."""
    title = re.search(r"<title[^>]*>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
    text = title.group(1) if title else re.sub(r"<[^>]+>", " ", body) if "<" in body[:200] else body
    # Masked before and after decoding entities: before, a ``&quot;…&quot;`` value is taken whole
    # even with a raw quote inside; after, ``&quot;password&quot;:`` and ``=&gt;`` are read as the
    # quotes and arrows they are.
    text = " ".join(redact(html.unescape(redact(text, secrets)), secrets).split())
    if not text:
        return "empty body"
    return repr(text if len(text) <= limit else text[:limit] + "…")
