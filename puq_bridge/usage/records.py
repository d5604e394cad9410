"""The usage store's records: what a sync run found per service, the newest reading of a service,
its product settings as the adapter kept them, and one day of history. Plain frozen dataclasses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from puq_bridge.whmcs.params import TENANCIES
from puq_bridge.zimbra.models import MailboxUsage

STATUSES = ("updated", "unchanged", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class ServiceResult:
    """What one sync run found for one WHMCS service.

    ``status`` is ``updated``, ``unchanged``, ``failed`` or ``skipped``.
    ``mailboxes``: a tuple, or the sync's compact :class:`~puq_bridge.usage.model.MailboxTable`.
    ``used_bytes``/``limit_bytes`` are ``None`` when nothing was read (a failed Zimbra read, a
    skipped service); a failed WHMCS write keeps the data it read. ``tenancy`` says what was read:
    ``domain`` (the service's domain) or ``server`` (its whole private server). ``client_id`` is
    the service's WHMCS client (``None`` when not known), for links to it in WHMCS.
    """

    service_id: int
    domain: str
    server: str
    status: str
    used_bytes: int | None = None
    limit_bytes: int | None = None
    mailboxes: Sequence[MailboxUsage] = ()
    error: str | None = None
    tenancy: str = "domain"
    client_id: int | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(
                f"unknown service result status {self.status!r} (expected one of {STATUSES})"
            )
        if self.tenancy not in TENANCIES:
            raise ValueError(f"unknown tenancy {self.tenancy!r} (expected one of {TENANCIES})")

    @property
    def has_data(self) -> bool:
        """True when usage was read for this service."""
        return self.used_bytes is not None


@dataclass(frozen=True)
class Snapshot:
    """The newest successful reading of a service, plus the error of a failed attempt at or after it
    (if any).

    ``tenancy`` says what the reading covers: ``domain`` (the service's domain) or ``server`` (every
    mailbox of the service's private server).
    """

    service_id: int
    domain: str
    server: str
    taken_at: dt.datetime
    used_bytes: int
    limit_bytes: int
    mailboxes: tuple[MailboxUsage, ...] = field(default_factory=tuple)
    error: str | None = None
    failed_at: dt.datetime | None = None
    tenancy: str = "domain"


@dataclass(frozen=True)
class ServiceSettings:
    """A service's product module settings as the adapter last received them (WHMCS's API never
    returns them).

    ``total_space_bytes``: setting 3, ``None`` when not set. ``tenancy``: setting 6, ``None`` when
    not known yet — the service is then treated as tenancy ``domain``.
    """

    total_space_bytes: int | None = None
    tenancy: str | None = None

    @property
    def private_server(self) -> bool:
        """True when the service is a private server (tenancy ``server``): its usage is the whole
        server's."""
        return self.tenancy == "server"


@dataclass(frozen=True)
class ServerStats:
    """What the sync learnt of one ``[[zimbra]]`` server, for choosing the next run's read plan
    (:mod:`puq_bridge.usage.plan`).

    ``accounts``: the accounts homed on the server (a whole-server read's ``searchTotal``, or
    GetMailboxStats' mailbox count), measured at ``accounts_at``; ``None`` when never measured.
    ``bridge_rows``: the rows the bridge's domains on it had (system accounts left out), and
    ``domains`` how many domains that was, at the last run that read them.
    """

    server: str
    accounts: int | None = None
    accounts_at: dt.datetime | None = None
    bridge_rows: int | None = None
    domains: int | None = None


@dataclass(frozen=True)
class DailyPoint:
    """One day of a service's history: the day's last successful reading."""

    day: dt.date
    used_bytes: int
    limit_bytes: int


@dataclass(frozen=True)
class SignOn:
    """One sign-on the bridge made: the service (``None`` for staff into a server's console), the
    account signed in, when (UTC), and the WHMCS module function that asked for it."""

    service_id: int | None
    mailbox: str
    function: str
    signed_at: dt.datetime


@dataclass(frozen=True)
class MailboxAction:
    """One mailbox action a client asked for (the audit): the service, the WHMCS user id ("" when
    unknown), the client-area function, its target address, the result (``ok``, ``refused`` or
    ``failed``), the reason or cause (never a password) and when (UTC)."""

    service_id: int
    user_id: str
    action: str
    target: str
    result: str
    detail: str
    acted_at: dt.datetime

    def to_json(self) -> dict:
        """The record as ``--json`` prints it."""
        return {
            "service_id": self.service_id,
            "user_id": self.user_id or None,
            "action": self.action,
            "target": self.target,
            "result": self.result,
            "detail": self.detail,
            "at": self.acted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
