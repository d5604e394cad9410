"""The usage model: mailboxes, per-domain totals, and the units WHMCS and the templates use.

Zimbra reports bytes, and ``limit == 0`` means unlimited. WHMCS ``diskusage``/``disklimit`` are
whole MB of 1,048,576 bytes rounded up (a non-empty mailbox never shows 0 MB). Templates show GB of
1024**3 bytes.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

from puq_bridge.units import parse_total_space
from puq_bridge.zimbra.models import MailboxUsage

log = logging.getLogger(__name__)


class MailboxTable(Sequence):
    """An immutable sequence of :class:`~puq_bridge.zimbra.models.MailboxUsage` kept in two
    columns: the names and zimbraIds as one string (``name\\nid\\n…``), used and limit bytes as
    one 64-bit array: about 90 bytes a mailbox instead of ~270 as objects, so the mailboxes a sync
    keeps for the store (a million, on a big server) fit in a flat amount of memory. Each item is
    made when asked for.

    Build one with :class:`MailboxTable.Builder` (row by row) or :meth:`of`; it compares equal to
    any sequence of the same mailboxes.
    """

    __slots__ = ("_text", "_nums")

    class Builder:
        """Collects rows, then :meth:`build` makes the table. ``text`` and ``nums`` are the
        columns being filled: a hot loop may append to them directly, as :meth:`add` does."""

        __slots__ = ("text", "nums")

        def __init__(self):
            self.text, self.nums = bytearray(), array("q")

        def add(self, name: str, id: str, used: int, limit: int) -> None:
            """One mailbox (names and ids hold no line break: e-mail addresses and zimbraIds)."""
            self.text += f"{name}\n{id}\n".encode()
            self.nums.extend((used, limit))

        def __len__(self) -> int:
            return len(self.nums) // 2

        def build(self) -> "MailboxTable":
            """The table of the rows added so far."""
            return MailboxTable(self.text[:-1].decode(), self.nums)

    def __init__(self, text: str, nums: array):
        self._text, self._nums = text, nums

    @classmethod
    def of(cls, mailboxes: Iterable[MailboxUsage]) -> "MailboxTable":
        """A table of any iterable of mailboxes."""
        if isinstance(mailboxes, MailboxTable):
            return mailboxes
        builder = cls.Builder()
        for m in mailboxes:
            builder.add(m.name, m.id, m.used_bytes, m.limit_bytes)
        return builder.build()

    @classmethod
    def concat(cls, tables: Iterable["MailboxTable"]) -> "MailboxTable":
        """One table of several, in order."""
        tables = [t for t in tables if len(t)]
        nums = array("q")
        for t in tables:
            nums.extend(t._nums)
        return cls("\n".join(t._text for t in tables), nums)

    def __len__(self) -> int:
        return len(self._nums) // 2

    def __iter__(self) -> Iterator[MailboxUsage]:
        if not self._nums:
            return iter(())
        parts, nums = self._text.split("\n"), self._nums
        return map(MailboxUsage, parts[0::2], nums[0::2], nums[1::2], parts[1::2])

    def __getitem__(self, index):
        return tuple(self)[index]

    def __eq__(self, other) -> bool:
        if isinstance(other, MailboxTable):
            return (self._text, self._nums) == (other._text, other._nums)
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"MailboxTable({list(self)!r})"

    @property
    def used_bytes(self) -> int:
        """Sum of the used bytes."""
        return sum(self._nums[0::2])

    @property
    def limit_bytes(self) -> int:
        """Sum of the quotas; 0 (unlimited) as soon as one is unlimited, or there are none."""
        limits = self._nums[1::2]
        if not limits or min(limits) <= 0:
            return 0
        return sum(limits)


@dataclass(frozen=True)
class DomainUsage:
    """The mailboxes of one mail domain and their totals (a tuple, or a :class:`MailboxTable` as
    the sync keeps them)."""

    domain: str
    mailboxes: Sequence[MailboxUsage] = field(default_factory=tuple)

    @classmethod
    def of(cls, domain: str, mailboxes: Iterable[MailboxUsage]) -> "DomainUsage":
        """Build from any iterable of mailboxes (a :class:`MailboxTable` is kept as it is)."""
        if isinstance(mailboxes, MailboxTable):
            return cls(domain, mailboxes)
        return cls(domain, tuple(mailboxes))

    @property
    def used_bytes(self) -> int:
        """Sum of the mailboxes' used bytes."""
        if isinstance(self.mailboxes, MailboxTable):
            return self.mailboxes.used_bytes
        return sum(m.used_bytes for m in self.mailboxes)

    @property
    def mailbox_limit_bytes(self) -> int:
        """Sum of the mailbox quotas; 0 (unlimited) as soon as one mailbox is unlimited, or there
        are none."""
        if isinstance(self.mailboxes, MailboxTable):
            return self.mailboxes.limit_bytes
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
