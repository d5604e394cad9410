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
"""

from __future__ import annotations

import ipaddress
import os
import threading
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
from requests.cookies import RequestsCookieJar, merge_cookies
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

__all__ = ["Poster", "pooled_session"]


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
    ) -> requests.Response:
        """POST ``body`` (bytes) with extra ``headers``; raises what ``Session.post`` raises."""
        session = self.session
        if session.auth is not None:
            return session.post(
                self.url,
                data=body,
                headers={**self.headers, **(headers or {})},
                timeout=timeout,
                verify=verify,
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
        return session.send(
            request,
            timeout=timeout,
            allow_redirects=True,
            verify=self._verify(verify),
            **self._settings,
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


def pooled_session(size: int) -> requests.Session:
    """A new ``requests.Session`` that keeps up to ``size`` connections per host open for reuse (at
    least requests' default of 10), for a client ``size`` threads use at once.

    With requests' 10, the 11th and later requests at once open a connection and throw it away
    afterwards ("Connection pool is full, discarding connection"): a TCP handshake per request. The
    pool is sized here, before the session is used, and never later: mounting an adapter on a
    session other threads use changes ``session.adapters`` while they iterate it, and closing the
    old adapter closes pools under requests in flight.
    """
    session = requests.Session()
    if size > DEFAULT_POOLSIZE:
        for prefix in ("https://", "http://"):
            session.mount(prefix, HTTPAdapter(pool_maxsize=size))
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
