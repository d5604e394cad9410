"""The records the Zimbra admin client returns: accounts, domains, directory entries, quota usage,
version.

Plain frozen dataclasses with no zeep in them, so code that only handles results (the sync, the
tabs) need not import zeep.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from puq_bridge.units import percent

__all__ = [
    "Account",
    "AccountInfo",
    "DirectoryEntry",
    "Domain",
    "Cos",
    "QuotaUsage",
    "SystemAccounts",
    "VersionInfo",
    "Grant",
    "DIRECTORY_TYPES",
]

#: SearchDirectory ``types`` → the reply element (``DirectoryEntry.kind``) of each. ``accounts``
#: leaves out calendar resources and distribution lists, and ``distributionlists`` leaves out
#: dynamic groups (a ``<dl dynamic="1">``), which all keep a domain from being deleted the same.
DIRECTORY_TYPES = {
    "accounts": "account",
    "resources": "calresource",
    "distributionlists": "dl",
    "dynamicgroups": "dl",
    "aliases": "alias",
}


@dataclass(frozen=True)
class MailboxUsage:
    """One mailbox as GetQuotaUsage reports it: bytes used and the effective quota
    (0 = unlimited)."""

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
class Account:
    """A Zimbra account: name, zimbraId, and the ``<a n=…>`` attributes asked for (multi-valued as
    lists)."""

    name: str
    id: str
    attrs: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class DirectoryEntry:
    """One SearchDirectory hit: ``kind`` (``account``, ``calresource``, ``dl`` or ``alias``), name,
    zimbraId, attributes, and for an alias the name of the account or list it points to
    (``target``)."""

    kind: str
    name: str
    id: str
    attrs: dict[str, str | list[str]] = field(default_factory=dict)
    target: str | None = None


@dataclass(frozen=True)
class AccountInfo:
    """GetAccountInfo: where the account lives and its webmail URL."""

    name: str
    id: str
    mail_host: str
    public_mail_url: str | None
    admin_soap_url: str | None


@dataclass(frozen=True)
class Domain:
    """A Zimbra domain with its attributes (``zimbraDomainStatus``,
    ``zimbraDomainMaxAccounts``...)."""

    name: str
    id: str
    attrs: dict[str, str | list[str]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``zimbraDomainStatus`` (``active`` when absent)."""
        value = self.attrs.get("zimbraDomainStatus", "active")
        return value[0] if isinstance(value, list) else value


@dataclass(frozen=True)
class Cos:
    """A class of service."""

    name: str
    id: str
    attrs: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class QuotaUsage:
    """One GetQuotaUsage reply: the page of mailboxes, whether more follow, and the total count."""

    accounts: list[MailboxUsage]
    more: bool
    total: int


@dataclass(frozen=True)
class SystemAccounts:
    """The accounts Zimbra keeps for itself (``zimbraIsSystemAccount`` or ``zimbraIsSystemResource``
    TRUE: GAL sync, spam and ham training, virus quarantine): their zimbraIds and lower-case names.

    GetQuotaUsage lists them beside a domain's mailboxes without telling them apart; they are not a
    client's mailboxes, so :meth:`covers` is how usage reads leave them out.
    """

    ids: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()

    def covers(self, mailbox: MailboxUsage) -> bool:
        """Whether ``mailbox`` (a GetQuotaUsage row) is one of these accounts (by id, else by
        name)."""
        return (bool(mailbox.id) and mailbox.id in self.ids) or mailbox.name.lower() in self.names


@dataclass(frozen=True)
class VersionInfo:
    """GetVersionInfo."""

    version: str
    release: str
    host: str
    platform: str


@dataclass(frozen=True)
class Grant:
    """One ACL grant as GetGrants reports it: a right on a target (a domain, or ``global``)
    given to a grantee (``usr`` for an account)."""

    target_type: str
    target_id: str
    target_name: str
    grantee_type: str
    grantee_id: str
    grantee_name: str
    right: str
    deny: bool = False
    can_delegate: bool = False
