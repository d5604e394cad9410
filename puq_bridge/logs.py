"""Log handling for the CLI: a stderr handler and a filter that masks secret values wherever they
appear."""

from __future__ import annotations

import functools
import logging
import re
from typing import Iterable

#: The one mask every module writes over a secret (logs, error text, JSON output, HTML).
MASK = "********"
#: Secret values shorter than this are not masked by value, anywhere. A value of one to three
#: characters turns up by chance in ordinary text (ids, ports, "abc" in a host name), so masking it
#: would garble messages without protecting anything: a secret that short can be guessed anyway.
#: Structural masking (a ``password`` field or attribute, an ``authToken``) still hides a short
#: value by its position.
MIN_SECRET_LENGTH = 4


#: Secrets known by their place rather than their value: a Zimbra domain's preauth key wherever
#: its attribute name stands just before it (``<a n="zimbraPreAuthKey">…``, a dict's repr,
#: ``key=value``), and the signature of a preauth sign-on URL (``…&preauth=…``): valid for
#: minutes, but a login all the same.
_PLACED_SECRETS = (
    re.compile(r"(zimbraPreAuthKey[\"'>:=\s]{1,6})([0-9A-Fa-f]{8,})"),
    re.compile(r"([?&;]preauth=)([0-9A-Fa-f]{8,})"),
)


def mask_placed_secrets(text: str) -> str:
    """``text`` with preauth keys and signatures masked by their place (``_PLACED_SECRETS``)."""
    if "PreAuth" not in text and "preauth" not in text:
        return text
    for pattern in _PLACED_SECRETS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret value in ``secrets`` replaced by ``********`` (longest first), in
    its raw form and in every escaped form it takes on its way: XML/HTML (``&amp;``, ``&quot;``,
    ``&#39;``, ``&#x27;``, ``&#10;``), URL encoding (``%26``, ``+``, either case), JSON (``\\"``,
    ``\\u0142``, PHP's ``\\/``), and any mix of them. A server that echoes a request, or a page
    quoting one, writes the secret escaped: masking only the raw value would let it through to
    stdout, ``--json``, the logs, the store and WHMCS. The secrets known by their place
    (:func:`mask_placed_secrets`: preauth keys and signatures) are masked too.

    Values shorter than :data:`MIN_SECRET_LENGTH` (four) characters are left alone: see its comment
    for why.
    """
    for secret in sorted(
        {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        if secret.isascii() and secret.isalnum():
            if secret in text:  # the common case: no character has an escaped form
                text = text.replace(secret, MASK)
        else:
            text = _secret_pattern(secret).sub(MASK, text)
    return mask_placed_secrets(text)


_NAMED_ENTITIES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


@functools.lru_cache(maxsize=256)
def _secret_pattern(secret: str) -> re.Pattern:
    """A regular expression matching ``secret`` with each character raw or in any of its escaped
    forms."""
    return re.compile("".join(_char_forms(char) for char in secret))


def _char_forms(char: str) -> str:
    if char.isascii() and char.isalnum():
        return re.escape(char)
    code = ord(char)
    forms = {re.escape(char), f"&#0*{code};", f"(?i:&#x0*{code:x};)"}
    if char in _NAMED_ENTITIES:
        forms.add(f"&{_NAMED_ENTITIES[char]};")
    forms.add("(?i:" + "".join(f"%{byte:02x}" for byte in char.encode("utf-8")) + ")")
    if char == " ":
        forms.add(r"\+")
    if char in _JSON_ESCAPES:
        forms.add(re.escape(_JSON_ESCAPES[char]))
    units = char.encode("utf-16-be")
    forms.add(
        "(?i:"
        + "".join(f"\\\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
        + ")"
    )
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


class SecretFilter(logging.Filter):
    """Replaces every known secret value in a record's final message with ``********``.

    The library never logs secrets on purpose; this is the net under it (zeep's DEBUG envelopes, a
    server echoing a request back in an error page).
    """

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str | None]) -> None:
        """Register more secret values (short values are ignored: masking "a" would garble every
        line)."""
        self.secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)

    def mask(self, text: str) -> str:
        """``text`` with every registered secret masked."""
        return mask_secrets(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        # runs without registered values too: a preauth key is masked by its place
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class MaskingFormatter(logging.Formatter):
    """A formatter that masks secrets in the whole formatted record, tracebacks included.

    The filter masks the message; a traceback (``-v``, or ``log.exception``) is formatted later,
    from ``exc_info``, and may quote a secret in an exception's text or a local value: this catches
    it.
    """

    def __init__(self, fmt: str, secret_filter: SecretFilter):
        super().__init__(fmt)
        self.secret_filter = secret_filter

    def format(self, record: logging.LogRecord) -> str:
        return self.secret_filter.mask(super().format(record))


def setup_logging(verbosity: int, secret_filter: SecretFilter) -> logging.Handler:
    """Log to stderr: warnings by default, INFO with ``-v``, DEBUG with ``-vv``, errors only with
    ``-q``."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler()
    handler.setFormatter(MaskingFormatter("%(levelname)s %(name)s: %(message)s", secret_filter))
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    if verbosity < 3:
        # zeep and urllib3 log whole SOAP envelopes (AuthRequest carries the password) at DEBUG:
        # only with -vvv.
        for noisy in ("zeep", "urllib3"):
            logging.getLogger(noisy).setLevel(max(level, logging.INFO))
    return handler
