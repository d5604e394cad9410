"""The WHMCS service life cycle as Zimbra operations: one service is one mail domain on one Zimbra
server.

:class:`Provisioner` applies CreateAccount, SuspendAccount, UnsuspendAccount, TerminateAccount,
ChangePassword and ChangePackage to one :class:`~puq_bridge.zimbra.client.ZimbraAdmin`, taking the
service's :class:`~puq_bridge.whmcs.params.ServiceTarget` and the product's
:class:`~puq_bridge.whmcs.params.ProductSettings` as WHMCS's params gave them. Every operation is
idempotent: repeating it after success is a success again, never a duplicate. A setting that does
not parse raises :class:`~puq_bridge.errors.ParamsError` naming it, Zimbra failures
:class:`~puq_bridge.errors.ZimbraError`; both read as one line without secrets.

ChangePackage re-applies the product to the domain (``zimbraDomainMaxAccounts``) and to the primary
mailbox (quota and class of service) only. Other mailboxes were created by the client's own
administrator, who may have given them other quotas on purpose; the product's default quota is the
quota of the mailbox the bridge creates, not a policy for every mailbox.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from puq_bridge.errors import (
    AccountExists,
    DomainExists,
    DomainNotEmpty,
    NoSuchAccount,
    NoSuchCos,
    NoSuchDomain,
    ParamsError,
    ZimbraError,
    ZimbraFault,
)
from puq_bridge.whmcs.params import ProductSettings, ServiceTarget

if TYPE_CHECKING:  # importing zimbra imports zeep
    from puq_bridge.zimbra.client import ZimbraAdmin

log = logging.getLogger(__name__)


#: What TerminateAccount deletes, in this order (lists first: the server need not drop deleted
#: members from them). ``distributionlists`` does not include dynamic groups, which block
#: DeleteDomain all the same: both are asked for (both come back as ``dl`` and
#: DeleteDistributionList deletes either).
_SWEEP_ORDER = ("dl", "calresource", "account")
_SWEPT_TYPES = ("distributionlists", "dynamicgroups", "resources", "accounts")
_GONE_CODES = frozenset(
    {
        "account.NO_SUCH_ACCOUNT",
        "account.NO_SUCH_CALENDAR_RESOURCE",
        "account.NO_SUCH_DISTRIBUTION_LIST",
    }
)
_KIND_NAMES = {
    "account": "mailbox",
    "calresource": "calendar resource",
    "dl": "distribution list",
    "alias": "alias",
}
_SHOWN = 5


class Provisioner:
    """Applies the WHMCS life cycle to one Zimbra server.

    Args:
        zimbra: the admin client of the service's server.
    """

    def __init__(self, zimbra: "ZimbraAdmin"):
        self.zimbra = zimbra

    def create(self, target: ServiceTarget, settings: ProductSettings, password: str) -> None:
        """CreateAccount: the domain (created if missing) with the product's limits, then the
        primary mailbox with ``password``, the product's quota and class of service."""
        account_attrs = {"zimbraMailQuota": str(settings.quota_bytes)}
        max_mailboxes = settings.max_mailboxes  # a bad setting fails before anything is created
        if settings.cos:
            account_attrs["zimbraCOSId"] = self._cos_id(settings.cos)
        self._ensure_domain(target.domain, max_mailboxes)
        try:
            self.zimbra.create_account(target.mailbox, password, account_attrs)
            log.info("created mailbox %s", target.mailbox)
        except AccountExists:
            log.info("mailbox %s already exists", target.mailbox)

    def suspend(self, target: ServiceTarget, settings: ProductSettings) -> None:
        """SuspendAccount: ``zimbraDomainStatus`` = the product's policy (accounts' own statuses
        untouched)."""
        self._set_domain_status(target.domain, settings.suspension_policy)

    def unsuspend(self, target: ServiceTarget) -> None:
        """UnsuspendAccount: ``zimbraDomainStatus`` = active."""
        self._set_domain_status(target.domain, "active")

    def terminate(self, target: ServiceTarget) -> None:
        """TerminateAccount: delete the domain's distribution lists and dynamic groups, calendar
        resources and accounts (their aliases go with them), then the domain. A missing domain, or
        an entry deleted meanwhile, is success.

        Raises:
            DomainNotEmpty: something is left that the bridge does not delete (an alias of a mailbox
                in another domain, an entry created meanwhile); the message names what remains.
        """
        try:
            domain = self.zimbra.get_domain(target.domain)
        except NoSuchDomain:
            log.info("domain %s does not exist: nothing to terminate", target.domain)
            return
        entries = sorted(
            self.zimbra.search_directory(target.domain, _SWEPT_TYPES, attrs=["zimbraId"]),
            key=lambda entry: _SWEEP_ORDER.index(entry.kind),
        )
        for entry in entries:
            self._delete_entry(entry)
        try:
            self.zimbra.delete_domain(domain.id)
        except NoSuchDomain:
            log.info("domain %s was deleted meanwhile", target.domain)
        except DomainNotEmpty as err:
            raise self._not_empty(target.domain, err) from err
        kinds = [entry.kind for entry in entries]
        log.info(
            "deleted domain %s with %d accounts, %d calendar resources and %d distribution lists",
            target.domain,
            kinds.count("account"),
            kinds.count("calresource"),
            kinds.count("dl"),
        )

    def change_password(self, target: ServiceTarget, password: str) -> None:
        """ChangePassword: SetPassword on the primary mailbox."""
        account = self._primary(target)
        message = self.zimbra.set_password(account.id, password)
        if message:
            log.info("password of %s set; server said: %s", target.mailbox, message)

    def change_package(self, target: ServiceTarget, settings: ProductSettings) -> None:
        """ChangePackage: re-apply the domain's maximum mailboxes and the primary mailbox's quota
        and class of service."""
        quota, max_mailboxes = settings.quota_bytes, settings.max_mailboxes
        cos_id = self._cos_id(settings.cos) if settings.cos else ""
        domain = self._domain(target.domain)
        self._apply_domain_limits(domain, max_mailboxes)
        account = self._primary(target)
        # An empty zimbraCOSId removes the attribute: the mailbox falls back to the default COS.
        self.zimbra.modify_account(
            account.id, {"zimbraMailQuota": str(quota), "zimbraCOSId": cos_id}
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _delete_entry(self, entry) -> None:
        """Delete one account, calendar resource or distribution list; one already gone is fine."""
        delete = {
            "account": self.zimbra.delete_account,
            "calresource": self.zimbra.delete_calendar_resource,
            "dl": self.zimbra.delete_distribution_list,
        }[entry.kind]
        try:
            delete(entry.id)
        except ZimbraFault as err:
            if err.code not in _GONE_CODES:
                raise
            log.info("%s %s was deleted meanwhile", _KIND_NAMES[entry.kind], entry.name)

    def _not_empty(self, domain: str, err: DomainNotEmpty) -> DomainNotEmpty:
        """DOMAIN_NOT_EMPTY after the sweep, with what remains named (the server's own text if it
        cannot be read)."""
        try:
            left = list(
                self.zimbra.search_directory(domain, (*_SWEPT_TYPES, "aliases"), attrs=["zimbraId"])
            )
        except ZimbraError as search_err:
            log.warning("cannot list what remains in %s: %s", domain, search_err)
            return err
        shown = "; ".join(
            f"{_KIND_NAMES[e.kind]} {e.name}" + (f" (of {e.target})" if e.target else "")
            for e in left[:_SHOWN]
        )
        more = f" and {len(left) - _SHOWN} more" if len(left) > _SHOWN else ""
        what = (
            f"still holds {shown}{more}" if left else "still holds entries the bridge cannot list"
        )
        return DomainNotEmpty(
            err.server,
            err.operation,
            err.code,
            f"domain {domain} {what}; remove what remains in Zimbra, then terminate again",
        )

    def _ensure_domain(self, name: str, max_mailboxes: int) -> None:
        attrs = {"zimbraDomainMaxAccounts": str(max_mailboxes)} if max_mailboxes else {}
        try:
            self.zimbra.create_domain(name, attrs)
            log.info("created domain %s", name)
        except DomainExists:
            self._apply_domain_limits(self.zimbra.get_domain(name), max_mailboxes)

    def _apply_domain_limits(self, domain, max_mailboxes: int) -> None:
        wanted = str(max_mailboxes) if max_mailboxes else ""
        current = domain.attrs.get("zimbraDomainMaxAccounts", "")
        current = current[0] if isinstance(current, list) else current
        if (current or "0") != (wanted or "0"):
            self.zimbra.modify_domain(domain.id, {"zimbraDomainMaxAccounts": wanted})

    def _set_domain_status(self, name: str, status: str) -> None:
        domain = self._domain(name)
        if domain.status != status:
            self.zimbra.modify_domain(domain.id, {"zimbraDomainStatus": status})
        log.info("domain %s status %s", name, status)

    def _domain(self, name: str):
        try:
            return self.zimbra.get_domain(name)
        except NoSuchDomain as err:
            raise ParamsError(f"domain {name} does not exist on Zimbra {err.server}") from err

    def _primary(self, target: ServiceTarget):
        try:
            return self.zimbra.get_account(target.mailbox)
        except NoSuchAccount as err:
            raise ParamsError(
                f"mailbox {target.mailbox} does not exist on Zimbra {err.server}"
            ) from err

    def _cos_id(self, name: str) -> str:
        try:
            return self.zimbra.get_cos(name).id
        except NoSuchCos as err:
            raise ParamsError(
                f"class of service {name!r} (product setting) does not exist on Zimbra {err.server}"
            ) from err
