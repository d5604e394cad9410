"""Signing people in to Zimbra with preauth, checked and recorded.

:class:`SignOn` answers the module's sign-on functions with a preauth URL valid for minutes:

- :meth:`SignOn.webmail`: a client into webmail, as the service's primary mailbox or as any
  mailbox of its domain (of its server, for tenancy ``server``) the client names;
- :meth:`SignOn.admin_console`: a domain's delegated admin (the primary mailbox, tenancy
  ``domain``) into the admin console, on the admin port;
- :meth:`SignOn.staff_console`: WHMCS staff into a server's admin console as the bridge's admin.

Before anything is signed it checks what the client may not choose: the service is active in
WHMCS and its domain active on Zimbra, the mailbox belongs to the service (a tampered form naming
another client's mailbox is refused), it is not a system or a global admin account. A refusal is a
:class:`~puq_bridge.errors.SignOnError` whose ``reason`` picks the client's translated message and
whose text is the precise line for the log. Each sign-on is recorded in the usage store; the URL,
which logs its holder in, is returned and never logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from puq_bridge.errors import NoSuchAccount, NoSuchDomain, SignOnError, StoreError, ZimbraError
from puq_bridge.whmcs.params import ServiceTarget
from puq_bridge.zimbra.preauth import DomainKeys, preauth_url

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.config import ZimbraConfig
    from puq_bridge.usage.store import UsageStore
    from puq_bridge.zimbra.client import ZimbraAdmin

log = logging.getLogger(__name__)

ADMIN_PORT = 7071
_NOT_SIGNABLE = ("zimbraIsSystemAccount", "zimbraIsSystemResource", "zimbraIsAdminAccount")
DELEGATED_FLAG = "zimbraIsDelegatedAdminAccount"
_TRUE = ("TRUE", "true", "1")


@dataclass(frozen=True)
class Origins:
    """Where sign-on URLs point: the webmail origin and the admin console's (port 7071)."""

    webmail: str
    admin: str

    @classmethod
    def of(cls, entry: "ZimbraConfig", hostname: str = "") -> "Origins":
        """From a ``[[zimbra]]`` entry's ``webmail_url`` / ``admin_url`` (the addresses the tabs
        show), else ``https://<hostname>`` and ``https://<hostname>:7071``; ``hostname`` defaults
        to the host of the entry's admin URL."""
        host = hostname or urlsplit(entry.url).hostname or ""
        webmail = entry.webmail_url or f"https://{host}/"
        admin = entry.admin_url or f"https://{host}:{ADMIN_PORT}/"
        return cls(_origin(webmail), _origin(admin))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SignOn:
    """Sign-ons on one Zimbra server.

    Args:
        zimbra: the server's admin client.
        origins: where the URLs point.
        keys: the process's :class:`~puq_bridge.zimbra.preauth.DomainKeys`.
        store: where each sign-on is recorded (``None``: not recorded).
        clock: epoch seconds (the URL's timestamp).
    """

    def __init__(
        self,
        zimbra: "ZimbraAdmin",
        origins: Origins,
        *,
        keys: DomainKeys,
        store: "UsageStore | None" = None,
        clock: Callable[[], float] = time.time,
    ):
        self.zimbra, self.origins, self.keys = zimbra, origins, keys
        self.store, self.clock = store, clock

    def webmail(
        self,
        target: ServiceTarget,
        *,
        function: str,
        service_status: str = "",
        tenancy: str = "domain",
        mailbox: str | None = None,
    ) -> str:
        """A webmail URL for the primary mailbox, or for ``mailbox`` (a client's choice: checked).

        Raises:
            SignOnError: refused (see the module docstring) or Zimbra failed.
        """
        _check_service_status(target, service_status)
        wanted = target.mailbox if mailbox is None else _clean(mailbox)
        if mailbox is not None:
            self._check_belongs(target, wanted, tenancy)
        with self._zimbra_failures(target, wanted):
            account = self._check_signable(target, wanted)
            if mailbox is not None and account.name and account.name.lower() != wanted:
                # an alias names its account: that account must be the service's too
                wanted = account.name.lower()
                self._check_belongs(target, wanted, tenancy)
            key = self._key(target, wanted.rpartition("@")[2])
        url = preauth_url(self.origins.webmail, wanted, key, self._now_ms())
        self._record(target.service_id, wanted, function)
        return url

    def admin_console(
        self, target: ServiceTarget, *, function: str, service_status: str = "", tenancy: str
    ) -> str:
        """An admin-console URL for the primary mailbox as its domain's delegated admin.

        Raises:
            SignOnError: ``not_offered`` for tenancy ``server`` or a mailbox that is not a delegated
                admin (yet); the others as for :meth:`webmail`.
        """
        _check_service_status(target, service_status)
        if tenancy != "domain":
            raise SignOnError(
                "not_offered",
                f"service {target.service_id}: no admin-panel sign-on for tenancy {tenancy} "
                "(the client signs in to its own server's console with its own admin)",
            )
        with self._zimbra_failures(target, target.mailbox):
            account = self._check_signable(target, target.mailbox)
            key = self._key(target, target.domain)
            if _first(account.attrs.get(DELEGATED_FLAG)) not in _TRUE:
                raise SignOnError(
                    "not_offered",
                    f"{target.mailbox} is not the delegated admin of {target.domain}: run "
                    "ChangePackage (or CreateAccount) again to grant it",
                )
        url = preauth_url(self.origins.admin, target.mailbox, key, self._now_ms(), admin=True)
        self._record(target.service_id, target.mailbox, function)
        return url

    def staff_console(self, admin_user: str, *, function: str) -> str:
        """An admin-console URL for the bridge's own admin (WHMCS staff's AdminSingleSignOn).

        Raises:
            SignOnError: the admin's domain has no key and none can be made, or Zimbra failed.
        """
        domain = admin_user.rpartition("@")[2]
        target = ServiceTarget(None, domain, admin_user)
        with self._zimbra_failures(target, admin_user):
            key = self._key(target, domain, check_status=False)
        url = preauth_url(self.origins.admin, admin_user, key, self._now_ms(), admin=True)
        self._record(None, admin_user, function)
        return url

    # --- checks ----------------------------------------------------------------------------------

    def _check_belongs(self, target: ServiceTarget, mailbox: str, tenancy: str) -> None:
        local, _, domain = mailbox.rpartition("@")
        same = domain == target.domain or (tenancy == "server" and domain)
        if not local or not same:
            raise SignOnError(
                "foreign_mailbox",
                f"service {target.service_id}: refused a sign-on to {mailbox[:80]!r}, which is "
                f"not a mailbox of {target.domain}",
            )

    def _check_signable(self, target: ServiceTarget, mailbox: str):
        try:
            wanted = [*_NOT_SIGNABLE, DELEGATED_FLAG, "zimbraId"]
            account = self.zimbra.get_account(mailbox, attrs=wanted)
        except NoSuchAccount:
            raise SignOnError(
                "foreign_mailbox",
                f"service {target.service_id}: mailbox {mailbox} does not exist on Zimbra "
                f"{self.zimbra.name}",
            ) from None
        special = [a for a in _NOT_SIGNABLE if _first(account.attrs.get(a)) in _TRUE]
        if special:
            raise SignOnError(
                "foreign_mailbox",
                f"service {target.service_id}: refused a sign-on to {mailbox} ({special[0]})",
            )
        return account

    def _key(self, target: ServiceTarget, domain: str, *, check_status: bool = True) -> str:
        try:
            state, key = self.keys.key_for(self.zimbra, domain)
        except NoSuchDomain:
            raise SignOnError(
                "foreign_mailbox",
                f"service {target.service_id}: domain {domain} does not exist on Zimbra "
                f"{self.zimbra.name}",
            ) from None
        if check_status and state.status != "active":
            raise SignOnError(
                "inactive",
                f"service {target.service_id}: domain {domain} is {state.status} on Zimbra "
                f"{self.zimbra.name}; no sign-on",
            )
        return key

    # --- plumbing --------------------------------------------------------------------------------

    def _zimbra_failures(self, target: ServiceTarget, mailbox: str):
        return _ZimbraFailures(self.zimbra.name, target, mailbox)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _record(self, service_id: int | None, mailbox: str, function: str) -> None:
        """Keep the sign-on; one that cannot be kept is not made (every sign-on is on record)."""
        if self.store is not None:
            try:
                self.store.record_signon(service_id, mailbox, function)
            except StoreError as err:
                message = f"sign-on not recorded, so not made: {err}"
                raise SignOnError("unavailable", message) from err
        log.info(
            "%s: signed %s in (service %s, Zimbra %s)",
            function,
            mailbox,
            service_id if service_id is not None else "-",
            self.zimbra.name,
        )


class _ZimbraFailures:
    """Turns a Zimbra failure during a sign-on into ``SignOnError("unavailable", …)``."""

    def __init__(self, server: str, target: ServiceTarget, mailbox: str):
        self.server, self.target, self.mailbox = server, target, mailbox

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if isinstance(err, ZimbraError):
            raise SignOnError(
                "unavailable",
                f"service {self.target.service_id}: sign-on of {self.mailbox} failed: {err}",
            ) from err
        return False


def _check_service_status(target: ServiceTarget, status: str) -> None:
    if status and status.strip().lower() != "active":
        raise SignOnError(
            "inactive", f"service {target.service_id} is {status.strip()} in WHMCS; no sign-on"
        )


def _clean(mailbox: str) -> str:
    return mailbox.strip().lower()


def _first(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value or ""
