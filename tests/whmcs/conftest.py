"""Fixtures of the WHMCS client tests (``fake_whmcs``, ``whmcs_server`` and ``whmcs_client`` are
suite-wide, in tests/support/whmcs.py).

- ``api_reply(body, status=200, content_type=...)``: serve one hand-made reply at
  ``/includes/api.php`` and return a WhmcsClient for it (no retries)."""

import pytest

from puq_bridge.whmcs.client import WhmcsClient


@pytest.fixture
def api_reply(httpserver):
    """Serve one hand-made reply at /includes/api.php; returns a client for it (no retries)."""

    def serve(body, status=200, content_type="application/json"):
        httpserver.expect_request("/includes/api.php", method="POST").respond_with_data(
            body, status=status, content_type=content_type
        )
        return WhmcsClient(
            httpserver.url_for("/").rstrip("/"), "id", "s3cr3t-value", timeout=1, retries=0
        )

    return serve
