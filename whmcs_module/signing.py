"""HMAC signatures of adapter requests: ``X-Puq-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``.

The forwarder signs every request with the shared secret; the HTTP service accepts a request only
when the signature matches, its timestamp is within :data:`TOLERANCE` seconds of now, and the same
signature was not seen before within that window (a captured request cannot be replayed). Where
signatures are remembered is a ledger's business: the usage store's ``seen_signatures`` table for
``serve`` (every instance sharing the store refuses a replay, across restarts), or
:class:`MemoryLedger` in this process.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from typing import Protocol

HEADER = "X-Puq-Signature"
TOLERANCE = 300

_HEADER_RE = re.compile(r"^t=(\d{1,12}),v1=([0-9a-f]{64})$")


class SignatureError(Exception):
    """The request's signature is missing, malformed, wrong, stale or replayed; ``str()`` says
    which."""


def digest(secret: str, body: bytes, t: int) -> str:
    """Hex HMAC-SHA256 of ``"<t>.<body>"`` under ``secret``."""
    message = str(int(t)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, t: int | None = None) -> str:
    """The ``X-Puq-Signature`` header value for ``body`` sent at unix time ``t`` (default: now)."""
    t = int(time.time()) if t is None else int(t)
    return f"t={t},v1={digest(secret, body, t)}"


def parse(header: str | None) -> tuple[int, str]:
    """Split a header value into ``(t, v1)``; raises :class:`SignatureError` when absent or
    malformed."""
    if not header:
        raise SignatureError("missing signature")
    match = _HEADER_RE.match(header.strip().lower())
    if not match:
        raise SignatureError("malformed signature")
    return int(match.group(1)), match.group(2)


class Ledger(Protocol):
    """Remembers accepted signatures (:class:`MemoryLedger`, or
    :class:`~puq_bridge.usage.store.UsageStore`)."""

    def claim_signature(self, signature: str, keep_until: float, now: float) -> bool:
        """Remember ``signature`` until ``keep_until``; False when it was already remembered."""


class MemoryLedger:
    """Accepted signatures in this process only (lost on restart, unknown to other instances).
    Thread-safe."""

    def __init__(self):
        self._seen: dict[str, float] = {}
        self._pruned_at = 0.0
        self._lock = threading.Lock()

    def claim_signature(self, signature: str, keep_until: float, now: float) -> bool:
        """Remember ``signature`` until ``keep_until``; False when it was already remembered."""
        with self._lock:
            self._prune(now)
            if signature in self._seen:
                return False
            self._seen[signature] = keep_until
            return True

    def _prune(self, now: float) -> None:
        # At most once a second: a full scan per request would cost O(requests in the window).
        if now - self._pruned_at < 1:
            return
        self._pruned_at = now
        for key in [k for k, until in self._seen.items() if until < now]:
            del self._seen[key]


class Verifier:
    """Checks signatures against one secret and remembers the accepted ones in a ledger.

    Thread-safe: the HTTP service calls :meth:`verify` from its worker threads.

    Args:
        secret: the shared secret.
        tolerance: seconds a timestamp may be away from now.
        clock: returns unix time (tests pass their own).
        ledger: where accepted signatures are remembered (default: a :class:`MemoryLedger`). A
            ledger's errors (a store that does not answer) go to the caller: nothing is accepted
            unchecked.
    """

    def __init__(
        self,
        secret: str,
        *,
        tolerance: int = TOLERANCE,
        clock=time.time,
        ledger: Ledger | None = None,
    ):
        if not secret:
            raise ValueError("a signature secret is required")
        self._secret = secret
        self.tolerance = tolerance
        self._clock = clock
        self._ledger = ledger if ledger is not None else MemoryLedger()

    def verify(self, header: str | None, body: bytes) -> None:
        """Accept the request or raise :class:`SignatureError` (missing, malformed, forged, expired,
        replayed)."""
        t, given = parse(header)
        now = self._clock()
        expected = digest(self._secret, body, t)
        if not hmac.compare_digest(expected, given):
            raise SignatureError("signature does not match")
        if abs(now - t) > self.tolerance:
            raise SignatureError("signature expired (check that both clocks are right)")
        # Kept one window longer than it can be accepted: an instance whose clock is up to a window
        # behind the pruning one still finds it.
        if not self._ledger.claim_signature(given, t + 2 * self.tolerance, now):
            raise SignatureError("signature already used (replayed request)")
