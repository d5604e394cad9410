"""Payment gateways' display names in the client area: looked up in WHMCS once, in the background,
never holding a page up, and kept through WHMCS failures."""

import json
import logging
import re
import socket
import threading

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.whmcs.client import WhmcsClient
from puq_bridge.zimbra.models import MailboxUsage
from tests.support.adapter import (
    WHMCS_SECRET,
    make_config,
)
from tests.support.whmcs import WHMCS_IDENTIFIER
from tests.support.whmcs import WHMCS_SECRET as SIM_SECRET
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD, GiB, MiB
from tests.whmcs_module.support import (
    SERVER_ID,
    HeldAction,
    html_of,
    params,
    record,
)
from whmcs_module.adapter import dispatch
from whmcs_module.context import AdapterContext
from whmcs_module.payment_methods import PaymentMethodNames


def payment_cell(html):
    """The text of the payment-method row of the server-information tab."""
    match = re.search(r"Payment method</th><td>([^<]*)</td>", html)
    assert match, "no payment method row"
    return match.group(1)


def test_client_area_shows_the_gateway_display_name(ctx, store, fake_whmcs):
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    # the first page after start-up does not wait for WHMCS: module names, and a lookup starts
    # behind it
    assert payment_cell(html_of(dispatch("ClientArea", params(), ctx))) == "banktransfer"
    assert ctx.payment_methods.wait(5)
    assert payment_cell(html_of(dispatch("ClientArea", params(), ctx))) == "Bank Transfer"
    paypal = params(service={**params()["service"], "paymentmethod": "paypal"})
    assert payment_cell(html_of(dispatch("ClientArea", paypal, ctx))) == "PayPal"
    unknown = params(service={**params()["service"], "paymentmethod": "mailin"})
    assert payment_cell(html_of(dispatch("ClientArea", unknown, ctx))) == "mailin"
    assert (
        fake_whmcs.count("GetPaymentMethods") == 1
    )  # the names are looked up once per process, not per page


def test_payment_method_names_are_looked_up_again_after_the_ttl(whmcs_client, fake_whmcs):
    now = [1000.0]
    names = PaymentMethodNames(lambda: whmcs_client, ttl=3600, clock=lambda: now[0])
    assert (
        names.refresh_now()["stripe"] == "Credit Card" and names.name("przelewy24") == "przelewy24"
    )
    fake_whmcs.payment_methods["przelewy24"] = "Przelewy24"  # a gateway activated meanwhile
    now[0] += 3599
    assert names.name("przelewy24") == "przelewy24"
    assert names.wait(5) and fake_whmcs.count("GetPaymentMethods") == 1
    now[0] += 2
    assert (
        names.name("przelewy24") == "przelewy24"
    )  # the expired names serve the call that renews them
    assert names.wait(5) and fake_whmcs.count("GetPaymentMethods") == 2
    assert names.name("przelewy24") == "Przelewy24"


def test_whmcs_down_shows_the_module_name_and_the_page_still_renders(
    ctx, store, fake_whmcs, caplog
):
    caplog.set_level(logging.DEBUG)
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    fake_whmcs.inject("http500", on="GetPaymentMethods")  # asked once: the lookup is never retried
    html = html_of(dispatch("ClientArea", params(), ctx))
    assert payment_cell(html) == "banktransfer" and "biuro@firma.pl" in html
    assert ctx.payment_methods.wait(5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "payment method names unavailable" in w and "GetPaymentMethods" in w for w in warnings
    )
    assert WHMCS_SECRET not in caplog.text and "whmcs-secret" not in caplog.text
    dispatch("ClientArea", params(clientsdetails={"language": "polish"}), ctx)
    assert payment_cell(html_of(dispatch("ClientArea", params(), ctx))) == "banktransfer"
    assert ctx.payment_methods.wait(5)
    assert (
        fake_whmcs.count("GetPaymentMethods") == 1
    )  # not asked again on every page while WHMCS is down


def test_unreachable_whmcs_or_none_gives_module_names(store):
    refused = WhmcsClient("http://127.0.0.1:9", "whmcs-id", WHMCS_SECRET, timeout=0.25, retries=0)
    for whmcs in (refused, None):
        context = AdapterContext(make_config(), store=store, whmcs=whmcs)
        assert context.payment_methods.name("banktransfer") == "banktransfer"
        assert context.payment_methods.wait(5)
        assert context.payment_methods.name("banktransfer") == "banktransfer"
        assert context.payment_methods.name("") == ""


def test_earlier_names_survive_a_failed_refresh(whmcs_client, fake_whmcs):
    now = [0.0]
    names = PaymentMethodNames(lambda: whmcs_client, ttl=10, retry_after=5, clock=lambda: now[0])
    assert names.refresh_now()["paypal"] == "PayPal"
    now[0] = 11
    fake_whmcs.inject(
        "auth", on="GetPaymentMethods"
    )  # e.g. the API role lost the action: not retried
    assert names.name("paypal") == "PayPal" and names.wait(5)
    assert names.name("paypal") == "PayPal" and fake_whmcs.count("GetPaymentMethods") == 2
    now[0] = 17
    fake_whmcs.payment_methods["paypal"] = "PayPal (wallet)"
    assert names.name("paypal") == "PayPal" and names.wait(5)
    assert names.name("paypal") == "PayPal (wallet)" and fake_whmcs.count("GetPaymentMethods") == 3


def mail1(zimbra_server):
    """The ``[[zimbra]]`` entry of ``zimbra_server`` (WHMCS server 1)."""
    return {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": zimbra_server[1],
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }


