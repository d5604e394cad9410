"""Fixtures of the adapter tests.

- ``store``: a UsageStore in the test's tmp_path.
- ``ctx``: an AdapterContext with one ``[[zimbra]]`` entry, ``mail1`` (WHMCS server 1), on
  ``zimbra_server``, the WHMCS client ``whmcs_client`` and ``store``.
- ``fake``: a FakeZimbra of its own (admin password ``tests.support.adapter.ZIMBRA_PASSWORD``)
  served on loopback, its URL in ``fake.url``, for the HTTP service and the forwarder.
"""

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.zimbra.app import FakeZimbra
from puq_bridge.usage.store import UsageStore
from tests.support import adapter
from tests.support.adapter import make_config
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD
from tests.whmcs_module.support import SERVER_ID
from whmcs_module.context import AdapterContext


@pytest.fixture
def store(store_location):
    """The adapter's store, on each backend (SQLite, PostgreSQL)."""
    with UsageStore(store_location) as s:
        yield s


@pytest.fixture
def ctx(zimbra_server, store, whmcs_client):
    _, url = zimbra_server
    entry = {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": url,
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }
    context = AdapterContext(make_config([entry]), store=store, whmcs=whmcs_client)
    yield context
    context.close()


@pytest.fixture
def fake():
    """A FakeZimbra (admin password ZIMBRA_PASSWORD) served on loopback; its URL is ``fake.url``."""
    sim = FakeZimbra(password=adapter.ZIMBRA_PASSWORD)
    with BackgroundServer(sim.wsgi_app) as server:
        sim.url = server.url
        yield sim
