"""Run a WSGI app (a simulator) on loopback in a background thread."""

from __future__ import annotations

import socket
import threading
import time

from werkzeug.serving import WSGIRequestHandler, make_server


class DropConnection(Exception):
    """Raised by a simulator to close the connection without any reply (a crashed or overloaded
    server)."""


def trickle(body: bytes, pause: float):
    """A WSGI body that sends ``body`` one byte at a time, ``pause`` seconds before each: a server
    (or a proxy in front of it) that keeps a connection busy without ever finishing its reply. A
    per-read timeout longer than ``pause`` never fires; only a deadline for the whole exchange ends
    it. Stops when the client has gone."""
    for i in range(len(body)):
        time.sleep(pause)
        yield body[i : i + 1]


def _dropping(app):
    """Wrap ``app`` so that a :class:`DropConnection` closes the socket with no reply at all."""

    def wrapped(environ, start_response):
        try:
            return app(environ, start_response)
        except DropConnection:
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            raise ConnectionResetError("simulated dropped connection") from None

    return wrapped


class _Handler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # quiet: simulators are not the thing under test
        pass

    def log_error(self, *args):
        pass


class BackgroundServer:
    """A threaded HTTP server for ``app`` on ``host:port`` (port 0 picks a free one).

    ``start()`` returns self; ``url`` is ``http://host:port``; ``stop()`` closes the socket, so
    later requests get "connection refused". Usable as a context manager. With an ``ssl_context`` (a
    server-side ``ssl.SSLContext`` holding the certificate) it speaks HTTPS only, as Zimbra's admin
    port 7071 does: ``url`` is then ``https://host:port``, and a plain-HTTP request gets no HTTP
    reply.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, *, ssl_context=None):
        self.app, self.host, self.port = app, host, port
        self.ssl_context = ssl_context
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"{'https' if self.ssl_context else 'http'}://{self.host}:{self.port}"

    def start(self) -> "BackgroundServer":
        """Bind and serve in a daemon thread."""
        self._server = make_server(
            self.host,
            self.port,
            _dropping(self.app),
            threaded=True,
            request_handler=_Handler,
            ssl_context=self.ssl_context,
        )
        self._server.daemon_threads = True
        self.port = self._server.server_port
        # a short poll interval: stop() waits for the serving loop to notice, 0.5 s by default
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"sim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
