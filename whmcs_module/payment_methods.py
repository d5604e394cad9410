"""Display names of WHMCS payment gateways for the client area, looked up once an hour per process.

WHMCS's module params carry a service's gateway by its module name (``banktransfer``); clients know it by its
display name (``Bank Transfer``). :class:`PaymentMethodNames` asks WHMCS (GetPaymentMethods) and keeps the answer
for ``ttl`` seconds. The lookup is a nicety, never a reason to fail a page: without a WHMCS client, or while WHMCS
cannot be reached, a gateway is shown by its module name (or by a name fetched earlier). Nor may it hold a page
up: WHMCS is asked with a short timeout (``timeout``, 2 s) and no retries, whatever the WHMCS client's own settings.
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
#: seconds before WHMCS is asked again after a failed lookup (so a WHMCS outage does not slow every page).
DEFAULT_RETRY_AFTER = 300.0
#: seconds the lookup may take before the page is shown with module names (it is asked once, never retried).
DEFAULT_LOOKUP_TIMEOUT = 2.0


def quick_client(client: Any, timeout: float) -> Any:
    """A shallow copy of a :class:`~puq_bridge.whmcs.WhmcsClient` that gives up after ``timeout`` seconds (or the
    client's own, if shorter) and never retries; it shares the client's session. ``client`` itself is unchanged."""
    quick = copy.copy(client)
    own = getattr(client, "timeout", None)
    quick.timeout = min(own, timeout) if isinstance(own, (int, float)) else timeout
    quick.retries = 0
    return quick


class PaymentMethodNames:
    """Gateway module name → display name, from WHMCS's GetPaymentMethods, cached; thread-safe.

    Args:
        whmcs: returns the :class:`~puq_bridge.whmcs.WhmcsClient` to ask, or ``None`` when there is none.
        ttl: seconds a successful answer is kept.
        retry_after: seconds to wait before asking again after a failure (earlier names stay in use meanwhile).
        clock: monotonic seconds (tests pass their own).
        timeout: seconds one lookup may take (connect and read); it is never retried.
    """

    def __init__(self, whmcs: Callable[[], Any], *, ttl: float = DEFAULT_TTL,
                 retry_after: float = DEFAULT_RETRY_AFTER, clock: Callable[[], float] = time.monotonic,
                 timeout: float = DEFAULT_LOOKUP_TIMEOUT):
        self._whmcs, self.ttl, self.retry_after, self._clock = whmcs, ttl, retry_after, clock
        self.timeout = timeout
        self._names: dict[str, str] = {}
        self._expires: float | None = None
        self._lock = threading.Lock()

    def name(self, module: str) -> str:
        """The display name of gateway ``module``; the module name itself when WHMCS does not know it (or is down)."""
        if not module:
            return module
        return self.names().get(module, module)

    def names(self) -> dict[str, str]:
        """Every known gateway's display name, asking WHMCS first when the cached answer has expired."""
        if self._fresh():
            return self._names
        with self._lock:             # one lookup at a time; the others wait for its answer
            if not self._fresh():
                self._refresh()
            return self._names

    def _fresh(self) -> bool:
        return self._expires is not None and self._clock() < self._expires

    def _refresh(self) -> None:
        try:
            client = self._whmcs()
            if client is None:
                self._expires = self._clock() + self.ttl
                return
            names = quick_client(client, self.timeout).payment_methods()
        except PuqBridgeError as err:
            self._expires = self._clock() + self.retry_after
            log.warning("payment method names unavailable (%s); showing gateway module names, retry in %.0f s",
                        err, self.retry_after)
            return
        self._names, self._expires = names, self._clock() + self.ttl
        log.debug("payment method names: %d gateways", len(names))
