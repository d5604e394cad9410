"""Display names of WHMCS payment gateways for the client area, looked up once an hour per process.

WHMCS's module params carry a service's gateway by its module name (``banktransfer``); clients know
it by its display name (``Bank Transfer``). :class:`PaymentMethodNames` asks WHMCS
(GetPaymentMethods) and keeps the answer for ``ttl`` seconds. The lookup is a nicety, never a reason
to fail a page, nor to hold one up: a page gets the names known at that moment at once (module names
until the first lookup has succeeded), and when they are missing or expired one lookup starts in the
background, for the pages after it. requests' timeout bounds each socket read, not a whole reply (a
WHMCS trickling its answer can take far longer), so no page ever waits for the lookup. WHMCS is
still asked with a short timeout (``timeout``, 2 s) and no retries, whatever the WHMCS client's own
settings, so a background lookup does not linger either; a failed one keeps the earlier names and is
tried again after ``retry_after`` seconds.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from typing import Any, Callable

from puq_bridge.errors import PuqBridgeError

log = logging.getLogger(__name__)

#: seconds the names are kept before WHMCS is asked again.
DEFAULT_TTL = 3600.0
#: seconds before WHMCS is asked again after a failed lookup (so a WHMCS outage does not cost a
#: lookup per page).
DEFAULT_RETRY_AFTER = 300.0
#: seconds one socket read of the lookup may wait (it is asked once, never retried).
DEFAULT_LOOKUP_TIMEOUT = 2.0


def quick_client(client: Any, timeout: float) -> Any:
    """A shallow copy of a :class:`~puq_bridge.whmcs.client.WhmcsClient` that gives up after
    ``timeout`` seconds (or the client's own, if shorter) and never retries; it shares the client's
    session. ``client`` itself is unchanged."""
    quick = copy.copy(client)
    own = getattr(client, "timeout", None)
    quick.timeout = min(own, timeout) if isinstance(own, (int, float)) else timeout
    quick.retries = 0
    return quick


class PaymentMethodNames:
    """Gateway module name → display name, from WHMCS's GetPaymentMethods, cached and refreshed in
    the background; thread-safe, and no call waits for WHMCS (except :meth:`refresh_now` and
    :meth:`wait`, which are meant to).

    Args:
        whmcs: returns the :class:`~puq_bridge.whmcs.client.WhmcsClient` to ask, or ``None`` when
            there is none.
        ttl: seconds a successful answer is kept.
        retry_after: seconds to wait before asking again after a failure (earlier names stay in use
            meanwhile).
        clock: monotonic seconds (tests pass their own).
        timeout: seconds one socket read of a lookup may wait; a lookup is never retried.
    """

    def __init__(
        self,
        whmcs: Callable[[], Any],
        *,
        ttl: float = DEFAULT_TTL,
        retry_after: float = DEFAULT_RETRY_AFTER,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = DEFAULT_LOOKUP_TIMEOUT,
    ):
        self._whmcs, self.ttl, self.retry_after, self._clock = whmcs, ttl, retry_after, clock
        self.timeout = timeout
        self._names: dict[
            str, str
        ] = {}  # replaced whole, never changed in place: readers need no lock
        self._expires: float | None = None
        self._lookup = threading.Lock()  # held while a lookup is in flight: at most one at a time
        self._thread: threading.Thread | None = None

    def name(self, module: str) -> str:
        """The display name of gateway ``module``; the module name itself when it is not known
        (yet)."""
        if not module:
            return module
        return self.names().get(module, module)

    def names(self) -> dict[str, str]:
        """Every known gateway's display name, at once; starts a background lookup when they are
        missing or expired (the caller gets the names as they were: the lookup serves later
        calls)."""
        names = self._names
        if not self._fresh():
            self._start_lookup()
        return names

    def refresh_now(self) -> dict[str, str]:
        """Ask WHMCS now, in this thread (after a lookup in flight has finished), and return the
        names: for the demo and tests, which want display names on their first page. Failures are
        logged and keep the earlier names."""
        with self._lookup:
            self._refresh()
        return self._names

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (``None``: no limit) for the background lookup in flight,
        if any; whether none is in flight any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _fresh(self) -> bool:
        expires = self._expires
        return expires is not None and self._clock() < expires

    def _start_lookup(self) -> None:
        if not self._lookup.acquire(blocking=False):
            return  # one is in flight already
        try:
            if self._fresh():  # another page's lookup finished meanwhile
                self._lookup.release()
                return
            self._thread = threading.Thread(
                target=self._background, name="payment-method-names", daemon=True
            )
            self._thread.start()
        except BaseException:
            self._lookup.release()
            raise

    def _background(self) -> None:
        try:
            self._refresh()
        except (
            Exception
        ) as err:  # a bug must not end the lookups for good: retry later, like a failure
            self._expires = self._clock() + self.retry_after
            log.error("payment method names: lookup failed unexpectedly (%s)", type(err).__name__)
            log.debug("payment method names: traceback", exc_info=True)
        finally:
            self._lookup.release()

    def _refresh(self) -> None:
        try:
            client = self._whmcs()
            if client is None:
                self._expires = self._clock() + self.ttl
                return
            names = quick_client(client, self.timeout).payment_methods()
        except PuqBridgeError as err:
            self._expires = self._clock() + self.retry_after
            log.warning(
                "payment method names unavailable (%s); "
                "showing gateway module names, retry in %.0f s",
                err,
                self.retry_after,
            )
            return
        self._names, self._expires = names, self._clock() + self.ttl
        log.debug("payment method names: %d gateways", len(names))
