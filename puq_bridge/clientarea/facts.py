"""What the client-area tabs show about a service apart from its usage: :class:`ServiceFacts`.

Nothing here does I/O. :func:`facts_from_service` takes the WHMCS API's records (the ``render``
command), :func:`facts_from_params` the module params the forwarder sent (the adapter's ClientArea).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from puq_bridge.usage.model import service_total_space
from puq_bridge.whmcs.params import ModuleParams

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.config import ZimbraConfig
    from puq_bridge.whmcs.models import Client, Service

log = logging.getLogger(__name__)

ADMIN_PORT = 7071


@dataclass(frozen=True)
class ServiceFacts:
    """What the tabs show about a service apart from usage. No secrets: the service password never
    gets here."""

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
    """Facts from WHMCS's GetClientsProducts row and GetClientsDetails (the ``render`` command's
    path).

    GetClientsProducts does not return module settings: ``product_total_bytes`` is the product's
    "Total space" setting as the adapter last saw it
    (:meth:`~puq_bridge.usage.store.UsageStore.total_spaces`), ``None`` if unknown.
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
    params: ModuleParams, zimbra_entry: "ZimbraConfig | None" = None
) -> ServiceFacts:
    """Facts from the module params the forwarder sent (the adapter's ClientArea path).

    Uses the service id and domain, the server's hostname and IP, the ``service`` block (dates,
    cycle, amount, payment method, status, dedicated IP), the client's language and currency, and
    the total space (:func:`~puq_bridge.usage.model.service_total_space`: the client's
    "Total space…" option, else the product's setting 3). No other product setting is read.

    Raises:
        ParamsError: the service id or domain is missing or malformed, a date or amount is
            malformed, or setting 3 is not a number of GB (each names what failed).
    """
    server, service, client = params.server, params.service, params.client
    hostname = server.hostname or _url_host(zimbra_entry) or server.ip
    return ServiceFacts(
        service_id=params.require_service_id(),
        domain=params.domain,
        status=service.text("status") or params.status,
        registration_date=service.date("regdate"),
        next_due_date=service.date("nextduedate"),
        billing_cycle=service.text("billingcycle"),
        recurring_amount=service.amount("amount"),
        currency_code=client.currency_code,
        payment_method=service.text("paymentmethod"),
        hostname=hostname,
        main_ip=service.text("dedicatedip") or server.ip,
        webmail_url=_webmail_url(zimbra_entry, hostname),
        admin_url=_admin_url(zimbra_entry, hostname),
        total_space_bytes=service_total_space(params.options, params.product.total_space_bytes),
        language=client.language,
    )


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
