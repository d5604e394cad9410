"""``Poster``: POST to one URL through a ``requests.Session`` without redoing per request what
cannot change.

``Session.post`` costs about 0.65 ms of CPU per request, and most of it is repeated work: it scans
the whole environment for proxy variables twice (``get_environ_proxies``), stats ``~/.netrc``,
re-reads ``REQUESTS_CA_BUNDLE``, and merges the session's headers, hooks and cookies into a new
request. For a client that posts to one endpoint thousands of times per run (the usage sync),
``Poster`` does that once, on the first post: it prepares a template request with the session's own
``prepare_request`` (so session headers, netrc credentials and hooks are honoured) and resolves
proxies and the CA bundle from the environment exactly as ``Session.request`` would
(``HTTP(S)_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``). Each post copies the
template, sets the body and the per-request headers, and goes through ``Session.send``: the same
adapter, connection pool, redirects, response hooks and ``requests`` exceptions as before, for about
half the CPU.

What is fixed at the first post: the environment's proxy variables and the session's headers, params
and hooks (the CA bundle variables are still read per request, as two dictionary look-ups). The
session's cookies are added to each request as ``Session.request`` adds them. A session with an
``auth`` object (digest auth keeps per-request state) is posted through ``Session.request`` as
before, every time.

Two rules hold for every post, because the body carries credentials (WHMCS's API secret, Zimbra's
AuthRequest password) and a stuck reply holds the sync's lock and the adapter's worker threads:

* **No redirect is followed.** A 3xx reply raises :class:`RedirectRefused` naming where it pointed;
  nothing is sent
  there.
* **A deadline for the whole exchange.** ``timeout`` bounds each socket read, so a server that
  trickles its reply a byte at a time never trips it. Each post also has a ``deadline`` (default
  :func:`deadline_for` the timeout): when it passes, the request's connection is shut down and
  :class:`DeadlineExceeded` is raised. This needs the session's adapter to be a
  :class:`DeadlineAdapter` (:func:`pooled_session` mounts one; the clients' default sessions come
  from it): its connection pools tell the thread's deadline which connection it uses.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3.poolmanager
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

T = TypeVar("T")

__all__ = [
    "DeadlineAdapter",
    "DeadlineExceeded",
    "Poster",
    "RedirectRefused",
    "deadline_for",
    "pooled_session",
]


class DeadlineExceeded(requests.exceptions.Timeout):
    """The whole exchange (connect, send, wait, read) took longer than its deadline; its connection
    was shut down.

    Args:
        deadline: the deadline, in seconds.
        url: where the request went.
    """

    def __init__(self, deadline: float, url: str):
        self.deadline, self.url = deadline, url
        within = f"within the {deadline:g} s deadline for a request"
        super().__init__(f"no complete reply from {_origin(url)} {within}")


class RedirectRefused(requests.exceptions.RequestException):
    """The server answered a redirect. An API call never follows one: it would send the credentials
    in the body to wherever the redirect points.

    Args:
        status: the HTTP status (301, 302, 303, 307, 308).
        location: the ``Location`` header (shown without user info, query or fragment).
        url: where the request went.
    """

    def __init__(self, status: int, location: str, url: str):
        self.status, self.location, self.url = status, _shown(location, url), url
        super().__init__(
            f"HTTP {status} redirect to {self.location} refused: an API call never follows a "
            "redirect (it would resend the credentials); if that address is right, configure it "
            f"instead of {_origin(url)}"
        )


def deadline_for(timeout: Any) -> float:
    """The default deadline of a whole exchange for a per-read ``timeout`` (seconds, or ``(connect,
    read)``): the connect timeout plus twice the read timeout (90 s for the default 30 s): time to
    connect, for the server to think (one read) and to send the reply."""
    if isinstance(timeout, (tuple, list)):
        connect, read = timeout
    else:
        connect = read = timeout
    return float(connect or 0) + 2 * float(read or 0)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _shown(location: str, url: str) -> str:
    """A redirect target without user info, query or fragment (relative ones resolved against
    ``url``)."""
    from urllib.parse import urljoin

    parts = urlsplit(urljoin(url, location))
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + parts.path


class Poster:
    """POSTs bodies to ``url`` through ``session``; thread-safe.

    Args:
        session: the ``requests.Session`` (its adapters, pools and settings are used as they are).
        url: the one URL posted to.
        headers: headers of every request (e.g. ``Content-Type``), on top of the session's.
    """

    def __init__(
        self, session: requests.Session, url: str, headers: Mapping[str, str] | None = None
    ):
        self.session, self.url = session, url
        self.headers = dict(headers or {})
        self._template: requests.PreparedRequest | None = None
        self._settings: dict[str, Any] = {}
        self._lock = threading.Lock()

    def post(
        self,
        body: bytes,
        *,
        timeout: Any,
        verify: bool | str | None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> requests.Response:
        """POST ``body`` (bytes) with extra ``headers``; raises what ``Session.post`` raises, and
        :class:`RedirectRefused` for a 3xx reply, :class:`DeadlineExceeded` when the whole exchange
        takes longer than ``deadline`` seconds (default :func:`deadline_for` ``timeout``)."""
        deadline = deadline_for(timeout) if deadline is None else deadline
        with _watch(deadline) as watch:
            try:
                response = self._send(body, timeout, verify, headers)
            except Exception as err:
                if watch.expired:
                    raise DeadlineExceeded(deadline, self.url) from err
                raise
        if response.is_redirect:
            response.close()
            raise RedirectRefused(response.status_code, response.headers["Location"], self.url)
        return response

    def post_streaming(
        self,
        body: bytes,
        read: Callable[[requests.Response], T],
        *,
        timeout: Any,
        verify: bool | str | None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> T:
        """:meth:`post` with the reply's body left on the socket: ``read(response)`` consumes it
        (``response.iter_content``) and its result is returned. The deadline covers the whole
        exchange, ``read`` included: when it passes, the connection is shut down under ``read``
        and :class:`DeadlineExceeded` is raised. The response is closed afterwards (its connection
        goes back to the pool when ``read`` consumed the whole body)."""
        deadline = deadline_for(timeout) if deadline is None else deadline
        with _watch(deadline) as watch:
            try:
                response = self._send(body, timeout, verify, headers, stream=True)
                try:
                    if response.is_redirect:
                        raise RedirectRefused(
                            response.status_code, response.headers["Location"], self.url
                        )
                    return read(response)
                finally:
                    response.close()
            except RedirectRefused:
                raise
            except Exception as err:
                if watch.expired:
                    raise DeadlineExceeded(deadline, self.url) from err
                raise

    def _send(
        self,
        body: bytes,
        timeout: Any,
        verify: Any,
        headers: Mapping[str, str] | None,
        stream: bool = False,
    ) -> requests.Response:
        session = self.session
        if session.auth is not None:
            return session.post(
                self.url,
                data=body,
                headers={**self.headers, **(headers or {})},
                timeout=timeout,
                verify=verify,
                allow_redirects=False,
                stream=stream or None,
            )
        template = self._template or self._prepare()
        request = template.copy()
        if headers:
            request.headers.update(headers)
        request.body = body
        request.headers["Content-Length"] = str(len(body))
        if (
            session.cookies
        ):  # a server's cookie (a load balancer's, say) goes back, as Session.request sends it
            request.prepare_cookies(merge_cookies(RequestsCookieJar(), session.cookies))
        settings = {**self._settings, "stream": True} if stream else self._settings
        return session.send(
            request,
            timeout=timeout,
            allow_redirects=False,
            verify=self._verify(verify),
            **settings,
        )

    def _prepare(self) -> requests.PreparedRequest:
        """The template request and the environment's settings, as ``Session.request`` would derive
        them."""
        with self._lock:
            if self._template is None:
                session = self.session
                proxies = get_environ_proxies(self.url) if session.trust_env else {}
                self._settings = {
                    "proxies": merge_setting(proxies, session.proxies),
                    "stream": session.stream,
                    "cert": session.cert,
                }
                template = session.prepare_request(
                    requests.Request("POST", self.url, data=b"", headers=self.headers)
                )
                template.headers.pop("Cookie", None)  # cookies are taken per request
                template.prepare_cookies(RequestsCookieJar())
                self._template = template
            return self._template

    def _verify(self, verify: bool | str | None) -> bool | str | None:
        """``verify`` as ``Session.merge_environment_settings`` resolves it (the CA bundle variables
        for ``True``)."""
        if self.session.trust_env and (verify is True or verify is None):
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
            )
        return merge_setting(verify, self.session.verify)


def pooled_session(size: int = DEFAULT_POOLSIZE) -> requests.Session:
    """A new ``requests.Session`` whose :class:`DeadlineAdapter` keeps up to ``size`` connections
    per host open for reuse (at least requests' default of 10), for a client ``size`` threads use at
    once.

    With requests' 10, the 11th and later requests at once open a connection and throw it away
    afterwards ("Connection pool is full, discarding connection"): a TCP handshake per request. The
    pool is sized here, before the session is used, and never later: mounting an adapter on a
    session other threads use changes ``session.adapters`` while they iterate it, and closing the
    old adapter closes pools under requests in flight.
    """
    session = requests.Session()
    adapter = DeadlineAdapter(pool_maxsize=max(size, DEFAULT_POOLSIZE))
    for prefix in ("https://", "http://"):
        session.mount(prefix, adapter)
    return session


def transport_warnings(what: str, url: str, verify: bool | str = True) -> list[str]:
    """Why the connection to ``url`` does not protect what crosses it (empty when it does).

    ``http://`` to a host beyond this machine sends passwords and API secrets in clear; ``https://``
    with ``verify`` false accepts any certificate. (``http://`` has no TLS to switch off, so it
    never gets the second warning.)
    """
    parts = urlsplit(url)
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        return [
            f"{what} is reached over plain http ({url}): its password or secret crosses the "
            "network in clear; use https"
        ]
    if parts.scheme == "https" and verify is False:
        return [f"TLS certificate verification is OFF for {what} ({url})"]
    return []


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- the deadline of one exchange
# --------------------------------------------------------------------------------- A thread's
# current _Watch learns, from the pools of a DeadlineAdapter, each connection its request takes (and
# gives back); one watchdog thread shuts a watched connection's socket down when the watch's
# deadline passes, which wakes the blocked read at once. A connection given back to its pool is no
# longer watched: shutting it down then could break another thread's request.

_current = threading.local()


class _Watch:
    """The deadline of one request and the connections it holds."""

    def __init__(self, at: float):
        self.at = at
        self.expired = self.done = False
        self.conns: list[Any] = []
        self.lock = threading.Lock()

    def attach(self, conn: Any) -> None:
        with self.lock:
            if self.expired:
                _shut(conn)
            self.conns.append(conn)

    def detach(self, conn: Any) -> None:
        with self.lock:
            if conn in self.conns:
                self.conns.remove(conn)

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.expired = True
            for conn in self.conns:
                _shut(conn)


def _shut(conn: Any) -> None:
    """Shut down a connection's socket (not close: the thread reading it gets EOF and cleans up
    itself)."""
    sock = getattr(conn, "last_sock", None) or getattr(conn, "sock", None)
    sock = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(sock, socket.socket):
        try:
            # socket.socket's own shutdown: an SSLSocket's would also drop its SSL object under the
            # reader
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _Watchdog:
    """One daemon thread that expires watches when their deadline passes (started on first use)."""

    def __init__(self):
        self.heap: list[tuple[float, int, _Watch]] = []
        self.seq = itertools.count()
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="http-deadline", daemon=True)
                self.thread.start()
            earliest = self.heap[0][0] if self.heap else None
            heapq.heappush(self.heap, (watch.at, next(self.seq), watch))
            if earliest is None or watch.at < earliest:
                self.cond.notify()

    def _run(self) -> None:
        with self.cond:
            while True:
                while self.heap and (self.heap[0][2].done or self.heap[0][0] <= time.monotonic()):
                    _, _, watch = heapq.heappop(self.heap)
                    watch.expire()
                self.cond.wait(self.heap[0][0] - time.monotonic() if self.heap else None)


_watchdog_lock = threading.Lock()
_watchdog: _Watchdog | None = None


class _watch:
    """``with _watch(seconds) as watch``: the current thread's request is cut when ``seconds``
    pass."""

    def __init__(self, seconds: float):
        self.watch = _Watch(time.monotonic() + seconds)

    def __enter__(self) -> _Watch:
        global _watchdog
        if _watchdog is None:
            with _watchdog_lock:
                if _watchdog is None:
                    _watchdog = _Watchdog()
        self.outer = getattr(_current, "watch", None)
        _current.watch = self.watch
        _watchdog.add(self.watch)
        return self.watch

    def __exit__(self, *exc) -> None:
        with self.watch.lock:
            self.watch.done = True
            self.watch.conns.clear()
        _current.watch = self.outer


class _WatchedPool:
    """Pool mixin: a connection taken for a request is watched by the thread's deadline until it is
    given back."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        watch = getattr(_current, "watch", None)
        if watch is not None:
            watch.attach(conn)
        return conn

    def _put_conn(self, conn) -> None:
        watch = getattr(_current, "watch", None)
        if watch is not None and conn is not None:
            watch.detach(conn)
        super()._put_conn(conn)


class _KeepsSocket:
    """Connection mixin: remembers its last socket as ``last_sock``. http.client drops ``sock`` when
    a reply says the connection closes after it, while the reply is still being read from that
    socket."""

    @property
    def sock(self):
        return self.__dict__.get("_sock")

    @sock.setter
    def sock(self, value) -> None:
        self.__dict__["_sock"] = value
        if value is not None:
            self.__dict__["last_sock"] = value


class _WatchedHTTPConnection(_KeepsSocket, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_KeepsSocket, HTTPSConnection):
    pass


class _WatchedHTTPPool(_WatchedPool, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_WatchedPool, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections a :class:`Poster` deadline can cut (direct and through
    HTTP proxies; a SOCKS proxy's pools are its own, and only the per-read timeout bounds those)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager
