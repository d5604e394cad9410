"""The WHMCS service life cycle as Zimbra operations: one service is one mail domain on one Zimbra
server.

:class:`Provisioner` applies CreateAccount, SuspendAccount, UnsuspendAccount, TerminateAccount,
ChangePassword and ChangePackage to one :class:`~puq_bridge.zimbra.client.ZimbraAdmin`, taking the
service's :class:`~puq_bridge.whmcs.params.ServiceTarget` and the product's
:class:`~puq_bridge.whmcs.params.ProductSettings` as WHMCS's params gave them. Every operation is
idempotent: repeating it after success is a success again, never a duplicate. A setting that does
not parse raises :class:`~puq_bridge.errors.ParamsError` naming it, Zimbra failures
:class:`~puq_bridge.errors.ZimbraError`; both read as one line without secrets.

ChangePackage re-applies the product to the domain (its plan: ``zimbraDomainMaxAccounts``, and the
total space as ``zimbraDomainAggregateQuota`` with its policy) and to the primary mailbox (quota and
class of service) only. Other mailboxes were created by the client's own administrator, who may have
given them other quotas on purpose; the product's default quota is the quota of the mailbox the
bridge creates, not a policy for every mailbox.

For tenancy ``domain`` the primary mailbox is the delegated admin of its own domain (CreateAccount
makes it so, ChangePackage keeps it so, TerminateAccount revokes it):
``zimbraIsDelegatedAdminAccount`` and the console views, then :data:`DOMAIN_ADMIN_GRANTS`
(``domainAdminConsoleRights`` on that domain only, and the zimlet rights the console needs
globally), as Zimbra's own set-up of a domain admin grants them. A grant Zimbra refuses undoes what
this call did: no delegated flag is left without its grants. CreateAccount also gives the domain
its preauth key (``zimbraPreAuthKey``) for the sign-ons, when it has none.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from puq_bridge.errors import (
    AccountExists,
    DelegationError,
    DomainExists,
    DomainNotEmpty,
    NoSuchAccount,
    NoSuchCos,
    NoSuchDomain,
    NoSuchGrant,
    ParamsError,
    ZimbraError,
    ZimbraFault,
)
from puq_bridge.whmcs.params import ProductSettings, ServiceTarget
from puq_bridge.zimbra.preauth import KEY_ATTR, DomainKeys, new_key

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

DELEGATED_FLAG = "zimbraIsDelegatedAdminAccount"
#: the admin console's views a domain admin gets (those Zimbra's installer gives its domain admins).
CONSOLE_VIEWS = ("accountListView", "aliasListView", "DLListView", "resourceListView", "saveSearch")
#: (target type, right) of a domain's delegated admin: the domain-admin console rights on its own
#: domain only, and globally only the zimlet rights the console needs to draw itself.
DOMAIN_ADMIN_GRANTS = (
    ("domain", "domainAdminConsoleRights"),
    ("global", "domainAdminZimletRights"),
)
#: the product's plan on the domain: attribute → how it is compared (numbers: "" is 0).
_PLAN_NUMBERS = ("zimbraDomainMaxAccounts", "zimbraDomainAggregateQuota")


class Provisioner:
    """Applies the WHMCS life cycle to one Zimbra server.

    Args:
        zimbra: the admin client of the service's server.
        keys: where domains' preauth keys are made (one per process: its lock keeps two calls from
            making two keys); a new one when not given.
    """

    def __init__(self, zimbra: "ZimbraAdmin", keys: DomainKeys | None = None):
        self.zimbra = zimbra
        self.keys = keys or DomainKeys()

    def create(
        self,
        target: ServiceTarget,
        settings: ProductSettings,
        password: str,
        *,
        total_bytes: int | None = None,
    ) -> None:
        """CreateAccount: the domain (created if missing) with the product's plan and a preauth key,
        the primary mailbox with ``password``, the product's quota and class of service, and for
        tenancy ``domain`` that mailbox made the delegated admin of its domain.

        ``total_bytes``: the service's total space (the client's "Total space" option or setting
        3), enforced as the domain's aggregate quota; default: setting 3.

        Raises:
            DelegationError: Zimbra refused a grant; the flag and grants of this call are undone.
        """
        account_attrs = {"zimbraMailQuota": str(settings.quota_bytes)}
        # every setting is read before anything is created: a bad one fails first
        plan = domain_plan(settings, _total(settings, total_bytes))
        tenancy = settings.tenancy
        if settings.cos:
            account_attrs["zimbraCOSId"] = self._cos_id(settings.cos)
        self._ensure_domain(target.domain, plan)
        try:
            self.zimbra.create_account(target.mailbox, password, account_attrs)
            log.info("created mailbox %s", target.mailbox)
        except AccountExists:
            log.info("mailbox %s already exists", target.mailbox)
        if tenancy == "domain":
            self.ensure_delegated_admin(target)

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
            domain = self.zimbra.get_domain(target.domain, attrs=["zimbraId"])
        except NoSuchDomain:
            log.info("domain %s does not exist: nothing to terminate", target.domain)
            return
        self.remove_delegated_admin(target)
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

    def change_package(
        self, target: ServiceTarget, settings: ProductSettings, *, total_bytes: int | None = None
    ) -> None:
        """ChangePackage: re-apply the domain's plan (maximum mailboxes, total space and its
        policy) and the primary mailbox's quota and class of service; for tenancy ``domain`` the
        primary mailbox stays (or becomes again) the delegated admin of its domain.

        ``total_bytes`` as for :meth:`create`."""
        quota, plan = settings.quota_bytes, domain_plan(settings, _total(settings, total_bytes))
        tenancy = settings.tenancy
        cos_id = self._cos_id(settings.cos) if settings.cos else ""
        domain = self._domain(target.domain)
        self._apply_plan(domain, plan)
        account = self._primary(target)
        # An empty zimbraCOSId removes the attribute: the mailbox falls back to the default COS.
        self.zimbra.modify_account(
            account.id, {"zimbraMailQuota": str(quota), "zimbraCOSId": cos_id}
        )
        if tenancy == "domain":
            self.ensure_delegated_admin(target)

    # --- the delegated admin of a domain ---------------------------------------------------------

    def ensure_delegated_admin(self, target: ServiceTarget) -> None:
        """Make the primary mailbox the delegated admin of its own domain (idempotent: only what is
        missing is set or granted).

        Raises:
            DelegationError: Zimbra refused to list, set or grant; what this call set or granted is
                undone first, so no delegated flag is left without its grants.
        """
        account = self.zimbra.get_account(target.mailbox, attrs=[DELEGATED_FLAG, "zimbraId"])
        flagged = _first(account.attrs.get(DELEGATED_FLAG)).upper() == "TRUE"
        done: list[tuple[str, str]] = []
        try:
            held = {
                (g.target_type, g.target_name if g.target_type == "domain" else "", g.right)
                for g in self.zimbra.grants(grantee_id=account.id)
            }
            if not flagged:
                views = {DELEGATED_FLAG: "TRUE", "zimbraAdminConsoleUIComponents": CONSOLE_VIEWS}
                self.zimbra.modify_account(account.id, views)
            for target_type, right in DOMAIN_ADMIN_GRANTS:
                on = target.domain if target_type == "domain" else ""
                if (target_type, on, right) not in held:
                    self.zimbra.grant_right(target_type, on or None, right, grantee_id=account.id)
                    done.append((target_type, right))
        except ZimbraError as err:
            self._undo_delegation(target, account.id, done, undo_flag=not flagged)
            raise DelegationError(
                f"could not make {target.mailbox} the delegated admin of {target.domain} "
                f"({err}); nothing of it was left behind: give the bridge's Zimbra admin the "
                "right to grant domainAdminConsoleRights (or use a global admin), then run "
                "CreateAccount or ChangePackage again"
            ) from err
        if done or not flagged:
            log.info(
                "%s is the delegated admin of %s (granted: %s)",
                target.mailbox,
                target.domain,
                ", ".join(right for _, right in done) or "nothing new",
            )

    def remove_delegated_admin(self, target: ServiceTarget) -> None:
        """Revoke the primary mailbox's delegated-admin grants (TerminateAccount, before the sweep);
        a mailbox or grant already gone is fine."""
        try:
            account = self.zimbra.get_account(target.mailbox, attrs=["zimbraId"])
        except NoSuchAccount:
            return
        ours = {right for _, right in DOMAIN_ADMIN_GRANTS}
        for grant in self.zimbra.grants(grantee_id=account.id):
            mine = grant.target_type == "global" or grant.target_name == target.domain
            if mine and grant.right in ours:
                self._revoke(grant.target_type, grant.target_name, grant.right, account.id)
        log.info("revoked the delegated admin rights of %s", target.mailbox)

    def _revoke(self, target_type: str, target: str, right: str, account_id: str) -> None:
        name = target if target_type == "domain" else None
        try:
            self.zimbra.revoke_right(target_type, name, right, grantee_id=account_id)
        except NoSuchGrant:
            pass

    def _undo_delegation(
        self, target: ServiceTarget, account_id: str, done: list, *, undo_flag: bool
    ) -> None:
        """Best effort: revoke what was granted, clear the flag if this call set it."""
        try:
            for target_type, right in done:
                self._revoke(target_type, target.domain, right, account_id)
            if undo_flag:
                self.zimbra.modify_account(
                    account_id, {DELEGATED_FLAG: "", "zimbraAdminConsoleUIComponents": ""}
                )
        except ZimbraError as err:
            log.error(
                "could not undo the delegated admin of %s after a refused grant: %s; "
                "remove %s from it by hand",
                target.mailbox,
                err,
                DELEGATED_FLAG,
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

    def _ensure_domain(self, name: str, plan: dict[str, str]) -> None:
        """The domain with the plan and a preauth key: created with both, or an existing one
        brought to the plan (and given a key if it has none) in one ModifyDomain, if any."""
        attrs = {k: v for k, v in plan.items() if v}
        try:
            self.zimbra.create_domain(name, {**attrs, KEY_ATTR: new_key()})
            log.info("created domain %s", name)
        except DomainExists:
            domain = self.zimbra.get_domain(name, attrs=[*plan, KEY_ATTR, "zimbraId"])
            self._apply_plan(domain, plan, add_key=not _first(domain.attrs.get(KEY_ATTR)))

    def _apply_plan(self, domain, plan: dict[str, str], *, add_key: bool = False) -> None:
        """ModifyDomain with the plan's attributes that differ (none: no request)."""
        changes = {}
        for name, wanted in plan.items():
            current = _first(domain.attrs.get(name))
            if name in _PLAN_NUMBERS:
                differs = (current or "0") != (wanted or "0")
            else:
                differs = bool(wanted) and current != wanted
            if differs:
                changes[name] = wanted
        if add_key:
            changes[KEY_ATTR] = new_key()
        if changes:
            self.zimbra.modify_domain(domain.id, changes)
            shown = sorted(name for name in changes if name != KEY_ATTR)
            log.info("domain %s: set %s", domain.name, ", ".join(shown) or "its preauth key")

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


def domain_plan(settings: ProductSettings, total_bytes: int | None) -> dict[str, str]:
    """The product's plan as domain attributes ("" removes one): maximum mailboxes, and the
    total space as the aggregate quota with the product's policy (no policy without a quota)."""
    max_mailboxes, policy = settings.max_mailboxes, settings.quota_policy
    return {
        "zimbraDomainMaxAccounts": str(max_mailboxes) if max_mailboxes else "",
        "zimbraDomainAggregateQuota": str(total_bytes) if total_bytes else "",
        "zimbraDomainAggregateQuotaPolicy": policy if total_bytes else "",
    }


def _total(settings: ProductSettings, total_bytes: int | None) -> int | None:
    return total_bytes if total_bytes is not None else settings.total_space_bytes


def _first(value) -> str:
    """An attribute's (first) value as text ("" when absent)."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return value or ""
