"""The adapter's HTTP service: ``POST /whmcs/<Function>`` (the server module) and
``POST /whmcs/addon/<Function>`` (the addon module's page) with a signed JSON body, on waitress.

Order of checks (nothing runs before the signature is good): a path that is not
``/whmcs/<Name>`` → 404; not POST → 405; a ``Content-Length`` over the limit → 413 (checked
before reading; the read is capped too; none means empty); a missing, forged, expired or
replayed signature → 401; an unknown function → 404; a body that is not ``{"params": {...}}``
→ 400. Otherwise ``200 {"result": ...}``. The access log names method, path, status and
duration only.

Signatures are remembered in the usage store when there is one
(:meth:`~puq_bridge.usage.store.UsageStore.claim_signature`), so a request replayed to another
instance sharing the store, or after a restart, is refused too; a store that does not answer
then → 503 and nothing runs.

``GET /healthz`` (unsigned, for a load balancer): ``200 {"status": "ok"}`` when the store answers
(or there is none), ``503 {"status": "unavailable"}`` when not; the cause goes to the log, never
into the reply.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import threading
import time
from typing import Any, Callable, Iterable

from puq_bridge.errors import StoreError
from whmcs_module.adapter import FUNCTIONS, dispatch
from whmcs_module.addon import ADDON_FUNCTIONS, dispatch_addon
from whmcs_module.context import AdapterContext
from whmcs_module.signing import HEADER, SignatureError, Verifier

log = logging.getLogger(__name__)
access_log = logging.getLogger(__name__ + ".access")

_PATH_RE = re.compile(r"^/whmcs/(addon/)?([A-Za-z][A-Za-z0-9]{0,63})$")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
HEALTH_PATH = "/healthz"
HEALTH_TIMEOUT = 2.0


class _Reject(Exception):
    def __init__(self, status: int, message: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


class _Health:
    """``/healthz``: whether the store answers; a change of state is logged once, with the cause."""

    def __init__(self, store):
        self.store = store
        self.healthy = True

    def answer(self, method: str | None) -> tuple[int, dict, list]:
        """(status, document, headers) of the health check."""
        if method not in ("GET", "HEAD"):
            return 405, {"error": "only GET is allowed"}, [("Allow", "GET, HEAD")]
        cause = None
        if self.store is not None:
            try:
                self.store.ping(HEALTH_TIMEOUT)
            except StoreError as err:
                cause = str(err)
        if (cause is None) != self.healthy:
            self.healthy = cause is None
            if cause:
                log.error("health check: unavailable: %s", cause)
            else:
                log.warning("health check: the usage store answers again")
        if cause:
            return 503, {"status": "unavailable"}, []
        return 200, {"status": "ok"}, []


def make_app(
    ctx: AdapterContext,
    secret: str,
    *,
    max_body: int = 1_048_576,
    clock: Callable[[], float] = time.time,
) -> Callable:
    """The WSGI app of the adapter protocol (see the module docstring).

    Args:
        ctx: what dispatch needs.
        secret: the shared secret the forwarder signs with.
        max_body: largest accepted body in bytes.
        clock: unix time (tests pass their own to check expiry).
    """
    verifier = Verifier(secret, clock=clock, ledger=ctx.store)
    health = _Health(ctx.store)

    def handle(environ: dict, path: str) -> tuple[int, dict, list]:
        try:
            addon, function = _function_of(path)
            if environ.get("REQUEST_METHOD") != "POST":
                raise _Reject(405, "only POST is allowed", [("Allow", "POST")])
            body = _read_body(environ, max_body)
            try:
                verifier.verify(environ.get("HTTP_" + HEADER.upper().replace("-", "_")), body)
            except SignatureError as err:
                raise _Reject(401, str(err)) from None
            except StoreError as err:  # cannot tell a replay from a first use: accept nothing
                log.error("signature check: %s", err)
                raise _Reject(503, "usage store unavailable; nothing done") from None
            if addon:
                if function not in ADDON_FUNCTIONS:
                    raise _Reject(404, f"unknown addon function {function}")
                result = dispatch_addon(function, _params_of(body), ctx)
            else:
                if function not in FUNCTIONS:
                    raise _Reject(404, f"unknown module function {function}")
                result = dispatch(function, _params_of(body), ctx)
            return 200, {"result": result}, []
        except _Reject as rej:
            return rej.status, {"error": rej.message}, rej.headers
        except (
            Exception
        ) as err:  # dispatch never raises; this is the net under JSON encoding and the like
            log.error("%s failed: %s", path[:80], type(err).__name__)
            return 500, {"error": "internal error; see the puq-bridge log"}, []

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            status, document, headers = health.answer(environ.get("REQUEST_METHOD"))
        else:
            status, document, headers = handle(environ, path)
        payload = json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")
        start_response(
            f"{status} {_REASONS[status]}",
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(payload))),
                *headers,
            ],
        )
        access_log.info(
            "%s %s %d %.1f ms",
            _printable(str(environ.get("REQUEST_METHOD"))[:10]),
            _printable(path[:80]),
            status,
            (time.perf_counter() - started) * 1000,
        )
        return [payload]

    return app


def _printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``…): a ``%0a`` in a path
    must not write a forged line into the access log."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _function_of(path: str) -> tuple[bool, str]:
    """(is it an addon call, the function name) of a request path."""
    match = _PATH_RE.match(path)
    if not match:
        raise _Reject(404, "not found: POST /whmcs/<Function> or /whmcs/addon/<Function>")
    return bool(match.group(1)), match.group(2)


def _read_body(environ: dict, max_body: int) -> bytes:
    raw = (environ.get("CONTENT_LENGTH") or "0").strip()
    if not raw.isdigit():
        raise _Reject(400, "invalid Content-Length")
    length = int(raw)
    if length > max_body:
        raise _Reject(413, f"body larger than {max_body} bytes")
    body = environ["wsgi.input"].read(length) if length else b""
    return body[:max_body]


def _params_of(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Reject(400, "body is not JSON") from None
    except RecursionError:  # nested deeper than the parser goes: no WHMCS params look like that
        raise _Reject(400, "body is nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get("params", {}), dict):
        raise _Reject(400, 'body must be {"params": {...}}')
    return document.get("params", {})


class AdapterServer:
    """The adapter's WSGI app on waitress, in the foreground (:meth:`serve_forever`) or a background
    thread.

    Args:
        app: the WSGI app (from :func:`make_app`).
        host, port: where to listen (port 0 picks a free one).
        threads: waitress worker threads.
        max_body: waitress's own cap on request bodies.
        connection_limit: open connections accepted at once (waitress's default is 100).
    """

    def __init__(
        self,
        app: Callable,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 8,
        max_body: int = 1_048_576,
        connection_limit: int = 1000,
    ):
        from waitress.server import create_server

        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="puq-bridge",
            # waitress refuses max_request_body_size bytes or more; ours is "over max_body"
            max_request_body_size=max_body + 1,
            clear_untrusted_proxy_headers=True,
            # A slow or idle client holds a connection: well above waitress's 100, so that a few
            # hundred of them (a scan, a broken proxy) do not lock WHMCS out. In front of the
            # bridge a reverse proxy with header and body timeouts is the real guard (README).
            connection_limit=connection_limit,
            channel_timeout=60,
        )
        self.host, self.port = host, self._server.effective_port
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening socket."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self, drain_seconds: float = 30.0) -> None:
        """Serve in this thread until SIGTERM or Ctrl-C; then stop accepting, let the calls in
        flight finish (at most ``drain_seconds``: a systemd restart drops no WHMCS call), and
        close."""
        from waitress import wasyncore

        server = self._server
        previous = signal.signal(signal.SIGTERM, lambda *args: self._stopping.set())
        try:
            while not self._stopping.is_set():
                wasyncore.loop(
                    timeout=0.2, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1
                )
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        server.accepting = False
        server.del_channel()
        server.socket.close()
        deadline = time.monotonic() + drain_seconds
        while self._busy() and time.monotonic() < deadline:
            wasyncore.loop(
                timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1
            )
        self._close_all()
        server.task_dispatcher.shutdown(timeout=5)

    def _busy(self) -> bool:
        """A request is queued, being handled, or its reply not yet sent."""
        server, dispatcher = self._server, self._server.task_dispatcher
        if dispatcher.active_count or dispatcher.queue:
            return True
        return any(
            getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0)
            for channel in list(server._map.values())
            if channel is not server and channel is not server.trigger
        )

    def start(self) -> "AdapterServer":
        """Serve in a daemon thread; returns self."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=f"adapter:{self.port}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        # Our own loop rather than server.run(): it checks the stop flag every 50 ms, so stop()
        # never has to touch the server's sockets from another thread; everything is closed here, in
        # the loop's thread.
        from waitress import wasyncore

        server = self._server
        try:
            while not self._stopping.is_set():
                wasyncore.loop(
                    timeout=0.05, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1
                )
        finally:
            self._close_all()

    def stop(self) -> None:
        """Stop the loop (it closes every socket), let the workers finish, and wait for the
        thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        else:
            self._close_all()
        self._server.task_dispatcher.shutdown(timeout=5)

    def _close_all(self) -> None:
        server = self._server
        for channel in list(server._map.values()):
            if channel is not server and channel is not server.trigger:
                channel.close()
        server.close()

    def __enter__(self) -> "AdapterServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
