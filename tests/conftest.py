"""Suite-wide fixtures: the suite is offline (only loopback connections are allowed)."""

import ipaddress
import socket

import pytest

pytest_plugins = [
    "tests.support.whmcs",
    "tests.support.zimbra",
    "tests.support.tls",
    "tests.support.store",
]

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


@pytest.fixture
def bounded():
    """``bounded(fn, *args)``: ``fn(*args)``'s result (or its exception), failing the test if it has
    not returned after a generous 30 s: a guard for code that must end on its own (deadlines), not a
    timing."""
    import threading

    def run(fn, *args, **kwargs):
        outcome: dict = {}

        def target():
            try:
                outcome["value"] = fn(*args, **kwargs)
            except BaseException as err:  # handed to the test below
                outcome["error"] = err

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(30)
        if thread.is_alive():
            pytest.fail(f"{getattr(fn, '__name__', fn)} still running after 30 s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return run
