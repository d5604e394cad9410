"""The usage model: mailboxes, per-domain totals, and the units WHMCS and the templates use.

Zimbra reports bytes, and ``limit == 0`` means unlimited. WHMCS ``diskusage``/``disklimit`` are
whole MB of 1,048,576 bytes rounded up (a non-empty mailbox never shows 0 MB). Templates show GB of
1024**3 bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from puq_bridge.units import parse_total_space
from puq_bridge.zimbra.models import MailboxUsage

log = logging.getLogger(__name__)

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
        """Sum of the mailbox quotas; 0 (unlimited) as soon as one mailbox is unlimited, or there
        are none."""
        if not self.mailboxes or any(m.unlimited for m in self.mailboxes):
            return 0
        return sum(m.limit_bytes for m in self.mailboxes)

    def limit_bytes(self, product_total_bytes: int | None = None) -> int:
        """The limit shown for the service: the product's total space when set, else
        :attr:`mailbox_limit_bytes`."""
        if product_total_bytes and product_total_bytes > 0:
            return product_total_bytes
        return self.mailbox_limit_bytes


def total_space_from_options(options: Mapping[str, str] | None) -> int | None:
    """The total space a client chose as a configurable option, in bytes, or ``None`` when not set.

    The option is the one whose name starts with "Total space" (case-insensitive, e.g. "Total space
    (GB)"), its value read by :func:`parse_total_space`. A value that is not a number of GB counts
    as not set (logged): the client cannot fix it and the page must still show.
    """
    for name, value in (options or {}).items():
        if str(name).strip().lower().startswith("total space"):
            try:
                return parse_total_space(value)
            except ValueError as err:
                log.info("configurable option %r ignored: %s", str(name)[:60], err)
                return None
    return None


def service_total_space(
    options: Mapping[str, str] | None, product_total_bytes: int | None
) -> int | None:
    """THE rule for a service's total space, used by the sync and by the client-area tabs.

    A configurable option "Total space…" the client chose wins; else the product's module setting
    "Total space (GB)" (``product_total_bytes``: from the params on the adapter's path, from the
    store on the sync's and the ``render`` command's); else ``None``, and the service's limit is the
    sum of its mailbox quotas (:meth:`DomainUsage.limit_bytes`, 0 = unlimited when one mailbox is).
    """
    chosen = total_space_from_options(options)
    if chosen:
        return chosen
    return product_total_bytes if product_total_bytes and product_total_bytes > 0 else None


def service_limit_bytes(
    usage: DomainUsage, options: Mapping[str, str] | None, product_total_bytes: int | None
) -> int:
    """The limit of a service whose mailboxes are ``usage``: :func:`service_total_space`, else the
    quotas' sum."""
    return usage.limit_bytes(service_total_space(options, product_total_bytes))
