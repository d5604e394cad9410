"""Suite-wide fixtures: the suite is offline (only loopback connections are allowed)."""

import ipaddress
import socket

import pytest

pytest_plugins = ["tests.fixtures_whmcs", "tests.fixtures_zimbra", "tests.fixtures_store"]

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise AssertionError(f"test tried to connect to non-loopback address {address!r}")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Fail any connection that leaves loopback."""

    def connect(sock, address):
        _check(sock, address)
        return _real_connect(sock, address)

    def connect_ex(sock, address):
        _check(sock, address)
        return _real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
