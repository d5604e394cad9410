"""Helpers of the adapter tests: the module params WHMCS sends, a stored usage reading, what a page
shows, and a WHMCS that holds one action's requests until the test lets them go."""

import datetime as dt
import io
import logging
import threading
from urllib.parse import parse_qsl

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


class HeldAction:
    """A WSGI wrapper of a WHMCS simulator that holds every request of one API action until
    :meth:`release`: while the test has not released it, whoever waits for that reply provably still
    waits.

    ``count`` is how many requests of the action arrived; :meth:`arrived` waits for the n-th.
    """

    def __init__(self, app, action: str):
        self.app, self.action = app, action.lower()
        self.count = 0
        self._released = threading.Event()
        self._changed = threading.Condition()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        if dict(parse_qsl(body.decode())).get("action", "").lower() == self.action:
            with self._changed:
                self.count += 1
                self._changed.notify_all()
            self._released.wait(
                30
            )  # (never forever: a test that fails before releasing still ends)
        return self.app(environ, start_response)

    def arrived(self, n: int = 1, timeout: float = 5) -> bool:
        """Wait up to ``timeout`` seconds for the ``n``-th request of the action; whether it
        came."""
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= n, timeout)

    def release(self) -> None:
        """Let every held request (and every later one) through to the simulator."""
        self._released.set()
