"""Mailbox self-service: what a client may change in its own mail domain, checked and recorded.

:class:`MailboxActions` runs the service page's actions (CreateMailbox, DeleteMailbox,
SetMailboxPassword, SetMailboxQuota, AddAlias, RemoveAlias, SetForwarding) on one Zimbra server.
Every field is untrusted: before Zimbra is asked to change anything the action is checked against

- the service: active in WHMCS, under its rate limit (:class:`RateLimit`);
- the domain: the address is in the service's domain (tenancy ``domain``) or a domain of the
  client's own server (tenancy ``server``); a tampered form naming another domain, a system
  account, an admin or the primary mailbox (for deletion) is refused;
- the plan: the maximum mailboxes (setting 2), the total space (setting 3: the sum of the mailbox
  quotas stays within it; 0 = unlimited only without one); Zimbra's own limits
  (``zimbraDomainMaxAccounts``, its faults) still apply;
- the address syntax (local part, IDN domains) and Zimbra's password policy for the class of
  service (read with GetCos or GetAccount, kept for :data:`POLICY_TTL` seconds).

Each change is one Zimbra request (CreateAccount carries every attribute), so a refusal or failure
leaves nothing half-made. A double submit of CreateMailbox makes one mailbox: the same address
created by the same service moments ago answers success again. Every attempt, refused or not, is
recorded in the store (never a password), and the store's reading is brought up to the change so
the page shows it at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from puq_bridge.errors import (
    AccountExists,
    InvalidPassword,
    NoSuchAccount,
    NoSuchAlias,
    NoSuchDomain,
    ParamsError,
    SelfServiceError,
    StoreError,
    TooManyAccounts,
    ZimbraError,
)
from puq_bridge.units import MB
from puq_bridge.whmcs.params import ACTION_FIELDS, normalize_domain

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.usage.store import UsageStore
    from puq_bridge.zimbra.client import ZimbraAdmin
    from puq_bridge.zimbra.models import Account, MailboxUsage

log = logging.getLogger(__name__)

#: seconds a class of service's password policy is kept.
POLICY_TTL = 300.0
#: seconds within which the same CreateMailbox again is a double submit (answered as done).
REPEAT_WINDOW = 600.0
#: the longest local part (RFC 5321).
MAX_LOCAL = 64
#: what the client may set as a mailbox's display name.
MAX_DISPLAY_NAME = 128
POLICY_ATTRS = (
    "zimbraPasswordMinLength",
    "zimbraPasswordMaxLength",
    "zimbraPasswordMinUpperCaseChars",
    "zimbraPasswordMinLowerCaseChars",
    "zimbraPasswordMinNumericChars",
    "zimbraPasswordMinPunctuationChars",
    "zimbraPasswordMinDigitsOrPuncs",
)
_SPECIAL = ("zimbraIsSystemAccount", "zimbraIsSystemResource", "zimbraIsAdminAccount")
_ACCOUNT_ATTRS = [*_SPECIAL, "zimbraIsDelegatedAdminAccount", "zimbraMailAlias", *POLICY_ATTRS]
_TRUE = ("TRUE", "true", "1")
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Plan:
    """What the product allows: maximum mailboxes (0: no limit), total space in bytes (``None``:
    the sum of the quotas; then a mailbox may be unlimited), the default quota in MB, the COS."""

    max_mailboxes: int = 0
    total_space_bytes: int | None = None
    default_quota_mb: int = 0
    cos: str = ""


@dataclass(frozen=True)
class ActionRequest:
    """One client action: the WHMCS function, its form fields, and who asks for what.

    ``domain`` is the service's domain and ``primary`` its primary mailbox; ``tenancy`` ``server``
    lets the client act on every domain of its own server. ``protected`` are addresses never
    changed (the bridge's own admin).
    """

    function: str
    fields: Mapping[str, str] = field(repr=False)
    service_id: int
    domain: str
    primary: str
    tenancy: str = "domain"
    status: str = "Active"
    plan: Plan = field(default_factory=Plan)
    user_id: str = ""
    protected: tuple[str, ...] = ()

    def value(self, name: str) -> str:
        """A form field ("" when absent)."""
        return self.fields.get(name, "")


@dataclass(frozen=True)
class ActionResult:
    """What an action did: its target address and what changed (for the store's reading)."""

    target: str
    repeated: bool = False


class RateLimit:
    """At most ``count`` actions of one service per ``seconds`` (read from the store's audit)."""

    def __init__(self, count: int = 30, seconds: float = 3600.0):
        self.count, self.seconds = count, seconds


class PolicyCache:
    """Password policies of classes of service, kept for ``ttl`` seconds (thread-safe)."""

    def __init__(self, ttl: float = POLICY_TTL, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.clock = ttl, clock
        self._entries: dict[tuple[str, str], tuple[float, dict]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], read: Callable[[], dict]) -> dict:
        """The policy under ``key`` (server, COS), or ``read()`` kept for next time."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and self.clock() - hit[0] < self.ttl:
                return hit[1]
        policy = read()
        with self._lock:
            self._entries[key] = (self.clock(), policy)
        return policy


class AddressLocks:
    """One lock per (service, address): a double submit waits for the first to finish."""

    def __init__(self):
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self._lock = threading.Lock()
        #: (service, address) -> monotonic time this process created it: a submit waiting on the
        #: lock sees the first one's result even before its audit row is written
        self._created: dict[tuple[int, str], float] = {}

    def created(self, service_id: int, address: str) -> None:
        """Note that this process just created ``address`` for the service."""
        with self._lock:
            if len(self._created) > 10_000:
                self._created.clear()
            self._created[(service_id, address)] = time.monotonic()

    def created_within(self, service_id: int, address: str, seconds: float) -> bool:
        """True when this process created ``address`` for the service less than ``seconds`` ago."""
        with self._lock:
            at = self._created.get((service_id, address))
        return at is not None and time.monotonic() - at < seconds

    def of(self, service_id: int, address: str) -> threading.Lock:
        """The lock of one address of one service."""
        with self._lock:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault((service_id, address), threading.Lock())


class MailboxActions:
    """The self-service actions on one Zimbra server.

    Args:
        zimbra: the server's admin client.
        store: where every attempt is recorded and the reading updated (``None``: neither, and
            no rate limit).
        policies: the process's :class:`PolicyCache`.
        locks: the process's :class:`AddressLocks`.
        rate_limit: the per-service :class:`RateLimit`.
        clock: UTC now.
    """

    def __init__(
        self,
        zimbra: "ZimbraAdmin",
        *,
        store: "UsageStore | None" = None,
        policies: PolicyCache | None = None,
        locks: AddressLocks | None = None,
        rate_limit: RateLimit | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
    ):
        self.zimbra, self.store = zimbra, store
        self.policies = policies or PolicyCache()
        self.locks = locks or AddressLocks()
        self.rate_limit = rate_limit or RateLimit()
        self.clock = clock

    # --- the one entry point ---------------------------------------------------------------------

    def run(self, request: ActionRequest) -> ActionResult:
        """Check and run ``request``; record the attempt.

        Raises:
            SelfServiceError: refused (nothing changed) or Zimbra failed (``unavailable``).
        """
        handler = _HANDLERS.get(request.function)
        if handler is None:
            raise SelfServiceError("unknown", f"no self-service function {request.function!r}")
        target = _target_hint(request)
        try:
            self._check_service(request)
            result = handler(self, request)
        except SelfServiceError as err:
            self._record(request, target, "refused", f"{err.reason}: {err}")
            raise
        except ZimbraError as err:
            self._record(request, target, "failed", str(err))
            raise SelfServiceError("unavailable", f"{request.function} failed: {err}") from err
        self._record(request, result.target, "ok", "repeated" if result.repeated else "")
        log.info(
            "service %s: %s %s%s",
            request.service_id,
            request.function,
            result.target,
            " (repeated submit)" if result.repeated else "",
        )
        return result

    # --- actions ---------------------------------------------------------------------------------

    def _create(self, request: ActionRequest) -> ActionResult:
        local = _local_part(request.value("local_part"))
        address = f"{local}@{request.domain}"
        display = _display_name(request.value("display_name"))
        password = _new_password(request)
        with self.locks.of(request.service_id, address):
            lately = self.locks.created_within(request.service_id, address, REPEAT_WINDOW)
            lately = lately or self._created_lately(request.service_id, address)
            if lately and self._exists(address):
                return ActionResult(address, repeated=True)  # a double submit: already done
            plan = request.plan
            # the domain's mailboxes only when the plan limits them (else Zimbra's refusal of a
            # taken address is the check: one request less)
            limited = plan.max_mailboxes or plan.total_space_bytes
            mailboxes = self._mailboxes(request.domain) if limited else []
            if plan.max_mailboxes and len(mailboxes) >= plan.max_mailboxes:
                raise SelfServiceError(
                    "max_mailboxes",
                    f"service {request.service_id}: {len(mailboxes)} of {plan.max_mailboxes} "
                    "mailboxes already",
                    field="local_part",
                    limit=plan.max_mailboxes,
                )
            if any(m.name.lower() == address for m in mailboxes):
                raise SelfServiceError("exists", f"{address} exists", field="local_part")
            quota = self._quota(request, mailboxes, exclude="")
            policy = self._cos_policy(plan.cos)
            _check_password(password, policy)
            attrs = {"zimbraMailQuota": str(quota)}
            if display:
                attrs["displayName"] = display
            if plan.cos and policy.get("zimbraId"):
                attrs["zimbraCOSId"] = policy["zimbraId"]
            try:
                account = self.zimbra.create_account(address, password, attrs)
            except AccountExists:
                raise SelfServiceError(
                    "exists", f"{address} is taken (a mailbox, alias or list)", field="local_part"
                ) from None
            except TooManyAccounts as err:
                raise SelfServiceError(
                    "max_mailboxes", str(err), field="local_part", limit=plan.max_mailboxes
                ) from None
            except InvalidPassword as err:
                raise SelfServiceError("password_policy", str(err), field="password") from None
            self.locks.created(request.service_id, address)
            self._update_reading(request.service_id, address, limit=quota, zimbra_id=account.id)
        return ActionResult(address)

    def _delete(self, request: ActionRequest) -> ActionResult:
        account = self._own_account(request, request.value("mailbox"))
        name = account.name.lower()
        if request.value("confirm").strip().lower() != name:
            raise SelfServiceError(
                "confirm", f"{name}: the typed confirmation does not match", field="confirm"
            )
        if name == request.primary or _flag(account, "zimbraIsDelegatedAdminAccount"):
            raise SelfServiceError("primary", f"{name} is the primary mailbox", field="mailbox")
        self.zimbra.delete_account(account.id)
        self._update_reading(request.service_id, name, removed=True)
        return ActionResult(name)

    def _password(self, request: ActionRequest) -> ActionResult:
        account = self._own_account(request, request.value("mailbox"))
        password = _new_password(request)
        _check_password(password, {k: _first(account.attrs.get(k)) for k in POLICY_ATTRS})
        try:
            self.zimbra.set_password(account.id, password)
        except InvalidPassword as err:
            raise SelfServiceError("password_policy", str(err), field="password") from None
        return ActionResult(account.name.lower())

    def _quota(self, request: ActionRequest, mailboxes, *, exclude: str) -> int:
        """The quota in bytes the form asks for, checked against the plan's total space."""
        text = request.value("quota_mb").strip()
        plan = request.plan
        if text == "" and request.function == "CreateMailbox":
            mb = plan.default_quota_mb
        elif text.isdigit() and len(text) <= 9:
            mb = int(text)
        else:
            raise SelfServiceError(
                "quota", f"quota {text[:20]!r} is not a number of MB", field="quota_mb"
            )
        total = plan.total_space_bytes
        if mb == 0 and total:
            raise SelfServiceError(
                "unlimited", "the plan has a total space: no unlimited mailbox", field="quota_mb"
            )
        quota = mb * MB
        if total:
            taken = sum(m.limit_bytes for m in mailboxes if m.name.lower() != exclude)
            left = max(total - taken, 0)
            if quota > left:
                raise SelfServiceError(
                    "no_space",
                    f"{quota} bytes asked, {left} bytes of the total space left",
                    field="quota_mb",
                    left_mb=left // MB,
                )
        return quota

    def _set_quota(self, request: ActionRequest) -> ActionResult:
        name = self._own_address(request, request.value("mailbox"))
        mailboxes = self._mailboxes(name.rpartition("@")[2])
        mine = next((m for m in mailboxes if m.name.lower() == name), None)
        if mine is None:
            raise SelfServiceError(
                "foreign", f"{name} is no mailbox of the service", field="mailbox"
            )
        quota = self._quota(request, mailboxes, exclude=name)
        self.zimbra.modify_account(mine.id, {"zimbraMailQuota": str(quota)})
        self._update_reading(request.service_id, name, limit=quota)
        return ActionResult(name)

    def _add_alias(self, request: ActionRequest) -> ActionResult:
        account = self._own_account(request, request.value("mailbox"))
        alias = self._alias_address(request, account)
        try:
            self.zimbra.add_account_alias(account.id, alias)
        except AccountExists:
            raise SelfServiceError("exists", f"{alias} is taken", field="alias") from None
        return ActionResult(alias)

    def _remove_alias(self, request: ActionRequest) -> ActionResult:
        account = self._own_account(request, request.value("mailbox"))
        alias = self._alias_address(request, account)
        aliases = account.attrs.get("zimbraMailAlias") or []
        aliases = [aliases] if isinstance(aliases, str) else aliases
        if alias not in [a.lower() for a in aliases]:
            raise SelfServiceError(
                "no_alias", f"{alias} is no alias of {account.name}", field="alias"
            )
        try:
            self.zimbra.remove_account_alias(account.id, alias)
        except NoSuchAlias:
            raise SelfServiceError("no_alias", f"{alias} is no alias", field="alias") from None
        return ActionResult(alias)

    def _forwarding(self, request: ActionRequest) -> ActionResult:
        account = self._own_account(request, request.value("mailbox"))
        forward = request.value("forward_to").strip().lower()
        if forward:
            forward = _address(forward, "forward_to")
            if forward == account.name.lower():
                raise SelfServiceError("forward_self", "forwarding to itself", field="forward_to")
            keep = request.value("keep_copy").strip().lower() in ("1", "on", "yes", "true")
            attrs = {
                "zimbraPrefMailForwardingAddress": forward,
                "zimbraPrefMailLocalDeliveryDisabled": "FALSE" if keep else "TRUE",
            }
        else:
            attrs = {
                "zimbraPrefMailForwardingAddress": "",
                "zimbraPrefMailLocalDeliveryDisabled": "",
            }
        self.zimbra.modify_account(account.id, attrs)
        return ActionResult(account.name.lower())

    # --- checks ----------------------------------------------------------------------------------

    def _check_service(self, request: ActionRequest) -> None:
        status = (request.status or "").strip().lower()
        if status and status != "active":
            raise SelfServiceError(
                "inactive", f"service {request.service_id} is {request.status} in WHMCS"
            )
        if self.store is None:
            return
        since = self.clock() - dt.timedelta(seconds=self.rate_limit.seconds)
        try:
            count = self.store.count_actions(request.service_id, since)
        except StoreError as err:
            raise SelfServiceError(
                "unavailable", f"audit unavailable, nothing done: {err}"
            ) from err
        if count >= self.rate_limit.count:
            raise SelfServiceError(
                "rate_limited",
                f"service {request.service_id}: {count} actions in "
                f"{int(self.rate_limit.seconds)} s (limit {self.rate_limit.count})",
            )

    def _own_address(self, request: ActionRequest, value: str) -> str:
        """``value`` as an address of the service (its domain; any domain of the client's own
        server for tenancy ``server``), never a protected one; else ``foreign``."""
        name = _address(value.strip().lower(), "mailbox", reason="foreign")
        domain = name.rpartition("@")[2]
        if domain != request.domain:
            if request.tenancy != "server":
                raise SelfServiceError(
                    "foreign",
                    f"service {request.service_id}: {name[:80]!r} is not in {request.domain}",
                    field="mailbox",
                )
            try:
                self.zimbra.get_domain(domain)
            except NoSuchDomain:
                raise SelfServiceError(
                    "foreign", f"no domain {domain} on the server", field="mailbox"
                ) from None
        if name in request.protected:
            raise SelfServiceError(
                "foreign", f"{name} is the bridge's own account", field="mailbox"
            )
        return name

    def _own_account(self, request: ActionRequest, value: str) -> "Account":
        """The account ``value`` names, when it is the service's (not a system or admin
        account; an alias must point to an account of the service too)."""
        name = self._own_address(request, value)
        try:
            account = self.zimbra.get_account(name, attrs=_ACCOUNT_ATTRS)
        except NoSuchAccount:
            raise SelfServiceError("foreign", f"{name} does not exist", field="mailbox") from None
        real = account.name.lower()
        if real != name:  # an alias: its account must be the service's as well
            self._own_address(request, real)
            raise SelfServiceError("foreign", f"{name} is an alias of {real}", field="mailbox")
        special = [a for a in _SPECIAL if _flag(account, a)]
        if special:
            raise SelfServiceError("foreign", f"{name} is special ({special[0]})", field="mailbox")
        return account

    def _alias_address(self, request: ActionRequest, account: "Account") -> str:
        value = request.value("alias").strip().lower()
        domain = account.name.lower().rpartition("@")[2]
        if "@" not in value:
            value = f"{value}@{domain}"
        alias = _address(value, "alias")
        if alias.rpartition("@")[2] != domain:
            raise SelfServiceError("alias_domain", f"{alias} is not in {domain}", field="alias")
        if alias == account.name.lower():
            raise SelfServiceError("exists", f"{alias} is the mailbox itself", field="alias")
        return alias

    # --- reading Zimbra and the store ----------------------------------------------------------

    def _mailboxes(self, domain: str) -> list["MailboxUsage"]:
        """The domain's mailboxes (one GetQuotaUsage), without Zimbra's system accounts."""
        system = self.zimbra.system_accounts()
        return [m for m in self.zimbra.domain_usage(domain) if not system.covers(m)]

    def _cos_policy(self, cos: str) -> dict:
        def read() -> dict:
            found = self.zimbra.get_cos(cos or "default")
            return {"zimbraId": found.id, **{k: _first(found.attrs.get(k)) for k in POLICY_ATTRS}}

        return self.policies.get((self.zimbra.name, cos or "default"), read)

    def _created_lately(self, service_id: int, address: str) -> bool:
        if self.store is None:
            return False
        cut = self.clock() - dt.timedelta(seconds=REPEAT_WINDOW)
        try:
            recent = self.store.actions(service_id, limit=50)
        except StoreError:
            return False
        return any(
            a.action == "CreateMailbox"
            and a.target == address
            and a.result == "ok"
            and a.acted_at >= cut
            for a in recent
        )

    def _exists(self, address: str) -> bool:
        try:
            self.zimbra.get_account(address, attrs=["zimbraId"])
        except NoSuchAccount:
            return False
        return True

    def _update_reading(self, service_id: int, name: str, **change) -> None:
        if self.store is None:
            return
        try:
            self.store.apply_mailbox_change(service_id, name, **_reading_change(change))
        except StoreError as err:  # the next sync brings it up to date
            log.warning("service %s: reading not updated after a change: %s", service_id, err)

    def _record(self, request: ActionRequest, target: str, result: str, detail: str) -> None:
        if self.store is None:
            return
        try:
            self.store.record_action(
                request.service_id,
                request.function,
                target,
                result,
                user_id=request.user_id,
                detail=_mask(detail, request),
            )
        except StoreError as err:
            log.error(
                "service %s: %s %s (%s) not recorded: %s",
                request.service_id,
                request.function,
                target,
                result,
                err,
            )


_HANDLERS: dict[str, Callable[[MailboxActions, ActionRequest], ActionResult]] = {
    "CreateMailbox": MailboxActions._create,
    "DeleteMailbox": MailboxActions._delete,
    "SetMailboxPassword": MailboxActions._password,
    "SetMailboxQuota": MailboxActions._set_quota,
    "AddAlias": MailboxActions._add_alias,
    "RemoveAlias": MailboxActions._remove_alias,
    "SetForwarding": MailboxActions._forwarding,
}
assert set(_HANDLERS) == set(ACTION_FIELDS)


# --- field rules ---------------------------------------------------------------------------------


def _local_part(value: str) -> str:
    local = value.strip().lower()
    if not local:
        raise SelfServiceError("required", "no local part", field="local_part")
    if len(local) > MAX_LOCAL or not _LOCAL_RE.match(local):
        raise SelfServiceError("syntax", f"invalid local part {local[:80]!r}", field="local_part")
    return local


def _address(value: str, field_name: str, *, reason: str = "syntax") -> str:
    """``local@domain`` with an IDN domain in its ASCII form; else ``reason`` on the field."""
    local, at, domain = value.strip().lower().rpartition("@")
    if not at or not local or len(local) > MAX_LOCAL or not _LOCAL_RE.match(local):
        raise SelfServiceError(reason, f"invalid address {value[:80]!r}", field=field_name)
    try:
        domain = normalize_domain(domain)
    except ParamsError:
        raise SelfServiceError(
            reason, f"invalid domain in {value[:80]!r}", field=field_name
        ) from None
    return f"{local}@{domain}"


def _display_name(value: str) -> str:
    text = _CONTROL.sub("", value).strip()
    if len(text) > MAX_DISPLAY_NAME:
        raise SelfServiceError(
            "too_long", "display name too long", field="display_name", limit=MAX_DISPLAY_NAME
        )
    return text


def _new_password(request: ActionRequest) -> str:
    password = request.value("password")
    if not password:
        raise SelfServiceError("required", "no password", field="password")
    if password != request.value("password2"):
        raise SelfServiceError("mismatch", "the passwords differ", field="password2")
    return password


def _check_password(password: str, policy: Mapping[str, str]) -> None:
    """Zimbra's password rules of a COS, checked before asking (so the client reads why)."""

    def rule(attr: str) -> int:
        text = str(policy.get(attr) or "0")
        return int(text) if text.isdigit() else 0

    minimum, maximum = rule("zimbraPasswordMinLength"), rule("zimbraPasswordMaxLength")
    if minimum and len(password) < minimum:
        raise SelfServiceError(
            "password_short", "password too short", field="password", limit=minimum
        )
    if maximum and len(password) > maximum:
        raise SelfServiceError(
            "password_long", "password too long", field="password", limit=maximum
        )
    digits = sum(c.isdigit() for c in password)
    punct = sum(_punctuation(c) for c in password)
    counts = {
        "zimbraPasswordMinUpperCaseChars": sum(c.isupper() for c in password),
        "zimbraPasswordMinLowerCaseChars": sum(c.islower() for c in password),
        "zimbraPasswordMinNumericChars": digits,
        "zimbraPasswordMinPunctuationChars": punct,
        "zimbraPasswordMinDigitsOrPuncs": digits + punct,
    }
    for attr, count in counts.items():
        if count < rule(attr):
            raise SelfServiceError(
                "password_policy", f"password breaks {attr}", field="password", limit=rule(attr)
            )


def _punctuation(ch: str) -> bool:
    code = ord(ch)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126


def _target_hint(request: ActionRequest) -> str:
    """The address an attempt is about, for the audit (before it is checked)."""
    if request.function == "CreateMailbox":
        return f"{request.value('local_part').strip().lower()[:64]}@{request.domain}"
    return request.value("mailbox").strip().lower()[:320] or "-"


def _reading_change(change: dict) -> dict:
    out = {}
    if "limit" in change:
        out["limit_bytes"] = change["limit"]
    if change.get("zimbra_id"):
        out["zimbra_id"] = change["zimbra_id"]
    if change.get("removed"):
        out["removed"] = True
    return out


def _mask(text: str, request: ActionRequest) -> str:
    for key in ("password", "password2"):
        secret = request.value(key)
        if secret:
            text = text.replace(secret, "********")
    return text


def _flag(account: "Account", attr: str) -> bool:
    return _first(account.attrs.get(attr)) in _TRUE


def _first(value) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return value or ""
