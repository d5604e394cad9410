"""The typed records of the WHMCS API, and how they are read from its replies.

WHMCS answers with strings from its database (``"id": "1"``, ``"0000-00-00"``); these frozen
dataclasses carry proper Python values (ints, Decimals, dates, ``None`` for empty dates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from puq_bridge.whmcs.values import (
    items,
    to_bool,
    to_date,
    to_datetime,
    to_decimal,
    to_int,
    to_opt_int,
)

__all__ = [
    "Service",
    "Client",
    "User",
    "Product",
    "Server",
    "CancelledPackage",
    "service_from_row",
    "client_from_reply",
    "user_from_row",
    "product_from_row",
    "server_from_row",
    "cancelled_from_row",
]


@dataclass(frozen=True)
class Service:
    """One WHMCS service (a row of GetClientsProducts), values as Python types."""

    id: int
    client_id: int
    product_id: int
    product_name: str
    group_name: str
    domain: str
    status: str  # Active, Suspended, Terminated, Cancelled, Pending, Fraud, Completed
    server_id: int | None  # None when 0 / empty
    server_name: str
    server_ip: str
    server_hostname: str
    dedicated_ip: str
    registration_date: dt.date | None  # "0000-00-00" -> None
    next_due_date: dt.date | None
    billing_cycle: str  # "Monthly", "Quarterly", "Semi-Annually", "Annually", "Free Account", ...
    recurring_amount: Decimal
    first_payment_amount: Decimal
    payment_method: str  # gateway module name ("banktransfer")
    payment_method_name: str  # display name ("Bank Transfer")
    username: str
    disk_usage_mb: int
    disk_limit_mb: int
    last_update: dt.datetime | None  # "0000-00-00 00:00:00" -> None
    config_options: dict[str, str] = field(default_factory=dict)  # option name -> value
    custom_fields: dict[str, str] = field(default_factory=dict)  # field name -> value
    password: str = field(default="", repr=False)  # plaintext service password: never log or show


@dataclass(frozen=True)
class Client:
    """A WHMCS client (GetClientsDetails)."""

    id: int
    firstname: str
    lastname: str
    companyname: str
    email: str
    language: str  # "" when the client uses the system default; e.g. "polish", "english"
    currency_code: str  # "PLN", "USD", "" when unknown
    status: str


@dataclass(frozen=True)
class User:
    """A WHMCS user (GetUsers), with the clients it belongs to: ``clients`` is
    ``[(client_id, is_owner)]``."""

    id: int
    firstname: str
    lastname: str
    email: str
    created: dt.datetime | None
    clients: tuple[tuple[int, bool], ...] = ()


@dataclass(frozen=True)
class Product:
    """A WHMCS product (GetProducts)."""

    id: int
    group_id: int
    name: str
    type: str
    module: str


@dataclass(frozen=True)
class Server:
    """A WHMCS server (GetServers); no credentials are returned by WHMCS."""

    id: int
    name: str
    hostname: str
    ip_address: str
    active: bool
    module: str


@dataclass(frozen=True)
class CancelledPackage:
    """A cancellation request (GetCancelledPackages)."""

    id: int
    service_id: int
    type: str
    reason: str
    date: dt.datetime | None


def service_from_row(row: dict[str, Any]) -> Service:
    options = items(row, "configoptions", "configoption")
    fields = items(row, "customfields", "customfield")
    return Service(
        id=to_int(row.get("id")),
        client_id=to_int(row.get("clientid")),
        product_id=to_int(row.get("pid")),
        product_name=str(row.get("name") or ""),
        group_name=str(row.get("groupname") or ""),
        domain=str(row.get("domain") or ""),
        status=str(row.get("status") or ""),
        server_id=to_opt_int(row.get("serverid")),
        server_name=str(row.get("servername") or ""),
        server_ip=str(row.get("serverip") or ""),
        server_hostname=str(row.get("serverhostname") or ""),
        dedicated_ip=str(row.get("dedicatedip") or ""),
        registration_date=to_date(row.get("regdate")),
        next_due_date=to_date(row.get("nextduedate")),
        billing_cycle=str(row.get("billingcycle") or ""),
        recurring_amount=to_decimal(row.get("recurringamount")),
        first_payment_amount=to_decimal(row.get("firstpaymentamount")),
        payment_method=str(row.get("paymentmethod") or ""),
        payment_method_name=str(row.get("paymentmethodname") or ""),
        username=str(row.get("username") or ""),
        disk_usage_mb=to_int(row.get("diskusage")),
        disk_limit_mb=to_int(row.get("disklimit")),
        last_update=to_datetime(row.get("lastupdate")),
        config_options={str(o.get("option", "")): str(o.get("value", "")) for o in options},
        custom_fields={str(f.get("name", "")): str(f.get("value", "")) for f in fields},
        password=str(row.get("password") or ""),
    )


def client_from_reply(reply: dict[str, Any]) -> Client:
    c = reply.get("client") if isinstance(reply.get("client"), dict) else reply
    return Client(
        id=to_int(c.get("id") or c.get("userid")),
        firstname=str(c.get("firstname") or ""),
        lastname=str(c.get("lastname") or ""),
        companyname=str(c.get("companyname") or ""),
        email=str(c.get("email") or ""),
        language=str(c.get("language") or ""),
        currency_code=str(c.get("currency_code") or ""),
        status=str(c.get("status") or ""),
    )


def user_from_row(row: dict[str, Any]) -> User:
    clients = tuple((to_int(c.get("id")), to_bool(c.get("isOwner"))) for c in items(row, "clients"))
    return User(
        id=to_int(row.get("id")),
        firstname=str(row.get("firstname") or ""),
        lastname=str(row.get("lastname") or ""),
        email=str(row.get("email") or ""),
        created=to_datetime(row.get("datecreated")),
        clients=clients,
    )


def product_from_row(row: dict[str, Any]) -> Product:
    return Product(
        id=to_int(row.get("pid")),
        group_id=to_int(row.get("gid")),
        name=str(row.get("name") or ""),
        type=str(row.get("type") or ""),
        module=str(row.get("module") or ""),
    )


def server_from_row(row: dict[str, Any]) -> Server:
    return Server(
        id=to_int(row.get("id")),
        name=str(row.get("name") or ""),
        hostname=str(row.get("hostname") or ""),
        ip_address=str(row.get("ipaddress") or ""),
        active=to_bool(row.get("active")),
        module=str(row.get("module") or ""),
    )


def cancelled_from_row(row: dict[str, Any]) -> CancelledPackage:
    return CancelledPackage(
        id=to_int(row.get("id")),
        service_id=to_int(row.get("relid")),
        type=str(row.get("type") or ""),
        reason=str(row.get("reason") or ""),
        date=to_datetime(row.get("date")),
    )
