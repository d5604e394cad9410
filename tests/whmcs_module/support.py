"""Helpers of the adapter tests: the module params WHMCS sends, a stored usage reading, what a page shows."""

import datetime as dt
import logging

from puq_bridge.usage.records import ServiceResult
from tests.support.zimbra import GiB

SERVICE_PASSWORD = "Service-Pass-321"



SERVER_ID = 1  # the first server FakeWhmcs.add_server makes



def params(**extra):
    base = {
        "serviceid": 42,
        "serverid": SERVER_ID,
        "domain": "firma.pl",
        "username": "biuro",
        "password": SERVICE_PASSWORD,
        "serverhostname": "mail1.example.com",
        "serverip": "192.0.2.5",
        "configoption1": "512",
        "configoption2": "20",
        "configoption3": "",
        "configoption5": "locked",
        "configoption6": "domain",
        "service": {
            "regdate": "2026-01-15",
            "nextduedate": "2026-12-15",
            "billingcycle": "Monthly",
            "amount": "49.00",
            "paymentmethod": "banktransfer",
            "status": "Active",
        },
        "clientsdetails": {"language": "english", "currency_code": "PLN"},
    }
    base.update(extra)
    return base



def html_of(result):
    assert result["templatefile"] == "templates/clientarea"
    return result["vars"]["puqbridge_html"]



def record(
    store,
    mailboxes,
    *,
    service_id=42,
    domain="firma.pl",
    error=None,
    status="updated",
    tenancy="domain",
):
    now = dt.datetime.now(dt.timezone.utc)
    used = sum(m.used_bytes for m in mailboxes) if status != "failed" else None
    limit = 10 * GiB if status != "failed" else None
    store.record_run(
        now,
        now,
        [
            ServiceResult(
                service_id, domain, "mail1", status, used, limit, tuple(mailboxes), error, tenancy
            )
        ],
    )


def warnings_of(caplog):
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
