"""Log handling for the CLI: a stderr handler and a filter that masks secret values wherever they appear."""

from __future__ import annotations

import logging
from typing import Iterable

MASK = "********"


class SecretFilter(logging.Filter):
    """Replaces every known secret value in a record's final message with ``********``.

    The library never logs secrets on purpose; this is the net under it (zeep's DEBUG envelopes, a server echoing a
    request back in an error page).
    """

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        """Register more secret values (short values are ignored: masking "a" would garble every line)."""
        self.secrets.update(s for s in secrets if s and len(s) >= 4)

    def mask(self, text: str) -> str:
        """``text`` with every registered secret masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = self.mask(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


def setup_logging(verbosity: int, secret_filter: SecretFilter) -> logging.Handler:
    """Log to stderr: warnings by default, INFO with ``-v``, DEBUG with ``-vv``, errors only with ``-q``."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    if verbosity < 3:
        # zeep and urllib3 log whole SOAP envelopes (AuthRequest carries the password) at DEBUG: only with -vvv.
        for noisy in ("zeep", "urllib3"):
            logging.getLogger(noisy).setLevel(max(level, logging.INFO))
    return handler
