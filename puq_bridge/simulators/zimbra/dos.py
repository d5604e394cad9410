"""Zimbra's DoS filter, as the fake server applies it in front of its SOAP endpoint.

A real mailbox server runs Jetty's DoSFilter (Zimbra's subclass) on ``/service/*``: it tracks the
requests of each client address, and once a client has sent more than
``zimbraHttpDosFilterMaxRequestsPerSec`` (default 30) within one second, further requests are
refused before any SOAP handling — with ``zimbraHttpDosFilterDelayMillis`` at its default -1 at
once, with HTTP 503 (older Jetty) or 429 (Jetty 9.4's ``tooManyCode``) and Jetty's small HTML error
page, no SOAP fault, no ``Retry-After``. Refused requests count towards the rate too, so a client
that keeps hammering stays refused. Addresses in ``zimbraHttpThrottleSafeIPs`` are never throttled.
A proxy in front may add a ``Retry-After`` header: ``retry_after`` models that.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterable

_REASONS = {503: "Service Unavailable", 429: "Too Many Requests"}


class DosFilter:
    """Requests per second per client address; past ``max_per_second`` in the last second, refused.

    Args:
        max_per_second: the limit (Zimbra's default 30).
        status: 503 or 429.
        retry_after: seconds for a ``Retry-After`` header (``None``: none, as Jetty itself sends).
        safe_ips: addresses never throttled (``zimbraHttpThrottleSafeIPs``).
        clock: monotonic seconds.
    """

    def __init__(
        self,
        max_per_second: int = 30,
        *,
        status: int = 503,
        retry_after: int | None = None,
        safe_ips: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_per_second < 1:
            raise ValueError(f"max_per_second must be at least 1, not {max_per_second}")
        if status not in _REASONS:
            raise ValueError(f"status must be 503 or 429, not {status}")
        self.max_per_second, self.status, self.retry_after = max_per_second, status, retry_after
        self.safe_ips = frozenset(safe_ips)
        self._clock = clock
        self._seen: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def admits(self, address: str | None) -> bool:
        """Record one request from ``address``; whether it may go on (False: refuse it)."""
        if address in self.safe_ips:
            return True
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault(address or "", collections.deque())
            while seen and seen[0] <= now - 1.0:
                seen.popleft()
            seen.append(now)
            return len(seen) <= self.max_per_second

    def refusal(self) -> tuple[int, dict[str, str], bytes]:
        """The reply to a refused request: status, headers, Jetty's HTML error page."""
        reason = _REASONS[self.status]
        headers = {
            "Content-Type": "text/html;charset=iso-8859-1",
            "Cache-Control": "must-revalidate,no-cache,no-store",
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        page = (
            '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
            f"<title>Error {self.status} {reason}</title>\n</head>\n<body><h2>HTTP ERROR "
            f"{self.status}</h2>\n<p>Problem accessing /service/admin/soap. Reason:\n<pre>    "
            f"{reason}</pre></p>\n</body>\n</html>\n"
        )
        return self.status, headers, page.encode("iso-8859-1")
