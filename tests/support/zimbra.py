"""Fixtures for the Zimbra simulator and client: ``fake_zimbra``, ``zimbra_server``,
``zimbra_admin`` (and ``password_is``, whether a password is a mailbox's own, seen as a login
would see it).

``fake_zimbra`` is a fresh :class:`FakeZimbra` (admin ``admin@example.com`` /
``zimbra-secret``, host ``mail1.example.com``) holding this sample data (MiB = 1024²,
GiB = 1024³ bytes):

========================  ====================  =========  ========  ==========================
account                   quota set on it       effective  used      notes
========================  ====================  =========  ========  ==========================
``info@example.com``      1 GiB                 1 GiB      300 MiB
``sales@example.com``     none (COS default 0)  0          5 MiB     unlimited
``empty@example.com``     500 MiB               500 MiB    0         never used
``locked@example.com``    none (COS ``basic``)  1 GiB      1000 MiB  ``zimbraAccountStatus``
                                                                     ``=locked``
``office@example.org``    1 GiB                 200 MiB    150 MiB   domain quota caps it
========================  ====================  =========  ========  ==========================

Domains: ``example.com`` (``zimbraDomainMaxAccounts=10``), ``example.org``
(``zimbraMailDomainQuota`` 200 MiB), ``empty.net`` (no accounts). Classes of service:
``default`` (quota 0 = unlimited) and ``basic`` (1 GiB).
"""

import io
from pathlib import Path

import pytest

from puq_bridge.errors import PermissionDenied, ZimbraError
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.zimbra.app import FakeZimbra

#: The real Zimbra replies of the nucleus-be/zimbra project (CI and developers have ../shared beside
#: the clone).
CAPTURES = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "zimbra-captures"
    / "nucleus-be_zimbra"
)
ZIMBRA_ADMIN = "admin@example.com"
ZIMBRA_PASSWORD = "zimbra-secret"
MiB = 1024**2
GiB = 1024**3


def add_sample_data(sim: FakeZimbra) -> None:
    """The sample data described in this module's docstring."""
    basic = sim.add_cos("basic", {"zimbraMailQuota": str(GiB), "zimbraPasswordMinLength": "6"})
    sim.add_domain("example.com", {"zimbraDomainMaxAccounts": "10"})
    sim.add_domain("example.org", {"zimbraMailDomainQuota": str(200 * MiB)})
    sim.add_domain("empty.net")
    sim.add_account("info@example.com", quota=GiB, used=300 * MiB)
    sim.add_account("sales@example.com", used=5 * MiB)
    sim.add_account("empty@example.com", quota=500 * MiB)
    sim.add_account(
        "locked@example.com", used=1000 * MiB, status="locked", attrs={"zimbraCOSId": basic}
    )
    sim.add_account("office@example.org", quota=GiB, used=150 * MiB)


def echoing_auth(sim: FakeZimbra):
    """A WSGI front of ``sim`` that answers AuthRequest with a fault quoting the request it got (as
    a proxy or an error page may): the password comes back XML-escaped inside the fault's text.
    Other requests pass."""
    from puq_bridge.simulators.zimbra.wire import SOAP11, SimFault, envelope, fault_body

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if b"AuthRequest" not in body:
            environ["wsgi.input"] = io.BytesIO(body)
            return sim.wsgi_app(environ, start_response)
        request = body.decode().split("<soap-env:Body>", 1)[1].split("</soap-env:Body>", 1)[0]
        fault = SimFault("service.INVALID_REQUEST", f"invalid request: {request}")
        start_response("500 Server Error", [("Content-Type", "text/xml; charset=utf-8")])
        return [envelope(SOAP11, fault_body(SOAP11, fault, "qtp1"))]

    return app


@pytest.fixture
def fake_zimbra() -> FakeZimbra:
    """A fresh FakeZimbra with the module's sample data."""
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD, host="mail1.example.com")
    add_sample_data(sim)
    return sim


@pytest.fixture
def zimbra_server(fake_zimbra):
    """``(fake, url)``: ``fake_zimbra`` served on loopback by a started BackgroundServer."""
    with BackgroundServer(fake_zimbra.wsgi_app) as server:
        yield fake_zimbra, server.url


@pytest.fixture
def zimbra_admin(zimbra_server):
    """A ZimbraAdmin (name ``mail1``) pointed at ``zimbra_server``, with tiny timeouts."""
    from puq_bridge.zimbra.client import ZimbraAdmin

    _, url = zimbra_server
    admin = ZimbraAdmin(url, ZIMBRA_ADMIN, ZIMBRA_PASSWORD, name="mail1", timeout=(1.0, 2.0))
    yield admin
    admin.close()


def password_is(url, mailbox, password):
    """True when ``password`` is the mailbox's password (the fake says "not an admin account" only
    then)."""
    from puq_bridge.zimbra.client import ZimbraAdmin

    client = ZimbraAdmin(url, mailbox, password, timeout=2)
    try:
        client.authenticate()
    except PermissionDenied as err:
        return "not an admin account" in str(err)
    except ZimbraError:
        return False
    finally:
        client.close()
    raise AssertionError("a mailbox must not authenticate as admin")
