"""Reading a Zimbra server now: a client built from a config entry, the one rule for what a
service's usage read covers (:func:`read_usage`), and a usage snapshot from one live read.

The adapter's ClientArea and the ``render`` command (a service the store has no reading of its
tenancy for yet) use these, and the sync reads through :func:`read_usage`, so all three show the
same numbers. Importing this module does not import zeep: :func:`zimbra_from_config` imports it when
called (the CLI starts without it).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from puq_bridge.errors import PuqBridgeError
from puq_bridge.usage.model import DomainUsage
from puq_bridge.usage.records import Snapshot
from puq_bridge.zimbra.models import MailboxUsage

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.zimbra.client import ZimbraAdmin

log = logging.getLogger(__name__)


def read_usage(zimbra: "ZimbraAdmin", domain: str | None) -> list[MailboxUsage]:
    """The mailboxes a service's usage covers, in one GetQuotaUsage (``limit=0``: all of them),
    without the accounts Zimbra keeps for itself
    (:meth:`~puq_bridge.zimbra.client.ZimbraAdmin.system_accounts`: GAL sync, spam/ham, virus
    quarantine), which GetQuotaUsage lists beside a client's mailboxes: they are not the client's,
    so they count in no table, number, used space or sum of quotas.

    ``domain`` (tenancy ``domain``): that domain's mailboxes, on every mailbox server
    (``allServers``). ``None`` (tenancy ``server``, a private server): every mailbox homed on
    the server the request goes to — Zimbra's scope without a domain (which needs system-admin
    rights).
    """
    if domain is None:
        mailboxes: list[MailboxUsage] = []
        zimbra.server_usage(
            lambda name, id, used, limit: mailboxes.append(MailboxUsage(name, used, limit, id))
        )
    else:
        mailboxes = zimbra.domain_usage(domain)
    system = zimbra.system_accounts()
    return [m for m in mailboxes if not system.covers(m)]


def live_snapshot(
    zimbra: "ZimbraAdmin",
    domain: str,
    *,
    service_id: int,
    tenancy: str = "domain",
    total_space_bytes: int | None = None,
    now: dt.datetime | None = None,
) -> Snapshot | None:
    """A store :class:`~puq_bridge.usage.records.Snapshot` of a service read from Zimbra now;
    ``None`` when the read fails (logged as a warning: the page then shows "no data" rather than an
    error).

    Args:
        zimbra: the service's server.
        domain: the service's mail domain.
        service_id: the WHMCS service id (only recorded in the snapshot and the log).
        tenancy: ``domain`` reads the domain's mailboxes (one GetQuotaUsage); ``server`` (a private
            server) reads every mailbox on the server.
        total_space_bytes: the service's total space
            (:func:`~puq_bridge.usage.model.service_total_space`); ``None``: the sum of the mailbox
            quotas.
        now: the snapshot's time (default: now, UTC).
    """
    try:
        mailboxes = read_usage(zimbra, None if tenancy == "server" else domain)
    except PuqBridgeError as err:
        log.warning("service %s: live read failed on %s: %s", service_id, zimbra.name, err)
        return None
    usage = DomainUsage.of(domain, mailboxes)
    log.info(
        "service %s: usage read live from %s (%d mailboxes)",
        service_id,
        zimbra.name,
        len(usage.mailboxes),
    )
    return Snapshot(
        service_id=service_id,
        domain=domain,
        server=zimbra.name,
        taken_at=now or dt.datetime.now(dt.timezone.utc),
        used_bytes=usage.used_bytes,
        limit_bytes=usage.limit_bytes(total_space_bytes),
        mailboxes=usage.mailboxes,
        tenancy="server" if tenancy == "server" else "domain",
    )
