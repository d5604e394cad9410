"""A suite-wide fixture (loaded by tests/conftest.py): ``self_signed``, a ``(cert, key)`` pair of
paths for a self-signed certificate of ``127.0.0.1`` (made once per run with ``openssl``; the test
is skipped without it)."""

import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory):
    """``(cert, key)`` of a self-signed certificate for 127.0.0.1 (also its subjectAltName)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not available")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
