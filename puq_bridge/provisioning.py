"""The WHMCS service life cycle as Zimbra operations: one service is one mail domain on one Zimbra server.

:class:`ProductSettings` parses the product's module settings (``configoption1..6``), :class:`ServiceTarget` the
service's domain and primary mailbox, and :class:`Provisioner` applies CreateAccount, SuspendAccount,
UnsuspendAccount, TerminateAccount, ChangePassword and ChangePackage to one :class:`~puq_bridge.zimbra.ZimbraAdmin`.
Every operation is idempotent: repeating it after success is a success again, never a duplicate. Bad params raise
:class:`~puq_bridge.errors.ParamsError`, Zimbra failures :class:`~puq_bridge.errors.ZimbraError`; both read as one
line without secrets.

ChangePackage re-applies the product to the domain (``zimbraDomainMaxAccounts``) and to the primary mailbox (quota
and class of service) only. Other mailboxes were created by the client's own administrator, who may have given them
other quotas on purpose; the product's default quota is the quota of the mailbox the bridge creates, not a policy
for every mailbox.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

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
from puq_bridge.usage.model import GB, MB, parse_total_space

if TYPE_CHECKING:  # importing zimbra imports zeep
    from puq_bridge.zimbra.client import ZimbraAdmin

log = logging.getLogger(__name__)

POLICIES = ("locked", "maintenance", "closed")
TENANCIES = ("domain", "server")
DEFAULT_MAILBOX = "admin"

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@dataclass(frozen=True)
class Setting:
    """One module setting as WHMCS shows it on the product's Module Settings tab."""

    attr: str
    label: str
    type: str
    size: int
    default: str
    description: str
    options: tuple[str, ...] = ()

    def config_option(self) -> dict[str, Any]:
        """This setting in WHMCS's ConfigOptions array shape."""
        field: dict[str, Any] = {
            "FriendlyName": self.label,
            "Type": self.type,
            "Size": str(self.size),
            "Default": self.default,
            "Description": self.description,
        }
        if self.options:
            field["Options"] = ",".join(self.options)
        return field


#: configoption1..6, in order.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "quota_mb",
        "Default mailbox quota (MB)",
        "text",
        10,
        "1024",
        "Quota of the primary mailbox, in MB (0 = unlimited)",
    ),
    Setting(
        "max_mailboxes",
        "Maximum mailboxes",
        "text",
        10,
        "0",
        "zimbraDomainMaxAccounts of the domain (0 = no limit)",
    ),
    Setting(
        "total_space_gb",
        "Total space (GB)",
        "text",
        10,
        "0",
        "Space shown to the client and sent to WHMCS as disk limit (0 = sum of mailbox quotas)",
    ),
    Setting(
        "cos",
        "Class of service",
        "text",
        30,
        "",
        "Zimbra COS name for the primary mailbox (empty = default)",
    ),
    Setting(
        "suspension_policy",
        "Suspension policy",
        "dropdown",
        0,
        "locked",
        "zimbraDomainStatus while suspended: locked (mail still delivered), maintenance, closed",
        POLICIES,
    ),
    Setting(
        "tenancy",
        "Tenancy",
        "dropdown",
        0,
        "domain",
        "domain: one mail domain per service; server: the client's own Zimbra server",
        TENANCIES,
    ),
)


def config_options() -> dict[str, dict[str, Any]]:
    """The module's ConfigOptions array (keys in configoption order)."""
    return {s.label: s.config_option() for s in SETTINGS}


@dataclass(frozen=True)
class ProductSettings:
    """The product's module settings, parsed."""

    quota_mb: int = 1024
    max_mailboxes: int = 0
    total_space_gb: float = 0.0
    cos: str = ""
    suspension_policy: str = "locked"
    tenancy: str = "domain"

    @property
    def quota_bytes(self) -> int:
        """The primary mailbox's quota in bytes (0 = unlimited)."""
        return self.quota_mb * MB

    @property
    def total_space_bytes(self) -> int | None:
        """The product's total space in bytes, ``None`` when not set."""
        return int(self.total_space_gb * GB) if self.total_space_gb > 0 else None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ProductSettings":
        """Parse ``configoption1..6``; empty values take the defaults. Raises :class:`ParamsError`."""
        return cls(
            **{s.attr: _setting_value(params, index) for index, s in enumerate(SETTINGS, start=1)}
        )


