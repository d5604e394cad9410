"""Zimbra preauth: signing someone in without their password, with a domain's shared key.

A domain's ``zimbraPreAuthKey`` (32 random bytes, hex) lets whoever holds it build a URL that
logs anyone of that domain in:
``<origin>/service/preauth?account=…&by=name&timestamp=…&expires=0&preauth=…``, where
``preauth`` is the hex HMAC-SHA1, keyed with the key's text, of
``account|by|expires|timestamp`` (``account|1|by|expires|timestamp`` with ``admin=1``, for the
admin console on port 7071). Zimbra accepts a URL whose timestamp is within five minutes of
its clock, so a URL is good for minutes.

The key lives on Zimbra and, while a URL is made, in the bridge's memory: :class:`DomainKeys` reads
it with GetDomain and, where a domain has none, makes one (as ``zmprov gdpak`` does) under a lock,
so two first sign-ons at once cannot each set a different key. Nothing here logs a key or a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from puq_bridge.errors import PermissionDenied, SignOnError, ZimbraError
from puq_bridge.logs import mask_secrets

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.zimbra.client import ZimbraAdmin

log = logging.getLogger(__name__)

PREAUTH_PATH = "/service/preauth"
KEY_ATTR = "zimbraPreAuthKey"
#: how far Zimbra lets a preauth timestamp be from its clock, in seconds.
WINDOW_SECONDS = 300


def new_key() -> str:
    """A fresh domain key: 32 random bytes as 64 hex digits (what ``zmprov gdpak`` sets)."""
    return secrets.token_hex(32)


def signature(
    key: str, account: str, timestamp_ms: int, *, expires: int = 0, admin: bool = False
) -> str:
    """The ``preauth`` value for ``account`` (by name): hex HMAC-SHA1 keyed with the key's text."""
    fields = [account, "1", "name"] if admin else [account, "name"]
    data = "|".join([*fields, str(expires), str(timestamp_ms)])
    return hmac.new(key.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).hexdigest()


def preauth_url(
    origin: str, account: str, key: str, timestamp_ms: int, *, admin: bool = False
) -> str:
    """The sign-on URL on ``origin`` (``https://mail.example.com`` for webmail, ``…:7071`` for the
    admin console); ``expires=0`` gives the account's usual session length."""
    query = [
        ("account", account),
        ("by", "name"),
        ("timestamp", str(timestamp_ms)),
        ("expires", "0"),
    ]
    if admin:
        query.append(("admin", "1"))
    query.append(("preauth", signature(key, account, timestamp_ms, admin=admin)))
    return f"{origin.rstrip('/')}{PREAUTH_PATH}?{urlencode(query)}"


@dataclass(frozen=True)
class DomainState:
    """What a sign-on needs to know of a domain besides its key (never holds the key)."""

    name: str
    id: str
    status: str


class DomainKeys:
    """Reads a domain's preauth key from Zimbra, making one where the domain has none.

    One object per process (the adapter's context): its lock per server and domain keeps two
    threads from both creating a key.
    """

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def key_for(
        self, zimbra: "ZimbraAdmin", domain: str, *, create: bool = True
    ) -> tuple[DomainState, str]:
        """The domain (name, id, status) and its key; a missing key is made when ``create``.

        Raises:
            NoSuchDomain: the domain is not on this server.
            SignOnError: ``no_key``: the domain has no key and it may not (``create`` false) or
                cannot (the bridge's admin lacks the right) be made.
            ZimbraError: Zimbra could not be asked.
        """
        state, key = self._read(zimbra, domain)
        if key:
            return state, key
        if not create:
            raise SignOnError("no_key", f"domain {domain} has no preauth key ({KEY_ATTR})")
        with self._lock(zimbra.name, domain):
            state, key = self._read(zimbra, domain)  # another thread may have made it meanwhile
            if key:
                return state, key
            key = new_key()
            try:
                zimbra.modify_domain(state.id, {KEY_ATTR: key})
            except PermissionDenied as err:
                raise SignOnError(
                    "no_key",
                    f"domain {domain} has no preauth key and Zimbra {zimbra.name} refused to set "
                    f"one ({mask_secrets(err.fault_message, [key])}); run `zmprov gdpak {domain}` "
                    "as a global admin, or give the bridge's admin the right to set "
                    f"{KEY_ATTR}",
                ) from None
            except ZimbraError as err:  # a fault may quote the value it refused: not this one
                raise ZimbraError(
                    err.server, err.operation, mask_secrets(err.message, [key])
                ) from None
            log.info("Zimbra %s: made a preauth key for domain %s", zimbra.name, domain)
            return state, key

    def ensure(self, zimbra: "ZimbraAdmin", domain: str) -> None:
        """Give the domain a key if it has none (CreateAccount); the key is not returned."""
        self.key_for(zimbra, domain, create=True)

    def _read(self, zimbra: "ZimbraAdmin", domain: str) -> tuple[DomainState, str]:
        found = zimbra.get_domain(domain, attrs=[KEY_ATTR, "zimbraDomainStatus", "zimbraId"])
        key = found.attrs.get(KEY_ATTR) or ""
        key = key[0] if isinstance(key, list) else key
        return DomainState(found.name or domain, found.id, found.status), key.strip()

    def _lock(self, server: str, domain: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((server, domain), threading.Lock())
