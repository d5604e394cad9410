"""Plain data for the client-area tabs: the service's facts, and the view built from facts + usage + history.

Nothing here does I/O. :func:`facts_from_service` takes the WHMCS client's dataclasses (the CLI),
:func:`facts_from_params` the module params the forwarder sends (the adapter); :func:`build_view` joins the facts with
the store's latest :class:`~puq_bridge.store.Snapshot` and daily history into what the templates show.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import urlsplit

from .errors import ParamsError
from .usage import total_space_from_options

if TYPE_CHECKING:  # pragma: no cover
    from .config import ZimbraConfig
    from .store import DailyPoint, Snapshot
    from .whmcs import Client, Service

log = logging.getLogger(__name__)

ADMIN_PORT = 7071
#: Usage at or above these percentages colours the bars as a warning or as danger.
WARNING_PERCENT, DANGER_PERCENT = 75.0, 90.0


@dataclass(frozen=True)
class ServiceFacts:
    """What the tabs show about a service apart from usage. No secrets: the service password never gets here."""

    service_id: int
    domain: str
    status: str
    registration_date: dt.date | None
    next_due_date: dt.date | None
    billing_cycle: str
    recurring_amount: Decimal | None
    currency_code: str
    payment_method: str
    hostname: str
    main_ip: str
    webmail_url: str
    admin_url: str
    total_space_bytes: int | None
    language: str


def facts_from_service(service: "Service", client: "Client", zimbra_entry: "ZimbraConfig | None" = None) -> ServiceFacts:
    """Facts from WHMCS's GetClientsProducts row and GetClientsDetails (the ``render`` command's path)."""
    hostname = service.server_hostname or _url_host(zimbra_entry) or service.server_ip
    return ServiceFacts(
        service_id=service.id, domain=service.domain, status=service.status,
        registration_date=service.registration_date, next_due_date=service.next_due_date,
        billing_cycle=service.billing_cycle, recurring_amount=service.recurring_amount,
        currency_code=client.currency_code, payment_method=service.payment_method_name or service.payment_method,
        hostname=hostname, main_ip=service.dedicated_ip or service.server_ip,
        webmail_url=_webmail_url(zimbra_entry, hostname), admin_url=_admin_url(zimbra_entry, hostname),
        total_space_bytes=total_space_from_options(service.config_options), language=client.language,
    )


def facts_from_params(params: Mapping[str, Any], zimbra_entry: "ZimbraConfig | None" = None) -> ServiceFacts:
    """Facts from the WHMCS module params the forwarder sends (the adapter's ClientArea path).

    Reads ``serviceid``, ``domain``, ``serverhostname``, ``serverip``, ``configoption3`` (total space in GB) or a
    configurable option named "Total space…", the ``service`` block (``regdate, nextduedate, billingcycle, amount,
    paymentmethod``, optional ``status``, ``dedicatedip``) and ``clientsdetails`` (``language, currency_code``).

    Raises:
        ParamsError: ``serviceid`` is missing or not a number, or a date or amount is malformed (names the key).
    """
    service = _block(params, "service")
    client = _block(params, "clientsdetails")
    hostname = str(params.get("serverhostname") or "") or _url_host(zimbra_entry) or str(params.get("serverip") or "")
    return ServiceFacts(
        service_id=_service_id(params), domain=str(params.get("domain") or ""),
        status=str(service.get("status") or params.get("status") or ""),
        registration_date=_date(service, "regdate"), next_due_date=_date(service, "nextduedate"),
        billing_cycle=str(service.get("billingcycle") or ""), recurring_amount=_amount(service, "amount"),
        currency_code=str(client.get("currency_code") or ""), payment_method=str(service.get("paymentmethod") or ""),
        hostname=hostname, main_ip=str(service.get("dedicatedip") or params.get("serverip") or ""),
        webmail_url=_webmail_url(zimbra_entry, hostname), admin_url=_admin_url(zimbra_entry, hostname),
        total_space_bytes=_total_space_param(params), language=str(client.get("language") or ""),
    )


def _block(params: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = params.get(key) or {}
    if not isinstance(value, Mapping):
        raise ParamsError(f"ClientArea params: {key} must be an object, got {type(value).__name__}")
    return value


def _service_id(params: Mapping[str, Any]) -> int:
    try:
        return int(params["serviceid"])
    except KeyError:
        raise ParamsError("ClientArea params: serviceid is missing") from None
    except (TypeError, ValueError):
        raise ParamsError(f"ClientArea params: serviceid is not a number: {params['serviceid']!r}") from None


def _date(block: Mapping[str, Any], key: str) -> dt.date | None:
    text = str(block.get(key) or "").strip()[:10]
    if not text or text.startswith("0000"):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParamsError(f"ClientArea params: service.{key} is not a date (YYYY-MM-DD): {text!r}") from None


def _amount(block: Mapping[str, Any], key: str) -> Decimal | None:
    raw = block.get(key)
    if raw in (None, ""):
        return None
    try:
        return Decimal(str(raw).strip())
    except InvalidOperation:
        raise ParamsError(f"ClientArea params: service.{key} is not an amount: {raw!r}") from None


def _total_space_param(params: Mapping[str, Any]) -> int | None:
    options = params.get("configoptions")
    if isinstance(options, Mapping):
        found = total_space_from_options({str(k): str(v) for k, v in options.items()})
        if found:
            return found
    raw = params.get("configoption3")
    if raw in (None, ""):
        return None
    found = total_space_from_options({"Total space": str(raw)})
    if found is None and str(raw).strip() not in ("0", "0.0"):
        raise ParamsError(f"ClientArea params: configoption3 (Total space GB) is not a number: {raw!r}")
    return found


def _url_host(entry: "ZimbraConfig | None") -> str:
    return (urlsplit(entry.url).hostname or "") if entry else ""


def _webmail_url(entry: "ZimbraConfig | None", hostname: str) -> str:
    if entry and entry.webmail_url:
        return entry.webmail_url
    return f"https://{hostname}/" if hostname else ""


def _admin_url(entry: "ZimbraConfig | None", hostname: str) -> str:
    if entry and entry.admin_url:
        return entry.admin_url
    return f"https://{hostname}:{ADMIN_PORT}/zimbraAdmin/" if hostname else ""


# --- the view ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxRow:
    """One mailbox as the tabs show it; ``percent`` is ``None`` for an unlimited mailbox."""

    name: str
    used_bytes: int
    limit_bytes: int
    percent: float | None
    level: str

    @property
    def unlimited(self) -> bool:
        """True when the mailbox has no quota."""
        return self.limit_bytes <= 0


@dataclass(frozen=True)
class UsageView:
    """The usage part of the tabs.

    ``has_data`` is False before the first sync (or live read); ``unreachable`` is True when the newest attempt to
    read Zimbra failed (at ``failed_at``), so the data shown is the last known.
    """

    has_data: bool
    used_bytes: int | None
    total_bytes: int | None
    percent: float | None
    level: str
    taken_at: dt.datetime | None
    stale: bool
    failed_at: dt.datetime | None
    unreachable: bool
    mailboxes: tuple[MailboxRow, ...]
    history: tuple[Any, ...]


@dataclass(frozen=True)
class ClientAreaView:
    """Everything the client-area templates get: facts, usage, and the element ids unique to the service."""

    facts: ServiceFacts
    usage: UsageView
    stale_after_hours: float
    now: dt.datetime

    @property
    def ids(self) -> dict[str, str]:
        """HTML ids, unique per service: the root and one per tab."""
        sid = self.facts.service_id
        return {"root": f"puq-ca-{sid}", "server-info": f"puq-srv-info-{sid}", "resource-usage": f"puq-usage-{sid}"}


def build_view(facts: ServiceFacts, snapshot: "Snapshot | None", history: Sequence["DailyPoint"] = (), *,
               now: dt.datetime | None = None, stale_after_hours: float = 26.0) -> ClientAreaView:
    """Join facts, the latest usage snapshot (``None`` = no data yet) and the daily history into the tabs' view."""
    now = _aware(now or dt.datetime.now(dt.timezone.utc))
    return ClientAreaView(facts, _usage(facts, snapshot, tuple(history), now, stale_after_hours),
                          stale_after_hours, now)


def _usage(facts: ServiceFacts, snap: "Snapshot | None", history: tuple, now: dt.datetime,
           stale_after_hours: float) -> UsageView:
    if snap is None:
        total = facts.total_space_bytes
        return UsageView(False, None, total, None, "none", None, False, None, False, (), history)
    total = facts.total_space_bytes or snap.limit_bytes or 0
    pct = _percent(snap.used_bytes, total)
    taken = _aware(snap.taken_at)
    stale = now - taken > dt.timedelta(hours=stale_after_hours)
    failed = _aware(snap.failed_at) if snap.failed_at else None
    unreachable = failed is not None or bool(snap.error)
    return UsageView(True, snap.used_bytes, total, pct, _level(pct), taken, stale, failed, unreachable,
                     mailbox_rows(snap.mailboxes), history)


def mailbox_rows(mailboxes: Sequence[Any]) -> tuple[MailboxRow, ...]:
    """Rows for the mailbox table: most used first, then by name (the order without JavaScript)."""
    rows = []
    for m in mailboxes:
        pct = _percent(m.used_bytes, m.limit_bytes)
        rows.append(MailboxRow(m.name, m.used_bytes, m.limit_bytes, pct, _level(pct)))
    rows.sort(key=lambda r: (-r.used_bytes, r.name))
    return tuple(rows)


def _percent(used: int, limit: int | None) -> float | None:
    if not limit or limit <= 0:
        return None
    return 100.0 * used / limit


def _level(pct: float | None) -> str:
    if pct is None:
        return "none"
    if pct >= DANGER_PERCENT:
        return "danger"
    if pct >= WARNING_PERCENT:
        return "warning"
    return "ok"


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