def total_space_setting(params: Mapping[str, Any]) -> int | None:
    """The product's setting 3 "Total space (GB)" (``configoption3``) in bytes, ``None`` when 0 or empty.

    Only that setting is read (the client area must not fail on the other five). Raises :class:`ParamsError`.
    """
    return ProductSettings(total_space_gb=_setting_value(params, 3)).total_space_bytes


def _setting_value(params: Mapping[str, Any], index: int) -> Any:
    setting = SETTINGS[index - 1]
    raw = params.get(f"configoption{index}")
    text = setting.default if raw is None or str(raw).strip() == "" else str(raw).strip()
    return _parse_setting(setting, index, text)


def _parse_setting(setting: Setting, index: int, text: str) -> Any:
    where = f"product setting {setting.label!r} (configoption{index})"
    if setting.attr in ("quota_mb", "max_mailboxes"):
        if not text.isdigit():
            raise ParamsError(f"{where} must be a whole number, 0 or more; got {text[:40]!r}")
        return int(text)
    if setting.attr == "total_space_gb":
        try:
            return (parse_total_space(text) or 0) / GB
        except ValueError:
            raise ParamsError(
                f"{where} must be a number of GB, 0 or more (e.g. 50 or 1,5); got {text[:40]!r}"
            ) from None
    if setting.options:
        if text.lower() not in setting.options:
            raise ParamsError(
                f"{where} must be one of {', '.join(setting.options)}; got {text[:40]!r}"
            )
        return text.lower()
    return text


@dataclass(frozen=True)
class ServiceTarget:
    """What a WHMCS service maps to on Zimbra: its mail domain and primary mailbox."""

    service_id: int | None
    domain: str
    mailbox: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "ServiceTarget":
        """Read ``domain``, ``username`` and ``serviceid``; raises :class:`ParamsError` when invalid.

        An empty ``username`` means the mailbox ``admin@<domain>``; a ``username`` that is a whole address must be
        in the service's domain.
        """
        domain = normalize_domain(params.get("domain"))
        return cls(
            service_id=service_id(params),
            domain=domain,
            mailbox=primary_mailbox(params.get("username"), domain),
        )


def service_id(params: Mapping[str, Any]) -> int | None:
    """``serviceid`` as an int (``None`` when absent); raises :class:`ParamsError` when not a number."""
    raw = params.get("serviceid")
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    if not text.isdigit():
        raise ParamsError(f"serviceid must be a number, got {text[:40]!r}")
    return int(text)


def normalize_domain(value: Any) -> str:
    """A service's mail domain, lower-case and IDNA-encoded; raises :class:`ParamsError` when missing or invalid."""
    text = str(value or "").strip().rstrip(".").lower()
    if not text:
        raise ParamsError("the service has no domain: set the service's Domain field in WHMCS")
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    if len(ascii_name) > 253 or not _DOMAIN_RE.match(ascii_name):
        raise ParamsError(f"invalid domain name {text[:80]!r}")
    return ascii_name


def primary_mailbox(username: Any, domain: str) -> str:
    """``username@domain`` (``admin@domain`` for an empty username); raises :class:`ParamsError` when invalid."""
    local = str(username or "").strip().lower() or DEFAULT_MAILBOX
    if "@" in local:
        local, _, other = local.rpartition("@")
        if other != domain:
            raise ParamsError(
                f"username {local + '@' + other!r} is not in the service's domain {domain}"
            )
    if len(local) > 64 or not _LOCAL_RE.match(local):
        raise ParamsError(f"invalid mailbox name {local[:80]!r} (from the service's username)")
    return f"{local}@{domain}"


