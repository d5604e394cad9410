"""The read plan of one Zimbra server: one whole-server GetQuotaUsage, or one per domain.

The cost model, in two lines:

    cost = requests x REQUEST_COST_ROWS + rows read (REQUEST_COST_ROWS = 1,000)
    per domain: one request per domain of the bridge's services, their rows; whole server:
    ceil(accounts / page_rows) requests, every account on it — the cheaper plan wins.

The rows of the bridge's domains and the server's accounts are what the store learnt last run
(:class:`~puq_bridge.usage.records.ServerStats`); the bridge's rows count as none when not known
yet (which favours the per-domain plan), and a server whose accounts were never counted (or not
for :data:`STATS_MAX_AGE`) is counted first with one GetMailboxStats (:func:`needs_count`). A
request costs as much as a thousand rows: it is a round trip, a slot of the server's DoS-filter
budget (a few tens a second) and, on the server, a directory search and a mailbox-size query of
its own, while a row is ~130 bytes parsed in a few microseconds.

A private-server service (tenancy ``server``) needs the whole server anyway: its server is read
whole and its domains come from the same reply. ``[[zimbra]] read_plan`` can force either plan: a
cluster whose domains spread over several mailbox servers needs ``domain``, as a whole-server read
only sees the mailboxes homed on the server it asks (Zimbra's ``allServers`` only works with a
domain).

:class:`DomainRows` groups the rows of a whole-server reply by domain as they arrive, keeping the
mailboxes only of the domains the run needs (system accounts left out) and a count of the rest.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Iterable

from puq_bridge.usage.model import MailboxTable
from puq_bridge.usage.records import ServerStats
from puq_bridge.zimbra.models import SystemAccounts

#: One request costs as much as reading this many rows.
REQUEST_COST_ROWS = 1_000
#: How long a server's account count is trusted before it is counted again.
STATS_MAX_AGE = dt.timedelta(days=7)

SERVER, DOMAIN = "server", "domain"


@dataclass(frozen=True)
class ReadPlan:
    """How one server is read: ``plan`` (``server`` or ``domain``), ``why`` (one line for the
    report), and the GetQuotaUsage requests it expects."""

    plan: str
    why: str
    requests: int


def cost(requests: int, rows: int) -> int:
    """The cost model: requests weighted in rows, plus rows."""
    return requests * REQUEST_COST_ROWS + rows


def pages(accounts: int, page_rows: int) -> int:
    """GetQuotaUsage requests of a whole-server read of ``accounts`` in pages of ``page_rows``."""
    return max(1, math.ceil(accounts / page_rows))


def needs_count(
    stats: ServerStats | None, domains: int, now: dt.datetime, forced: str = "auto"
) -> bool:
    """Whether the server's accounts must be counted (GetMailboxStats) before choosing: only when
    the choice depends on it (more than one domain, no forced plan) and the store's count is
    missing or older than :data:`STATS_MAX_AGE`."""
    if forced != "auto" or domains < 2:
        return False
    return stats is None or stats.accounts is None or not _fresh(stats, now)


def _fresh(stats: ServerStats, now: dt.datetime) -> bool:
    return stats.accounts_at is not None and now - stats.accounts_at <= STATS_MAX_AGE


def choose(
    domains: int,
    *,
    private: bool = False,
    accounts: int | None = None,
    bridge_rows: int | None = None,
    page_rows: int = 100_000,
    forced: str = "auto",
    unknown: str | None = None,
) -> ReadPlan:
    """The plan for a server with ``domains`` domains of the bridge's services (tenancy
    ``domain``), by the cost model of the module docstring.

    Args:
        domains: the domains read for tenancy-``domain`` services.
        private: a private-server service is on it (the whole server is read anyway).
        accounts: the accounts on the server (``None``: not known).
        bridge_rows: the rows of those domains last run (``None``: not known, counted as 0).
        page_rows: rows per whole-server page.
        forced: ``[[zimbra]] read_plan`` (``auto``, ``server``, ``domain``).
        unknown: why ``accounts`` is not known (the count failed), for the report.
    """
    if forced == SERVER:
        n = pages(accounts, page_rows) if accounts is not None else 1
        return ReadPlan(SERVER, "read_plan = server in its [[zimbra]] entry", n)
    if forced == DOMAIN:
        extra = " (and the whole server once, for its private-server services)" if private else ""
        return ReadPlan(DOMAIN, f"read_plan = domain in its [[zimbra]] entry{extra}", domains)
    if private:
        n = pages(accounts, page_rows) if accounts is not None else 1
        why = "a private-server service needs the whole server"
        if domains:
            why += f"; its {domains} domain(s) come from the same reply"
        return ReadPlan(SERVER, why, n)
    if domains <= 1:
        return ReadPlan(DOMAIN, "one domain: one request whichever plan", domains)
    if accounts is None:
        why = f"the server's accounts are not known ({unknown})" if unknown else "not counted"
        return ReadPlan(DOMAIN, why, domains)
    rows = bridge_rows or 0
    whole = pages(accounts, page_rows)
    per_domain, per_server = cost(domains, rows), cost(whole, accounts)
    their = "rows not known yet, counted as none" if bridge_rows is None else f"{rows:,} rows"
    numbers = f"{whole} request(s) for {accounts:,} accounts vs {domains:,} requests ({their})"
    if per_server < per_domain:
        return ReadPlan(SERVER, f"cheaper: {numbers}", whole)
    return ReadPlan(DOMAIN, f"cheaper per domain: {numbers}", domains)


class DomainRows:
    """Groups the rows of a whole-server GetQuotaUsage by domain as they arrive.

    The mailboxes of the ``wanted`` domains (every domain when ``everything``: a private-server
    service) are kept, without the server's system accounts, in columns
    (:class:`~puq_bridge.usage.model.MailboxTable`: ~90 bytes a mailbox); of the others only a
    count is kept. Domains are compared in lower case.

    Args:
        wanted: the domains the run needs.
        system: the accounts Zimbra keeps for itself.
        everything: keep every domain's mailboxes.
    """

    def __init__(self, wanted: Iterable[str], system: SystemAccounts, *, everything: bool = False):
        self.wanted = frozenset(d.lower() for d in wanted)
        self.system, self.everything = system, everything
        self._tables = {d: MailboxTable.Builder() for d in self.wanted}
        self._screen = bool(system.ids or system.names)
        #: rows seen in all, and rows that were system accounts among the kept domains.
        self.rows = self.system_rows = 0

    def add(self, name: str, id: str, used: int, limit: int) -> None:
        """One row (a :data:`~puq_bridge.zimbra.soap.QuotaRow`). The hot loop of a whole-server
        read: a dictionary look-up for a domain the run does not need, a few appends for one it
        does."""
        self.rows += 1
        domain = name[name.rfind("@") + 1 :]
        table = self._tables.get(domain)
        if table is None:
            lowered = domain.lower()  # Zimbra's names are lower case; just in case
            table = self._tables.get(lowered)
            if table is None:
                if not self.everything:
                    return
                table = self._tables[lowered] = MailboxTable.Builder()
        if self._screen:
            system = self.system  # SystemAccounts.covers, without a MailboxUsage per row
            if (id and id in system.ids) or name.lower() in system.names:
                self.system_rows += 1
                return
        table.text += f"{name}\n{id}\n".encode()
        table.nums.extend((used, limit))

    def of(self, domain: str) -> MailboxTable | None:
        """The mailboxes of a wanted domain; ``None`` when the reply had none (read it on its own:
        it may not exist, or live on another mailbox server)."""
        table = self._tables.get(domain.lower())
        return table.build() if table else None

    def everyone(self) -> MailboxTable:
        """Every kept mailbox (the whole server's, with ``everything``)."""
        return MailboxTable.concat(t.build() for t in self._tables.values() if t)

    @property
    def kept(self) -> int:
        """Mailboxes kept (of the wanted domains, system accounts left out)."""
        return sum(len(t) for t in self._tables.values())

    def wanted_rows(self) -> int:
        """Rows of the wanted domains (system accounts left out)."""
        return sum(len(self._tables.get(d, ())) for d in self.wanted)
