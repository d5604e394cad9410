"""Fixtures of the Zimbra client and simulator tests (``fake_zimbra``, ``zimbra_server`` and
``zimbra_admin``, with their sample data, are suite-wide, in tests/support/zimbra.py).

- ``served(sim) -> url``: serve a FakeZimbra the test built on loopback, until the test ends.
"""

import pytest

from puq_bridge.simulators.server import BackgroundServer


@pytest.fixture
def served():
    """Start a FakeZimbra built by the test on loopback: ``served(sim) -> url``."""
    servers = []

    def start(sim):
        servers.append(BackgroundServer(sim.wsgi_app).start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()
