"""Helpers of the client-area tests: a fixed "now", a WHMCS service and its client as the WHMCS
client returns them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from puq_bridge.whmcs.models import Client, Service

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)


def service(**changes) -> Service:
    values = dict(
        id=42,
        client_id=7,
        product_id=3,
        product_name="Prywatny serwer mailowy Zimbra",
        group_name="Mail",
        domain="example.pl",
        status="Active",
        server_id=3,
        server_name="mail1",
        server_ip="192.0.2.10",
        server_hostname="mail1.example.com",
        dedicated_ip="",
        registration_date=dt.date(2026, 1, 15),
        next_due_date=dt.date(2026, 12, 15),
        billing_cycle="Quarterly",
        recurring_amount=Decimal("147.00"),
        first_payment_amount=Decimal("147.00"),
        payment_method="banktransfer",
        payment_method_name="Bank Transfer",
        username="admin",
        disk_usage_mb=0,
        disk_limit_mb=0,
        last_update=None,
        config_options={"Total space (GB)": "50"},
        password="Sekret-Hasl0!",
    )
    values.update(changes)
    return Service(**values)


CLIENT = Client(
    id=7,
    firstname="Jan",
    lastname="Kowalski",
    companyname="",
    email="jan@example.pl",
    language="polish",
    currency_code="PLN",
    status="Active",
)