def required_password(params: Mapping[str, Any]) -> str:
    """The service password; raises :class:`ParamsError` when empty (the message never contains it)."""
    password = params.get("password")
    if not isinstance(password, str) or not password:
        raise ParamsError("the service has no password: set one in WHMCS before provisioning")
    return password


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

    def create(self, params: Mapping[str, Any]) -> None:
        """CreateAccount: the domain (created if missing) with the product's limits, then the primary mailbox."""
        target, settings = ServiceTarget.from_params(params), ProductSettings.from_params(params)
        password = required_password(params)
        account_attrs = {"zimbraMailQuota": str(settings.quota_bytes)}
        if settings.cos:
            account_attrs["zimbraCOSId"] = self._cos_id(settings.cos)
        self._ensure_domain(target.domain, settings)
        try:
            self.zimbra.create_account(target.mailbox, password, account_attrs)
            log.info("created mailbox %s", target.mailbox)
        except AccountExists:
            log.info("mailbox %s already exists", target.mailbox)

    def suspend(self, params: Mapping[str, Any]) -> None:
        """SuspendAccount: ``zimbraDomainStatus`` = the product's policy (accounts' own statuses untouched)."""
        target, settings = ServiceTarget.from_params(params), ProductSettings.from_params(params)
        self._set_domain_status(target.domain, settings.suspension_policy)

    def unsuspend(self, params: Mapping[str, Any]) -> None:
        """UnsuspendAccount: ``zimbraDomainStatus`` = active."""
        self._set_domain_status(ServiceTarget.from_params(params).domain, "active")

    def terminate(self, params: Mapping[str, Any]) -> None:
        """TerminateAccount: delete the domain's distribution lists and dynamic groups, calendar
        resources and accounts (their aliases go with them), then the domain. A missing domain, or
        an entry deleted meanwhile, is success.

        Raises:
            DomainNotEmpty: something is left that the bridge does not delete (an alias of a mailbox in another
                domain, an entry created meanwhile); the message names what remains.
        """
        target = ServiceTarget.from_params(params)
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

    def change_password(self, params: Mapping[str, Any]) -> None:
        """ChangePassword: SetPassword on the primary mailbox."""
        target = ServiceTarget.from_params(params)
        password = required_password(params)
        account = self._primary(target)
        message = self.zimbra.set_password(account.id, password)
        if message:
            log.info("password of %s set; server said: %s", target.mailbox, message)

    def change_package(self, params: Mapping[str, Any]) -> None:
        """ChangePackage: re-apply the domain's maximum mailboxes and the primary mailbox's quota and COS."""
        target, settings = ServiceTarget.from_params(params), ProductSettings.from_params(params)
        cos_id = self._cos_id(settings.cos) if settings.cos else ""
        domain = self._domain(target.domain)
        self._apply_domain_limits(domain, settings)
        account = self._primary(target)
        # An empty zimbraCOSId removes the attribute: the mailbox falls back to the default COS.
        self.zimbra.modify_account(
            account.id, {"zimbraMailQuota": str(settings.quota_bytes), "zimbraCOSId": cos_id}
        )

    # --- helpers -------------------------------------------------------------------------------------------------

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
        """DOMAIN_NOT_EMPTY after the sweep, with what remains named (the server's own text if it cannot be read)."""
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

    def _ensure_domain(self, name: str, settings: ProductSettings) -> None:
        attrs = (
            {"zimbraDomainMaxAccounts": str(settings.max_mailboxes)}
            if settings.max_mailboxes
            else {}
        )
        try:
            self.zimbra.create_domain(name, attrs)
            log.info("created domain %s", name)
        except DomainExists:
            self._apply_domain_limits(self.zimbra.get_domain(name), settings)

    def _apply_domain_limits(self, domain, settings: ProductSettings) -> None:
        wanted = str(settings.max_mailboxes) if settings.max_mailboxes else ""
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
