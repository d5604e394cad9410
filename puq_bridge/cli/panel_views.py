"""Plain data and text lines for the client-panel commands (``services``, ``users``, ``cancel``).

The functions here turn the WHMCS client's dataclasses and the store's snapshots into JSON-ready
dicts and short human lines. They do no I/O, and none of them ever reads a service's password.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from puq_bridge.units import GB, bytes_to_mb, percent

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.clientarea.i18n import Catalog

NO_DATA = "no data yet"
UNLIMITED = "unlimited"


def size_text(value: int) -> str:
    """Bytes for people: GB (1024**3) with one decimal from 1 GB up, whole MB (rounded up) below."""
    if value >= GB:
        return f"{value / GB:.1f} GB"
    return f"{bytes_to_mb(value)} MB"


def when_text(value: dt.datetime | None) -> str:
    """A UTC timestamp to the minute (``2026-11-22 03:00 UTC``), or ``-``."""
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def date_text(value: dt.date | None) -> str:
    """An ISO date, or ``-`` when WHMCS has none (``0000-00-00``)."""
    return value.isoformat() if value else "-"


def client_doc(client) -> dict[str, Any]:
    """JSON fields of a :class:`~puq_bridge.whmcs.models.Client` the operator needs to recognise
    it."""
    return {
        "id": client.id,
        "firstname": client.firstname,
        "lastname": client.lastname,
        "companyname": client.companyname,
        "email": client.email,
        "currency_code": client.currency_code,
        "status": client.status,
    }


def usage_doc(snapshot) -> dict[str, Any] | None:
    """JSON for the latest usage :class:`~puq_bridge.usage.records.Snapshot` (``None`` when there is
    none yet)."""
    if snapshot is None:
        return None
    return {
        "used_bytes": snapshot.used_bytes,
        "limit_bytes": snapshot.limit_bytes,
        "used_mb": bytes_to_mb(snapshot.used_bytes),
        "limit_mb": bytes_to_mb(snapshot.limit_bytes),
        "unlimited": snapshot.limit_bytes <= 0,
        "percent": _rounded(percent(snapshot.used_bytes, snapshot.limit_bytes)),
        "mailboxes": len(snapshot.mailboxes),
        "taken_at": snapshot.taken_at,
        "last_error": snapshot.error,
        "failed_at": snapshot.failed_at,
    }


def service_doc(service, snapshot) -> dict[str, Any]:
    """JSON for one :class:`~puq_bridge.whmcs.models.Service` plus its usage; deliberately without
    the password."""
    return {
        "service_id": service.id,
        "product": service.product_name,
        "group": service.group_name,
        "domain": service.domain,
        "status": service.status,
        "username": service.username,
        "server": service.server_hostname or service.server_name or None,
        "registration_date": service.registration_date,
        "next_due_date": service.next_due_date,
        "billing_cycle": service.billing_cycle,
        "recurring_amount": service.recurring_amount,
        "payment_method": service.payment_method_name or service.payment_method,
        "usage": usage_doc(snapshot),
    }


def usage_text(snapshot) -> str:
    """``1.5 GB of 10.0 GB (15.0%), taken 2026-11-22 03:00 UTC``; ``unlimited`` for limit 0; or "no
    data yet"."""
    if snapshot is None:
        return NO_DATA
    used = size_text(snapshot.used_bytes)
    if snapshot.limit_bytes <= 0:
        text = f"{used} of {UNLIMITED}"
    else:
        text = (
            f"{used} of {size_text(snapshot.limit_bytes)} "
            f"({percent(snapshot.used_bytes, snapshot.limit_bytes):.1f}%)"
        )
    text += f", taken {when_text(snapshot.taken_at)}"
    if snapshot.error:
        text += f"; last sync failed {when_text(snapshot.failed_at)}: {snapshot.error}"
    return text


def service_lines(service, snapshot, currency: str, fmt: "Catalog") -> list[str]:
    """Three lines for one service: identity, billing, usage.

    ``fmt`` (the English catalog) writes the recurring amount as the client-area tab does
    (``PLN 49.00``), followed by the billing cycle in WHMCS's words, as WHMCS lists a price.
    """
    amount = fmt.money(service.recurring_amount, currency)
    return [
        f"#{service.id}  {service.product_name}  {service.domain or '-'}  [{service.status}]",
        f"    registered {date_text(service.registration_date)}, "
        f"next due {date_text(service.next_due_date)}, "
        f"{amount} {service.billing_cycle}, "
        f"{service.payment_method_name or service.payment_method or '-'}",
        f"    usage: {usage_text(snapshot)}",
    ]


def user_doc(user, client_id: int) -> dict[str, Any]:
    """JSON for one :class:`~puq_bridge.whmcs.models.User` as seen from one client (``owner`` of
    that client or not)."""
    return {
        "id": user.id,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "email": user.email,
        "owner": is_owner(user, client_id),
        "created": user.created,
    }


def user_line(user, client_id: int) -> str:
    """``#3  jan@example.pl  Jan Kowalski  owner  since 2026-01-15``."""
    name = f"{user.firstname} {user.lastname}".strip() or "-"
    owner = "  owner" if is_owner(user, client_id) else ""
    since = f"  since {user.created.date().isoformat()}" if user.created else ""
    return f"#{user.id}  {user.email}  {name}{owner}{since}"


def is_owner(user, client_id: int) -> bool:
    """True when ``user`` owns the client account ``client_id``."""
    return any(cid == client_id and owner for cid, owner in user.clients)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
