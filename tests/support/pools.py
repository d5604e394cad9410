"""How big a ``requests.Session``'s connection pool is, seen from outside: ``n`` requests in flight
at once.

urllib3 keeps at most ``pool_maxsize`` connections per host; when more requests run at once it opens
more and, as each finishes, throws the surplus away with a warning ("Connection pool is full,
discarding connection"). A server that holds every reply until all ``n`` requests have arrived makes
the overlap certain, so the number of warnings is exactly ``n`` minus the pool's size (0 when the
pool is big enough).
"""

from __future__ import annotations

import logging
import ssl
import threading

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

POOL_FULL = "Connection pool is full"


class _Gathered:
    """A WSGI app that answers once ``n`` requests are in flight (or after 10 s: the barrier then
    breaks)."""

    def __init__(self, n: int):
        self.barrier = threading.Barrier(n, timeout=10)

    def __call__(self, environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.barrier.wait()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class _Counter(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.discarded = 0

    def emit(self, record):
        if POOL_FULL in record.getMessage():
            self.discarded += 1


def discarded_connections(
    session: requests.Session, n: int, *, tls: tuple[str, str] | None = None
) -> int:
    """Send ``n`` requests at once through ``session`` to a new loopback server (``https`` with
    ``tls`` = ``(cert, key)``, the cert for ``127.0.0.1``) and return how many connections the
    session threw away.

    Raises AssertionError when a request fails (a pool that blocks instead of opening more
    connections would never let all ``n`` arrive).
    """
    context = None
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
    server = make_server(
        "127.0.0.1", 0, _Gathered(n), threaded=True, ssl_context=context, request_handler=_Quiet
    )
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    serving.start()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}/"
    logger = logging.getLogger("urllib3.connectionpool")
    counter, level, propagate = _Counter(), logger.level, logger.propagate
    logger.addHandler(counter)
    logger.setLevel(logging.WARNING)
    logger.propagate = False  # counted here, not left in the test's own log capture
    failures: list[BaseException] = []

    def one() -> None:
        try:
            reply = session.post(url, data=b"x", timeout=15, verify=tls[0] if tls else True)
            reply.raise_for_status()
        except Exception as err:  # collected: an assert in a thread would not fail the test
            failures.append(err)

    try:
        threads = [threading.Thread(target=one) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
        logger.propagate = propagate
        server.shutdown()
        server.server_close()
        serving.join(5)
    assert not failures, failures[:3]
    return counter.discarded
