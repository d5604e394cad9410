"""``ZimbraAdmin``: the Zimbra SOAP admin API through zeep, over a WSDL written for this project.

INTERFACE STUB — the dataclasses and method signatures below are the contract other modules code against.
Bodies marked ``NotImplementedError`` are being implemented; keep names, arguments and return types.
Importing this module imports zeep: the CLI imports it lazily, only in commands that talk to Zimbra.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import requests

from .usage import MailboxUsage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    """A Zimbra account: name, zimbraId, and the ``<a n=…>`` attributes asked for (multi-valued as lists)."""

    name: str
    id: str
    attrs: dict[str, str | list[str]] = field(default_factory=dict)


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
    """A Zimbra domain with its attributes (``zimbraDomainStatus``, ``zimbraDomainMaxAccounts``...)."""

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
class VersionInfo:
    """GetVersionInfo."""

    version: str
    release: str
    host: str
    platform: str


class ZimbraAdmin:
    """Client of one Zimbra server's admin SOAP endpoint (``<url>/service/admin/soap``).

    Args:
        url: ``https://host:7071`` (the path is added).
        admin_user, password: an admin account.
        name: a short name used in errors and logs (default: the URL's host).
        verify: ``True``, ``False`` (logged warning) or a CA bundle path.
        timeout: seconds, or ``(connect, read)``.
        session: a ``requests.Session`` to use.
        token_margin: re-authenticate this many seconds before the token's lifetime ends.
    """

    def __init__(self, url: str, admin_user: str, password: str, *, name: str | None = None,
                 verify: bool | str = True, timeout: float | tuple[float, float] = 30,
                 session: requests.Session | None = None, token_margin: float = 60):
        raise NotImplementedError

    def authenticate(self) -> None:
        """AuthRequest now (normally done lazily by the first call); caches token and lifetime."""
        raise NotImplementedError

    def version_info(self) -> VersionInfo:
        """GetVersionInfo."""
        raise NotImplementedError

    def get_account(self, name: str | None = None, *, id: str | None = None,
                    attrs: list[str] | None = None) -> Account:
        """GetAccount by name or id (``applyCos=1``); raises NoSuchAccount."""
        raise NotImplementedError

    def account_info(self, name: str) -> AccountInfo:
        """GetAccountInfo."""
        raise NotImplementedError

    def create_account(self, name: str, password: str, attrs: Mapping[str, str] | None = None) -> Account:
        """CreateAccount; raises AccountExists."""
        raise NotImplementedError

    def modify_account(self, id: str, attrs: Mapping[str, str]) -> Account:
        """ModifyAccount (an empty value removes the attribute)."""
        raise NotImplementedError

    def set_password(self, id: str, password: str) -> str | None:
        """SetPassword; returns the server's policy message, if any."""
        raise NotImplementedError

    def delete_account(self, id: str) -> None:
        """DeleteAccount."""
        raise NotImplementedError

    def search_accounts(self, domain: str, *, attrs: list[str] | None = None,
                        page_size: int = 500) -> Iterator[Account]:
        """SearchDirectory ``types=accounts`` in a domain, all pages."""
        raise NotImplementedError

    def all_accounts(self, domain: str) -> list[Account]:
        """GetAllAccounts of a domain (no paging)."""
        raise NotImplementedError

    def count_accounts(self, domain: str) -> int:
        """CountAccount: the domain's accounts summed over classes of service."""
        raise NotImplementedError

    def create_domain(self, name: str, attrs: Mapping[str, str] | None = None) -> Domain:
        """CreateDomain; raises DomainExists."""
        raise NotImplementedError

    def get_domain(self, name: str | None = None, *, id: str | None = None,
                   attrs: list[str] | None = None) -> Domain:
        """GetDomain by name or id; raises NoSuchDomain."""
        raise NotImplementedError

    def all_domains(self) -> list[Domain]:
        """GetAllDomains."""
        raise NotImplementedError

    def modify_domain(self, id: str, attrs: Mapping[str, str]) -> Domain:
        """ModifyDomain."""
        raise NotImplementedError

    def delete_domain(self, id: str) -> None:
        """DeleteDomain; raises DomainNotEmpty."""
        raise NotImplementedError

    def get_cos(self, name: str | None = None, *, id: str | None = None) -> Cos:
        """GetCos by name or id; raises NoSuchCos."""
        raise NotImplementedError

    def quota_usage(self, domain: str | None = None, *, all_servers: bool = True, limit: int = 0,
                    offset: int = 0, sort_by: str = "totalUsed", refresh: bool = True) -> QuotaUsage:
        """GetQuotaUsage: one page (``limit=0`` = all). The reply is parsed with lxml directly (hot path)."""
        raise NotImplementedError

    def domain_usage(self, domain: str, *, page_size: int = 0) -> list[MailboxUsage]:
        """Every mailbox of a domain with used/limit bytes, in as few GetQuotaUsage requests as ``page_size`` allows."""
        raise NotImplementedError

    def mailbox_size(self, account_id: str) -> int:
        """GetMailbox: the mailbox's size in bytes."""
        raise NotImplementedError

    def mailbox_stats(self) -> tuple[int, int]:
        """GetMailboxStats of the receiving server: ``(number of mailboxes, total bytes)``."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the HTTP session."""
        raise NotImplementedError
