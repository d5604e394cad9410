"""Fixtures of the usage tests.

- ``farm``: a :class:`tests.support.sync.Farm` on ``whmcs_server`` (one client, one product, no
  Zimbra yet; the test adds its servers with ``farm.add_mail``), its servers stopped at the end."""

import pytest

from tests.support.sync import Farm


@pytest.fixture
def farm(whmcs_server):
    sim, _url = whmcs_server
    f = Farm(sim)
    yield f
    f.stop()
