"""The units WHMCS, Zimbra and the templates use, and the one parser of a "total space" value.

Zimbra reports bytes, and ``limit == 0`` means unlimited. WHMCS ``diskusage``/``disklimit`` are
whole MB of 1,048,576 bytes rounded up (a non-empty mailbox never shows 0 MB). Templates show GB of
1024**3 bytes.
"""

from __future__ import annotations

import re
from typing import Any

MB = 1024 * 1024
GB = 1024 * MB

_TOTAL_SPACE_RE = re.compile(r"^(?:(\d{1,9}(?:[.,]\d{1,9})?)\s*(?:gb)?)?$", re.IGNORECASE)


def bytes_to_mb(value: int) -> int:
    """Whole MB (1,048,576 bytes), rounded up: 1 byte is 1 MB, 0 bytes is 0 MB."""
    if value < 0:
        raise ValueError(f"byte count cannot be negative: {value}")
    return -(-value // MB)


def bytes_to_gb(value: int) -> float:
    """GB of 1024**3 bytes as a float (the templates round it for display)."""
    return value / GB


def percent(used: int, limit: int | None) -> float | None:
    """``used`` as a percentage of ``limit``; ``None`` when the limit is 0 or ``None`` (unlimited),
    never a division by zero."""
    if not limit or limit <= 0:
        return None
    return 100.0 * used / limit


def parse_total_space(value: Any) -> int | None:
    """A total space given in GB (1024**3 bytes) as bytes; ``None`` when not set (0 or empty).

    The one parser of a "total space" value, whether a product's module setting or a client's
    configurable option: accepts ``50``, ``50 GB``, ``50GB``, ``1,5`` and ``1.5`` (any case,
    surrounding spaces).

    Raises:
        ValueError: anything else (words, negative or infinite numbers); the message shows the
            value.
    """
    text = str(value if value is not None else "").strip()
    match = _TOTAL_SPACE_RE.match(text)
    if match is None:
        raise ValueError(f"expected a number of GB (e.g. 50 or 1,5), got {text[:40]!r}")
    if not match.group(1):
        return None
    gb = float(match.group(1).replace(",", "."))
    return int(gb * GB) if gb > 0 else None
