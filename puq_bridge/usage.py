"""The usage model: mailboxes, per-domain totals, and the units WHMCS and the templates use.

Zimbra reports bytes, and ``limit == 0`` means unlimited. WHMCS ``diskusage``/``disklimit`` are whole MB of
1,048,576 bytes rounded up (a non-empty mailbox never shows 0 MB). Templates show GB of 1024**3 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

MB = 1024 * 1024
GB = 1024 * MB


def bytes_to_mb(value: int) -> int:
    """Whole MB (1,048,576 bytes), rounded up: 1 byte is 1 MB, 0 bytes is 0 MB."""
    if value < 0:
        raise ValueError(f"byte count cannot be negative: {value}")
    return -(-value // MB)


def bytes_to_gb(value: int) -> float:
    """GB of 1024**3 bytes as a float (the templates round it for display)."""
    return value / GB


def percent(used: int, limit: int) -> float | None:
    """``used`` as a percentage of ``limit``; ``None`` when the limit is 0 (unlimited), never a division by zero."""
    if limit <= 0:
        return None
    return 100.0 * used / limit


@dataclass(frozen=True)
class MailboxUsage:
    """One mailbox as GetQuotaUsage reports it: bytes used and the effective quota (0 = unlimited)."""

    name: str
    used_bytes: int
    limit_bytes: int
    id: str = ""

    @property
    def unlimited(self) -> bool:
        """True when the mailbox has no quota."""
        return self.limit_bytes <= 0

    @property
    def percent(self) -> float | None:
        """Percent of the quota used, ``None`` when unlimited."""
        return percent(self.used_bytes, self.limit_bytes)


@dataclass(frozen=True)
class DomainUsage:
    """The mailboxes of one mail domain and their totals."""

    domain: str
    mailboxes: tuple[MailboxUsage, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, domain: str, mailboxes: Iterable[MailboxUsage]) -> "DomainUsage":
        """Build from any iterable of mailboxes."""
        return cls(domain, tuple(mailboxes))

    @property
    def used_bytes(self) -> int:
        """Sum of the mailboxes' used bytes."""
        return sum(m.used_bytes for m in self.mailboxes)

    @property
    def mailbox_limit_bytes(self) -> int:
        """Sum of the mailbox quotas; 0 (unlimited) as soon as one mailbox is unlimited, or there are none."""
        if not self.mailboxes or any(m.unlimited for m in self.mailboxes):
            return 0
        return sum(m.limit_bytes for m in self.mailboxes)

    def limit_bytes(self, product_total_bytes: int | None = None) -> int:
        """The limit shown for the service: the product's total space when set, else :attr:`mailbox_limit_bytes`."""
        if product_total_bytes and product_total_bytes > 0:
            return product_total_bytes
        return self.mailbox_limit_bytes


def total_space_from_options(options: Mapping[str, str]) -> int | None:
    """The product's total space in bytes from a service's configurable options, or ``None`` when not set.

    The option is the one whose name starts with "Total space" (case-insensitive, e.g. "Total space (GB)"); its value
    is a number of GB (1024**3 bytes), optionally with a trailing unit ("50", "50 GB", "1,5"). 0 or empty: not set.
    """
    for name, value in options.items():
        if name.strip().lower().startswith("total space"):
            text = str(value).strip().lower().removesuffix("gb").strip().replace(",", ".")
            try:
                gb = float(text) if text else 0.0
            except ValueError:
                return None
            return int(gb * GB) if gb > 0 else None
    return None
