"""Keeping under a Zimbra server's DoS filter: a request rate per server, and what to do when the
server says "too many" anyway.

Zimbra's mailbox server runs Jetty's DoS filter on its SOAP endpoints: a client (by IP) that sends
more than ``zimbraHttpDosFilterMaxRequestsPerSec`` requests in a second (default 30) is refused
with HTTP 503 (429 on newer Jetty) until its rate drops, unless its IP is in
``zimbraHttpThrottleSafeIPs``. A sync of thousands of domains in parallel does that. So every
:class:`~puq_bridge.zimbra.client.ZimbraAdmin` spaces its requests with a :class:`Pacer` (the
``[[zimbra]] max_requests_per_second`` of its entry, default :data:`DEFAULT_RATE`, safely under
30), and a refused request is handled by :class:`RetryPolicy`: a read (:func:`is_read`) is sent
again after the reply's ``Retry-After`` or a doubling back-off, within a time budget; a write never
is (it may be in some proxy's log as done; the caller decides).
"""

from __future__ import annotations

import collections
import datetime as dt
import email.utils
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

from puq_bridge.config import DEFAULT_ZIMBRA_RATE

#: The default per-server request rate: two thirds of Zimbra's default DoS-filter limit (30/s).
DEFAULT_RATE = DEFAULT_ZIMBRA_RATE

#: Operation name prefixes of the admin requests that change nothing (sent again after a 503/429).
READ_PREFIXES = ("Get", "Search", "Count")


def is_read(op: str) -> bool:
    """Whether an admin operation only reads (``Auth`` too: it creates nothing that a second one
    would duplicate), so a refused one may be sent again."""
    return op == "Auth" or op.startswith(READ_PREFIXES)


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date (``None``: absent or not
    readable; a date in the past is 0)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, when.timestamp() - now())


class Pacer:
    """Keeps the requests to one server at most ``rate`` a second, across every thread using it,
    counted as Jetty's DoS filter counts them: a request starts only when fewer than ``rate``
    started within the last second (a fractional rate: ``ceil(rate)`` within ``ceil(rate) / rate``
    seconds); otherwise it waits for its slot. A server's few requests in a row (Auth, the
    system-account query, a whole-server read) thus go at once, and a per-domain read of thousands
    settles at ``rate``. ``rate`` ``None`` or 0: no limit.

    Args:
        rate: requests per second.
        clock, sleep: monotonic seconds and how to wait (tests pass their own).
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate is not None and rate < 0:
            raise ValueError(f"a request rate cannot be negative: {rate}")
        self.rate = rate or None
        self._count = math.ceil(rate) if rate else 0
        self._window = self._count / rate if rate else 0.0
        self._starts: collections.deque[float] = collections.deque(maxlen=self._count or None)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Wait for this request's slot; returns the seconds waited."""
        if not self._count:
            return 0.0
        with self._lock:
            now = self._clock()
            starts = self._starts
            at = now if len(starts) < self._count else max(now, starts[0] + self._window)
            starts.append(at)
        if at > now:
            self._sleep(at - now)
        return at - now


@dataclass(frozen=True)
class RetryPolicy:
    """When a refused (503/429) read is sent again.

    ``attempts`` requests at most; between two, the reply's ``Retry-After`` when it gave one, else
    ``backoff`` seconds doubling each time (at most ``max_wait``); and never beyond ``budget``
    seconds of waiting in all for one call (the client's deadline per exchange): a server that asks
    for longer than that fails the call now, naming what it asked, instead of holding the run.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_wait: float = 30.0
    budget: float = 90.0

    def delay(self, attempt: int, retry_after: float | None, waited: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1), or ``None``
        when the call should fail now."""
        if attempt >= self.attempts:
            return None
        wait = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
        if retry_after is None:
            wait = min(wait, self.max_wait)
        if wait > self.max_wait or waited + wait > self.budget:
            return None
        return wait
