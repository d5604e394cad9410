import socket

import pytest


def test_non_loopback_connection_fails():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(AssertionError, match="non-loopback"):
            s.connect(("192.0.2.1", 80))
    finally:
        s.close()
