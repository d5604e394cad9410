"""A suite-wide fixture (loaded by tests/conftest.py): ``self_signed``, a ``(cert, key)`` pair of
paths for a self-signed certificate of ``127.0.0.1``, made once per run
(:func:`tests.support.https.self_signed_cert`)."""

import pytest

from tests.support.https import self_signed_cert


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """``(cert, key)`` of a self-signed certificate for 127.0.0.1 (also its subjectAltName)."""
    return self_signed_cert(tmp_path_factory.mktemp("tls"))
