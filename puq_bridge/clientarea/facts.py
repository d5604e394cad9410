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
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urlsplit

from puq_bridge.errors import ParamsError
from puq_bridge.provisioning import total_space_setting
from puq_bridge.usage.model import service_total_space

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.config import ZimbraConfig
    from puq_bridge.whmcs.models import Client, Service

log = logging.getLogger(__name__)

ADMIN_PORT = 7071


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


def facts_from_service(
    service: "Service",
    client: "Client",
    zimbra_entry: "ZimbraConfig | None" = None,
    *,
    product_total_bytes: int | None = None,
) -> ServiceFacts:
    """Facts from WHMCS's GetClientsProducts row and GetClientsDetails (the ``render`` command's path).

    GetClientsProducts does not return module settings: ``product_total_bytes`` is the product's "Total space"
    setting as the adapter last saw it (:meth:`~puq_bridge.store.UsageStore.total_spaces`), ``None`` if unknown.
    """
    hostname = service.server_hostname or _url_host(zimbra_entry) or service.server_ip
    return ServiceFacts(
        service_id=service.id,
        domain=service.domain,
        status=service.status,
        registration_date=service.registration_date,
        next_due_date=service.next_due_date,
        billing_cycle=service.billing_cycle,
        recurring_amount=service.recurring_amount,
        currency_code=client.currency_code,
        payment_method=service.payment_method_name or service.payment_method,
        hostname=hostname,
        main_ip=service.dedicated_ip or service.server_ip,
        webmail_url=_webmail_url(zimbra_entry, hostname),
        admin_url=_admin_url(zimbra_entry, hostname),
        total_space_bytes=service_total_space(service.config_options, product_total_bytes),
        language=client.language,
    )


def facts_from_params(
    params: Mapping[str, Any], zimbra_entry: "ZimbraConfig | None" = None
) -> ServiceFacts:
    """Facts from the WHMCS module params the forwarder sends (the adapter's ClientArea path).

    Reads ``serviceid``, ``domain``, ``serverhostname``, ``serverip``, the ``service`` block (``regdate,
    nextduedate, billingcycle, amount, paymentmethod``, optional ``status``, ``dedicatedip``), ``clientsdetails``
    (``language, currency_code``) and the total space (a configurable option named "Total space…" in
    ``configoptions``, else ``configoption3``: :func:`~puq_bridge.usage.service_total_space`).

    Raises:
        ParamsError: ``serviceid`` is missing or not a number, a date or amount is malformed, or ``configoption3`` is
            not a number of GB (names the key).
    """
    service = _block(params, "service")
    client = _block(params, "clientsdetails")
    hostname = (
        str(params.get("serverhostname") or "")
        or _url_host(zimbra_entry)
        or str(params.get("serverip") or "")
    )
    return ServiceFacts(
        service_id=_service_id(params),
        domain=str(params.get("domain") or ""),
        status=str(service.get("status") or params.get("status") or ""),
        registration_date=_date(service, "regdate"),
        next_due_date=_date(service, "nextduedate"),
        billing_cycle=str(service.get("billingcycle") or ""),
        recurring_amount=_amount(service, "amount"),
        currency_code=str(client.get("currency_code") or ""),
        payment_method=str(service.get("paymentmethod") or ""),
        hostname=hostname,
        main_ip=str(service.get("dedicatedip") or params.get("serverip") or ""),
        webmail_url=_webmail_url(zimbra_entry, hostname),
        admin_url=_admin_url(zimbra_entry, hostname),
        total_space_bytes=service_total_space(_options(params), total_space_setting(params)),
        language=str(client.get("language") or ""),
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
        raise ParamsError(
            f"ClientArea params: serviceid is not a number: {params['serviceid']!r}"
        ) from None


def _date(block: Mapping[str, Any], key: str) -> dt.date | None:
    text = str(block.get(key) or "").strip()[:10]
    if not text or text.startswith("0000"):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParamsError(
            f"ClientArea params: service.{key} is not a date (YYYY-MM-DD): {text!r}"
        ) from None


def _amount(block: Mapping[str, Any], key: str) -> Decimal | None:
    raw = block.get(key)
    if raw in (None, ""):
        return None
    try:
        return Decimal(str(raw).strip())
    except InvalidOperation:
        raise ParamsError(f"ClientArea params: service.{key} is not an amount: {raw!r}") from None


def _options(params: Mapping[str, Any]) -> dict[str, str]:
    options = params.get("configoptions")
    return {str(k): str(v) for k, v in options.items()} if isinstance(options, Mapping) else {}


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