def test_a_hanging_whmcs_does_not_hold_the_page_and_the_lookup_gives_up_soon(
    fake_whmcs, zimbra_server, store, caplog
):
    """The page is served while WHMCS still holds the lookup's request; a lookup gives up on its own
    short timeout, once, without retries, whatever the WHMCS client's own settings (30 s, 2
    retries)."""
    held = HeldAction(fake_whmcs.wsgi_app, "GetPaymentMethods")
    with BackgroundServer(held) as server:
        patient = WhmcsClient(
            server.url, WHMCS_IDENTIFIER, SIM_SECRET, timeout=30, retries=2, backoff=0.001
        )
        context = AdapterContext(make_config([mail1(zimbra_server)]), store=store, whmcs=patient)
        try:
            assert context.payment_methods.timeout <= 2  # the default a lookup may wait for a read
            record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
            # a lookup as patient as the client: the page still does not wait for it
            context.payment_methods = PaymentMethodNames(lambda: context.whmcs, timeout=30)
            html = html_of(dispatch("ClientArea", params(), context))
            assert payment_cell(html) == "banktransfer" and "biuro@firma.pl" in html
            assert held.arrived(1) and not context.payment_methods.wait(0)  # still held
            # a lookup with a short timeout ends by itself while WHMCS still holds its request
            quick = PaymentMethodNames(lambda: context.whmcs, timeout=0.2)
            assert quick.name("banktransfer") == "banktransfer" and quick.wait(5)
            assert held.count == 2  # one request per lookup: no retries
            assert (patient.timeout, patient.retries) == (30, 2)  # the client serves everyone else
            assert "payment method names unavailable" in caplog.text
        finally:
            held.release()
            context.payment_methods.wait(5)
            patient.session.close()


PAYMENT_REPLY = json.dumps(
    {
        "result": "success",
        "totalresults": 2,
        "paymentmethods": {
            "paymentmethod": [
                {"module": "banktransfer", "displayname": "Bank Transfer"},
                {"module": "paypal", "displayname": "PayPal"},
            ]
        },
    }
)


class TrickleWhmcs:
    """A WHMCS API on loopback whose right answer never ends until the test calls :meth:`finish`:
    the reply is chunked, a blank (JSON allows leading white space) every ``pause`` seconds, each
    well within a client's read timeout so that requests' ``timeout`` never fires, and the JSON
    itself only after :meth:`finish`."""

    def __init__(self, body: str, *, pause: float = 0.05):
        self.body, self.pause = body.encode(), pause
        self.connections = 0
        self._finished = threading.Event()
        self._stopped = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            try:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                while not self._finished.wait(self.pause):
                    if self._stopped.is_set():
                        return
                    conn.sendall(b"1\r\n \r\n")
                conn.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(self.body), self.body))
            except OSError:  # the client gave up
                return

    def finish(self):
        """Send the rest of every reply: the JSON and the end of the body."""
        self._finished.set()

    def stop(self):
        self._stopped.set()
        self._sock.close()


def test_pages_never_wait_for_a_trickling_whmcs_and_one_lookup_serves_the_later_pages(
    zimbra_server, store
):
    """requests' timeout bounds each read, not the reply: a WHMCS sending its answer a few bytes at
    a time held every page (one doing the lookup, the others waiting for its lock) for as long as
    the answer took. Here the answer takes until the test ends it, and every page is served before
    that."""
    slow = TrickleWhmcs(PAYMENT_REPLY)
    whmcs = WhmcsClient(slow.url, "whmcs-id", WHMCS_SECRET, timeout=30, retries=2)
    context = AdapterContext(make_config([mail1(zimbra_server)]), store=store, whmcs=whmcs)
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    shown = []

    def page():
        shown.append(payment_cell(html_of(dispatch("ClientArea", params(), context))))

    try:
        pages = [threading.Thread(target=page) for _ in range(8)]  # the adapter's worker threads
        for thread in pages:
            thread.start()
        for thread in pages:
            thread.join(5)
        # all eight were served while the lookup's reply is still coming (the test holds its end)
        assert not any(thread.is_alive() for thread in pages)
        assert shown == ["banktransfer"] * 8 and not context.payment_methods.wait(0)
        page()  # another page while the lookup still runs
        assert shown[-1] == "banktransfer" and not context.payment_methods.wait(0)
        slow.finish()
        assert context.payment_methods.wait(5)
        assert slow.connections == 1  # one lookup for all nine pages
        page()
        assert shown[-1] == "Bank Transfer" and slow.connections == 1
    finally:
        slow.stop()
        context.payment_methods.wait(5)
        whmcs.session.close()


def test_concurrent_callers_start_one_lookup_and_none_waits_for_it(fake_whmcs):
    held = HeldAction(fake_whmcs.wsgi_app, "GetPaymentMethods")
    with BackgroundServer(held) as server:
        client = WhmcsClient(server.url, WHMCS_IDENTIFIER, SIM_SECRET, timeout=30, retries=0)
        names = PaymentMethodNames(lambda: client, timeout=30)
        got = []
        callers = [
            threading.Thread(target=lambda: got.append(names.name("paypal"))) for _ in range(6)
        ]
        try:
            for thread in callers:
                thread.start()
            for thread in callers:
                thread.join(5)
            # all six answered while WHMCS still holds the one lookup they started
            assert got == ["paypal"] * 6 and held.arrived(1) and not names.wait(0)
        finally:
            held.release()
        assert names.wait(5) and names.name("paypal") == "PayPal"
        assert held.count == fake_whmcs.count("GetPaymentMethods") == 1
        client.session.close()
