"""Fixtures for the WHMCS client and simulator.

- ``fake_whmcs``: a fresh, **empty** :class:`FakeWhmcs` (credential ``whmcs-id`` /
  ``whmcs-secret``); tests add the clients, products, servers and services they need with its
  ``add_*`` methods.
- ``whmcs_server``: that simulator served on loopback by a ``BackgroundServer``; yields ``(fake,
  url)``.
- ``whmcs_client``: a :class:`WhmcsClient` pointed at it, with tiny timeouts and backoff (2
  retries).
"""

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from puq_bridge.whmcs.client import WhmcsClient

WHMCS_IDENTIFIER = "whmcs-id"
WHMCS_SECRET = "whmcs-secret"


@pytest.fixture
def fake_whmcs():
    """An empty FakeWhmcs; hang faults last 0.5 s (clients in tests time out well before)."""
    sim = FakeWhmcs(WHMCS_IDENTIFIER, WHMCS_SECRET)
    sim.hang_seconds = 0.5
    return sim


@pytest.fixture
def whmcs_server(fake_whmcs):
    """``(fake_whmcs, url)`` with the simulator served on 127.0.0.1 for the test's duration."""
    with BackgroundServer(fake_whmcs.wsgi_app) as server:
        yield fake_whmcs, server.url


@pytest.fixture
def whmcs_client(whmcs_server):
    """A WhmcsClient for ``whmcs_server``: 0.25 s timeout, 2 retries, 1 ms backoff."""
    _fake, url = whmcs_server
    client = WhmcsClient(
        url, WHMCS_IDENTIFIER, WHMCS_SECRET, timeout=0.25, retries=2, backoff=0.001
    )
    yield client
    client.session.close()
