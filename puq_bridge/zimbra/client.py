"""``ZimbraAdmin``: the Zimbra SOAP admin API through zeep, over a WSDL written for this project.

zeep builds every request from ``wsdl/zimbra-admin.wsdl`` (SOAP 1.1, loaded once per process from
package data on first use) and reads every reply except GetQuotaUsage's, which is the hot path and
is read with lxml directly. This module owns the HTTP round trip itself (one
:meth:`ZimbraAdmin._post`), so timeouts, TLS failures, HTML error pages and SOAP faults are turned
into :mod:`puq_bridge.errors` exceptions in one place, and no envelope (the password is in
AuthRequest, the token in every header) is ever logged. Importing this module imports zeep: the CLI
imports it lazily, only in commands that talk to Zimbra.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import requests

from puq_bridge.errors import (
    AuthExpired,
    AuthRequired,
    TwoFactorRequired,
    ZimbraFault,
    ZimbraProtocolError,
    ZimbraThrottled,
    ZimbraTransportError,
)
from puq_bridge.http import (
    Poster,
    RedirectRefused,
    deadline_for,
    pooled_session,
    transport_warnings,
)
from puq_bridge.zimbra import soap as _soap
from puq_bridge.zimbra.models import (
    DIRECTORY_TYPES,
    Account,
    AccountInfo,
    Cos,
    DirectoryEntry,
    Domain,
    MailboxUsage,
    QuotaUsage,
    SystemAccounts,
    VersionInfo,
)
from puq_bridge.zimbra.rights import RightsMixin
from puq_bridge.zimbra.throttle import (
    DEFAULT_RATE,
    Pacer,
    RetryPolicy,
    is_read,
    retry_after_seconds,
)

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.config import ZimbraConfig

log = logging.getLogger(__name__)

_STREAM_CHUNK = 64 * 1024

#: The LDAP filter of the accounts Zimbra keeps for itself (GAL sync, spam/ham, virus quarantine).
SYSTEM_ACCOUNT_QUERY = "(|(zimbraIsSystemAccount=TRUE)(zimbraIsSystemResource=TRUE))"
_SYSTEM_ATTRS = ["zimbraIsSystemAccount", "zimbraIsSystemResource"]
_TWO_FACTOR_SETUP = "account.TWO_FACTOR_SETUP_REQUIRED"

__all__ = ["ZimbraAdmin", "parse_quota_usage", "SYSTEM_ACCOUNT_QUERY"]


def parse_quota_usage(content: bytes, *, server: str = "zimbra") -> QuotaUsage:
    """Read a GetQuotaUsage reply (a whole SOAP 1.1 or 1.2 envelope, as bytes) with lxml.

    Raises:
        ZimbraFault: the reply is a SOAP fault (its subclass for the code).
        ZimbraProtocolError: the body is not a SOAP envelope or holds no GetQuotaUsageResponse.
    """
    doc = _soap.read_envelope(server, "GetQuotaUsage", 200, "text/xml", content)
    return _quota_from_envelope(server, doc)


def _quota_from_envelope(server: str, doc) -> QuotaUsage:
    reply = _soap.body_child(doc)
    if reply.tag != _soap.QUOTA_RESPONSE:
        raise ZimbraProtocolError(
            server, "GetQuotaUsage", f"unexpected reply element <{_soap.local(reply.tag)}>"
        )
    try:
        accounts = [
            MailboxUsage(
                a.get("name") or "",
                int(a.get("used") or 0),
                int(a.get("limit") or 0),
                a.get("id") or "",
            )
            for a in reply.iterchildren(_soap.QUOTA_ACCOUNT)
        ]
        total = int(reply.get("searchTotal") or len(accounts))
    except ValueError as err:
        raise ZimbraProtocolError(
            server, "GetQuotaUsage", f"a used/limit/searchTotal value is not a number: {err}"
        ) from None
    return QuotaUsage(accounts, reply.get("more") in ("1", "true"), total)


def _attrs(values: Any) -> dict[str, str | list[str]]:
    """zeep's list of ``<a n=…>`` objects as a dict; repeated names become lists."""
    out: dict[str, str | list[str]] = {}
    for item in values or ():
        value = item._value_1 if item._value_1 is not None else ""
        if item.n in out:
            previous = out[item.n]
            out[item.n] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            out[item.n] = value
    return out


def _attr_list(attrs: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """A mapping as ``<a n=…>`` items; a list value gives one item per value, ``None`` an empty
    (removing) one."""
    items = []
    for name, value in (attrs or {}).items():
        for one in value if isinstance(value, (list, tuple)) else [value]:
            items.append({"n": name, "_value_1": "" if one is None else str(one)})
    return items


def _selector(op: str, name: str | None, id: str | None) -> dict[str, str]:
    """``<account by="name">…</account>`` from exactly one of name or id."""
    if (name is None) == (id is None):
        raise ValueError(f"Zimbra {op}: give exactly one of name or id")
    return {"by": "name", "_value_1": name} if name is not None else {"by": "id", "_value_1": id}


def _named(cls, obj):
    return cls(obj.name or "", obj.id or "", _attrs(obj.a))


#: Rows each page of :meth:`ZimbraAdmin.server_usage` repeats of the previous one (at most half a
#: page): accounts created or deleted between two pages may shift the list by this much.
PAGE_OVERLAP = 64


@dataclass(frozen=True)
class ServerRead:
    """What :meth:`ZimbraAdmin.server_usage` read: the server's ``searchTotal`` (its accounts), the
    GetQuotaUsage requests it took, and the rows handed on."""

    total: int
    pages: int
    rows: int


class _Rows:
    """Hands rows on and counts them."""

    def __init__(self, row: _soap.QuotaRow):
        self.row, self.count = row, 0

    def __call__(self, name: str, id: str, used: int, limit: int) -> None:
        self.count += 1
        self.row(name, id, used, limit)


class _Page:
    """One page of a paged whole-server read: rows up to ``anchor`` (the zimbraId of the previous
    page's last row) are the overlap and are skipped; the rest are handed on."""

    def __init__(self, row: _soap.QuotaRow, anchor: str | None):
        self.row, self.anchor = row, anchor
        self.found = anchor is None
        self.seen = self.handed = 0
        self.last: str | None = None

    def __call__(self, name: str, id: str, used: int, limit: int) -> None:
        self.seen += 1
        self.last = id or name
        if self.found:
            self.handed += 1
            self.row(name, id, used, limit)
        elif self.last == self.anchor:
            self.found = True


class ZimbraAdmin(RightsMixin):
    """Client of one Zimbra server's admin SOAP endpoint (``<url>/service/admin/soap``).

    Safe to share between threads: the token life cycle is guarded by a lock, so concurrent first
    calls cause one AuthRequest and an expired token is renewed once.

    Args:
        url: ``https://host:7071`` (the path is added).
        admin_user, password: an admin account.
        name: a short name used in errors and logs (default: the URL's host).
        verify: ``True``, ``False`` (logged warning) or a CA bundle path.
        timeout: seconds, or ``(connect, read)``.
        session: a ``requests.Session`` to use.
        token_margin: re-authenticate this many seconds before the token's lifetime ends (at most
            half of it).
        clock: monotonic seconds, for the token's lifetime (tests pass their own).
        system_accounts_ttl: how long :meth:`system_accounts` keeps its answer, in seconds (a sync
            run asks once per server; a long-lived client, such as the adapter's, asks again after
            this).
        deadline: seconds for a whole exchange (default: from ``timeout``).
        max_requests_per_second: this client's requests to the server are spaced to at most this
            many a second (:class:`~puq_bridge.zimbra.throttle.Pacer`; ``None`` or 0: no limit),
            to stay under Zimbra's DoS filter.
        retry: how a read refused with HTTP 503/429 is sent again (default: up to 5 attempts,
            ``Retry-After`` honoured, at most ``deadline`` seconds of waiting in all); a write
            never is.
        sleep: how to wait (tests pass their own, with ``clock``).

    :attr:`counts` says how many requests the client sent, how many the server refused (503/429)
    and how many it sent again.
    """

    def __init__(
        self,
        url: str,
        admin_user: str,
        password: str,
        *,
        name: str | None = None,
        verify: bool | str = True,
        timeout: float | tuple[float, float] = 30,
        session: requests.Session | None = None,
        token_margin: float = 60,
        clock: Callable[[], float] = time.monotonic,
        system_accounts_ttl: float = 300,
        deadline: float | None = None,
        max_requests_per_second: float | None = DEFAULT_RATE,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        base = url.rstrip("/")
        self.url = base.removesuffix(_soap.ENDPOINT_PATH)
        self.endpoint = self.url + _soap.ENDPOINT_PATH
        self.name = name or urlsplit(self.url).hostname or self.url
        self.admin_user = admin_user
        self._password = password
        self.verify = verify
        self.timeout = timeout
        self.deadline = deadline_for(timeout) if deadline is None else deadline
        self.token_margin = token_margin
        self._clock = clock
        self.session = session or pooled_session()
        self.session.verify = verify
        self._poster = Poster(
            self.session, self.endpoint, {"Content-Type": "text/xml; charset=utf-8"}
        )
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.system_accounts_ttl = system_accounts_ttl
        self._system: tuple[float, SystemAccounts] | None = None
        self._system_lock = threading.Lock()
        self._sleep = sleep
        self._pacer = Pacer(max_requests_per_second, clock=clock, sleep=sleep)
        self.retry = retry or RetryPolicy(budget=self.deadline)
        self._counts = {"requests": 0, "throttled": 0, "retries": 0}
        self._counts_lock = threading.Lock()
        for warning in transport_warnings(f"Zimbra {self.name}", self.url, verify):
            log.warning("%s", warning)

    @classmethod
    def from_config(
        cls, entry: "ZimbraConfig", *, pool_size: int | None = None, **kwargs: Any
    ) -> "ZimbraAdmin":
        """A client for one ``[[zimbra]]`` entry (URL, admin, password, name, TLS verification,
        timeout); ``kwargs`` override or add constructor arguments (e.g. ``session``).

        ``pool_size``: how many threads may use the client at once (a sync's readers of one
        server, the adapter's workers): its connection pool is made that big now
        (:func:`~puq_bridge.http.pooled_session`), as nothing may resize it once threads share
        it. Ignored when ``kwargs`` bring a ``session``.
        """
        if pool_size is not None and "session" not in kwargs:
            kwargs["session"] = pooled_session(pool_size)
        options: dict[str, Any] = {"name": entry.name, "verify": entry.verify}
        options["timeout"] = entry.timeout
        options["max_requests_per_second"] = entry.max_requests_per_second
        options.update(kwargs)
        return cls(entry.url, entry.admin_user, entry.password, **options)

    def __repr__(self) -> str:
        return f"ZimbraAdmin({self.name!r}, {self.url!r}, admin_user={self.admin_user!r})"

    # --- token life cycle -------------------------------------------------------------------------

    def authenticate(self) -> None:
        """AuthRequest now (normally done lazily by the first call); caches token and lifetime."""
        with self._lock:
            self._authenticate_locked()

    def _authenticate_locked(self) -> None:
        self._token = None
        try:
            doc = self._send("Auth", None, {"name": self.admin_user, "password": self._password})
        except ZimbraFault as err:
            if err.code == _TWO_FACTOR_SETUP:
                raise self._two_factor("Zimbra wants it set up first: " + err.code) from err
            raise
        if _soap.wants_second_factor(doc):
            # The token is good for nothing but a second factor: every later call would fail.
            raise self._two_factor("Zimbra answered twoFactorAuthRequired")
        reply = self._deserialize("Auth", doc)
        token = (getattr(reply, "authToken", None) or "").strip()
        if not token:
            raise ZimbraProtocolError(self.name, "Auth", "AuthResponse without an authToken")
        lifetime_ms = getattr(reply, "lifetime", None)
        lifetime = lifetime_ms / 1000 if lifetime_ms else math.inf  # Zimbra gives milliseconds
        usable = max(lifetime - self.token_margin, lifetime / 2)
        self._token, self._expires = token, self._clock() + usable
        log.info(
            "Zimbra %s: authenticated as %s (token lifetime %.0f s)",
            self.name,
            self.admin_user,
            lifetime,
        )

    def _two_factor(self, why: str) -> TwoFactorRequired:
        return TwoFactorRequired(
            self.name,
            "Auth",
            f"{self.admin_user} uses two-factor authentication ({why}), which the bridge cannot "
            "complete; give the bridge an admin account without two-factor authentication "
            "(Zimbra accepts app-specific passwords only outside SOAP, e.g. IMAP)",
        )

    def _current_token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                self._authenticate_locked()
            return self._token

    def _renew(self, rejected: str) -> str:
        with self._lock:
            if self._token == rejected:  # another thread may have renewed it already
                self._authenticate_locked()
            return self._token

    # --- the one round trip -----------------------------------------------------------------------

    def _call(self, op: str, params: dict[str, Any], row: _soap.QuotaRow | None = None):
        """Send ``op`` with the cached token; on AUTH_EXPIRED/AUTH_REQUIRED authenticate once and
        retry. With ``row`` (GetQuotaUsage only) the reply is streamed to it (see :meth:`_send`)."""
        token = self._current_token()
        try:
            return self._send(op, token, params, row)
        except (AuthExpired, AuthRequired) as err:
            log.info("Zimbra %s %s: %s; authenticating again", self.name, op, err.code)
            return self._send(op, self._renew(token), params, row)

    def _send(
        self,
        op: str,
        token: str | None,
        params: dict[str, Any],
        row: _soap.QuotaRow | None = None,
    ):
        """Build ``op`` (with zeep, GetQuotaUsage from a template), post it, and return the checked
        reply (lxml); with ``row``, hand each GetQuotaUsage row to it as the reply arrives and
        return ``(more, searchTotal)`` (:class:`~puq_bridge.zimbra.soap.QuotaReader`)."""
        body, soap_action = _soap.build_fast(
            op, token, {k: v for k, v in params.items() if v is not None}
        )
        if row is not None:
            return self._exchange(op, lambda: self._post_stream(op, body, soap_action, row))
        status, content_type, content = self._exchange(
            op, lambda: self._post(op, body, soap_action)
        )
        return _soap.read_envelope(self.name, op, status, content_type, content, self._secrets())

    def _exchange(self, op: str, attempt: Callable[[], Any]) -> Any:
        """``attempt()`` in the server's request rate; a read the server refuses (HTTP 503/429) is
        attempted again as :attr:`retry` says, a write never."""
        tries, waited = 0, 0.0
        while True:
            self._pacer.wait()
            self._count("requests")
            tries += 1
            try:
                return attempt()
            except ZimbraThrottled as err:
                self._count("throttled")
                delay = self.retry.delay(tries, err.retry_after, waited) if is_read(op) else None
                if delay is None:
                    raise self._gave_up(op, err, tries) from None
                log.info(
                    "Zimbra %s %s: HTTP %s (throttled); sending it again in %.1f s",
                    self.name,
                    op,
                    err.status,
                    delay,
                )
                self._count("retries")
                self._sleep(delay)
                waited += delay

    def _gave_up(self, op: str, err: ZimbraThrottled, tries: int) -> ZimbraThrottled:
        """The error of a refused call that is not sent again: why, and what the operator can
        do."""
        if not is_read(op):
            why = "a write is never sent again"
        elif tries >= self.retry.attempts:
            why = f"still refused after {tries} attempts"
        else:
            asked = f"{err.retry_after:g} s" if err.retry_after is not None else "a back-off"
            why = (
                f"it asked to wait {asked}, beyond this call's "
                f"{min(self.retry.max_wait, self.retry.budget):g} s"
            )
        message = (
            f"HTTP {err.status}: the server refused the request for now (Zimbra's DoS filter, or "
            f"a proxy in front of it), {why}; lower max_requests_per_second of this [[zimbra]] "
            "entry, or add this host's address to the server's zimbraHttpThrottleSafeIPs"
        )
        return ZimbraThrottled(
            self.name, op, message, status=err.status, retry_after=err.retry_after
        )

    def _count(self, what: str) -> None:
        with self._counts_lock:
            self._counts[what] += 1

    @property
    def counts(self) -> dict[str, int]:
        """Requests sent so far (``requests``, every attempt), refused with 503/429
        (``throttled``) and sent again (``retries``)."""
        with self._counts_lock:
            return dict(self._counts)

    def _throttled(self, op: str, response: requests.Response) -> ZimbraThrottled:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        response.close()
        return ZimbraThrottled(
            self.name,
            op,
            f"HTTP {response.status_code}: refused for now",
            status=response.status_code,
            retry_after=retry_after,
        )

    def _post_stream(
        self, op: str, body: bytes, soap_action: str, row: _soap.QuotaRow
    ) -> tuple[bool, int]:
        """POST, then parse the reply as it arrives (within the deadline): rows go to ``row``;
        returns ``(more, searchTotal)``. An error status is read whole and raised as
        :func:`~puq_bridge.zimbra.soap.read_envelope` raises it."""
        secrets = self._secrets()

        def read(response: requests.Response) -> tuple[bool, int]:
            if response.status_code in (429, 503):
                raise self._throttled(op, response)
            content_type = response.headers.get("Content-Type", "")
            if response.status_code != 200:
                _soap.read_envelope(
                    self.name, op, response.status_code, content_type, response.content, secrets
                )
            reader = _soap.QuotaReader(self.name, row, secrets)
            for chunk in response.iter_content(_STREAM_CHUNK):
                reader.feed(chunk)
            return reader.close()

        return self._transport(
            op,
            lambda: self._poster.post_streaming(
                body,
                read,
                headers={"SOAPAction": f'"{soap_action}"'},
                timeout=self.timeout,
                verify=self.verify,
                deadline=self.deadline,
            ),
        )

    def _transport(self, op: str, send: Callable[[], Any]) -> Any:
        """``send()``, its transport failures as :mod:`puq_bridge.errors` exceptions."""
        try:
            return send()
        except RedirectRefused as err:
            raise ZimbraProtocolError(self.name, op, str(err)) from err
        except requests.RequestException as err:
            raise ZimbraTransportError(
                self.name, op, _soap.transport_message(err, self.endpoint)
            ) from err
        except OSError as err:  # requests' own check of the CA bundle path
            raise ZimbraTransportError(
                self.name, op, f"cannot use TLS CA bundle {self.verify!r}: {err}"
            ) from err

    def _post(self, op: str, body: bytes, soap_action: str) -> tuple[int, str, bytes]:
        started = time.perf_counter()
        response = self._transport(
            op,
            lambda: self._poster.post(
                body,
                headers={"SOAPAction": f'"{soap_action}"'},
                timeout=self.timeout,
                verify=self.verify,
                deadline=self.deadline,
            ),
        )
        if response.status_code in (429, 503):
            raise self._throttled(op, response)
        log.debug(
            "Zimbra %s %s: HTTP %s, %d bytes in %.3f s",
            self.name,
            op,
            response.status_code,
            len(response.content),
            time.perf_counter() - started,
        )
        return response.status_code, response.headers.get("Content-Type", ""), response.content

    def _deserialize(self, op: str, doc):
        return _soap.deserialize(self.name, op, doc)

    def _invoke(self, op: str, **params):
        """One operation, its reply read by zeep."""
        return self._deserialize(op, self._call(op, params))

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._password, self._token) if s)

    # --- operations -------------------------------------------------------------------------------

    def version_info(self) -> VersionInfo:
        """GetVersionInfo."""
        info = self._invoke("GetVersionInfo")
        return VersionInfo(
            info.version or "", info.release or "", info.host or "", info.platform or ""
        )

    def get_account(
        self, name: str | None = None, *, id: str | None = None, attrs: list[str] | None = None
    ) -> Account:
        """GetAccount by name or id (``applyCos=1``); raises NoSuchAccount."""
        account = self._invoke(
            "GetAccount",
            account=_selector("GetAccount", name, id),
            applyCos=True,
            attrs=",".join(attrs) if attrs else None,
        )
        return _named(Account, account)

    def account_info(self, name: str) -> AccountInfo:
        """GetAccountInfo."""
        reply = self._invoke("GetAccountInfo", account={"by": "name", "_value_1": name})
        attrs = _attrs(reply.a)
        return AccountInfo(
            reply.name or name,
            str(attrs.get("zimbraId", "")),
            str(attrs.get("zimbraMailHost", "")),
            reply.publicMailURL,
            reply.adminSoapURL,
        )

    def create_account(
        self, name: str, password: str, attrs: Mapping[str, str] | None = None
    ) -> Account:
        """CreateAccount; raises AccountExists."""
        return _named(
            Account,
            self._invoke("CreateAccount", name=name, password=password, a=_attr_list(attrs)),
        )

    def modify_account(self, id: str, attrs: Mapping[str, str]) -> Account:
        """ModifyAccount (an empty value removes the attribute)."""
        return _named(Account, self._invoke("ModifyAccount", id=id, a=_attr_list(attrs)))

    def set_password(self, id: str, password: str) -> str | None:
        """SetPassword; returns the server's policy message, if any."""
        return self._invoke("SetPassword", id=id, newPassword=password) or None

    def delete_account(self, id: str) -> None:
        """DeleteAccount."""
        self._invoke("DeleteAccount", id=id)

    def add_account_alias(self, id: str, alias: str) -> None:
        """AddAccountAlias; raises AccountExists (the address is taken) or NoSuchDomain."""
        self._invoke("AddAccountAlias", id=id, alias=alias)

    def remove_account_alias(self, id: str, alias: str) -> None:
        """RemoveAccountAlias; raises NoSuchAlias."""
        self._invoke("RemoveAccountAlias", id=id, alias=alias)

    def search_accounts(
        self, domain: str, *, attrs: list[str] | None = None, page_size: int = 500
    ) -> Iterator[Account]:
        """SearchDirectory ``types=accounts`` in a domain, all pages (``page_size=0``: one request
        for all)."""
        for reply in self._search_pages(domain, "accounts", attrs, page_size):
            for account in reply.account or []:
                yield _named(Account, account)

    def search_directory(
        self,
        domain: str | None,
        types: Iterable[str] = ("accounts", "resources", "distributionlists"),
        *,
        attrs: list[str] | None = None,
        page_size: int = 500,
        query: str | None = None,
    ) -> Iterator[DirectoryEntry]:
        """SearchDirectory over several ``types`` (keys of :data:`DIRECTORY_TYPES`) in a domain
        (``None``: the whole directory), all pages, each page by name; ``page_size=0`` asks for
        everything at once; ``query`` is an LDAP filter the server ANDs with the types. An unknown
        type is a ``ValueError`` naming it.

        Every request sends ``maxResults="0"``: without it the server refuses a search that matches
        more entries than its cap (``zimbra_directory_max_search_result``, 5000 by default) with
        ``account.TOO_MANY_SEARCH_RESULTS``, however the reply is paged (without an admin session
        each page reruns the whole directory search).
        """
        types = tuple(types)
        unknown = [t for t in types if t not in DIRECTORY_TYPES]
        if unknown or not types:
            raise ValueError(
                f"Zimbra SearchDirectory: unknown type {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(DIRECTORY_TYPES)}"
            )
        kinds = list(dict.fromkeys(DIRECTORY_TYPES[t] for t in types))
        for reply in self._search_pages(domain, ",".join(types), attrs, page_size, query):
            page = [
                DirectoryEntry(
                    kind,
                    obj.name or "",
                    obj.id or "",
                    _attrs(obj.a),
                    getattr(obj, "targetName", None),
                )
                for kind in kinds
                for obj in getattr(reply, kind) or []
            ]
            yield from sorted(page, key=lambda entry: entry.name)

    def _search_pages(
        self,
        domain: str | None,
        types: str,
        attrs: list[str] | None,
        page_size: int,
        query: str | None = None,
    ) -> Iterator[Any]:
        """SearchDirectory replies, page after page, until the server says there are no more."""
        offset = 0
        while True:
            reply = self._invoke(
                "SearchDirectory",
                query=query,
                domain=domain,
                types=types,
                attrs=",".join(attrs) if attrs else None,
                maxResults=0,
                limit=page_size,
                offset=offset,
                sortBy="name",
                sortAscending=True,
            )
            yield reply
            found = sum(len(getattr(reply, kind) or []) for kind in set(DIRECTORY_TYPES.values()))
            offset += found
            if not reply.more or not found:
                return

    def system_accounts(self) -> SystemAccounts:
        """The directory's system accounts (:class:`SystemAccounts`): one SearchDirectory over the
        whole directory on ``zimbraIsSystemAccount`` / ``zimbraIsSystemResource``, kept for
        ``system_accounts_ttl`` seconds; threads asking at once share one request."""
        with self._system_lock:
            if self._system is None or self._clock() - self._system[0] >= self.system_accounts_ttl:
                found = list(
                    self.search_directory(
                        None,
                        ("accounts",),
                        attrs=_SYSTEM_ATTRS,
                        page_size=0,
                        query=SYSTEM_ACCOUNT_QUERY,
                    )
                )
                accounts = SystemAccounts(
                    frozenset(e.id for e in found if e.id),
                    frozenset(e.name.lower() for e in found),
                )
                self._system = (self._clock(), accounts)
                log.debug("Zimbra %s: %d system accounts", self.name, len(found))
            return self._system[1]

    def delete_distribution_list(self, id: str) -> None:
        """DeleteDistributionList of a list or a dynamic group (Zimbra looks the id up as any group;
        its aliases go with it); a gone one is ``account.NO_SUCH_DISTRIBUTION_LIST``."""
        self._invoke("DeleteDistributionList", id=id)

    def delete_calendar_resource(self, id: str) -> None:
        """DeleteCalendarResource; a gone resource is ``account.NO_SUCH_CALENDAR_RESOURCE``."""
        self._invoke("DeleteCalendarResource", id=id)

    def all_accounts(self, domain: str) -> list[Account]:
        """GetAllAccounts of a domain (no paging)."""
        accounts = self._invoke("GetAllAccounts", domain={"by": "name", "_value_1": domain})
        return [_named(Account, a) for a in accounts or []]

    def count_accounts(self, domain: str) -> int:
        """CountAccount: the domain's accounts summed over classes of service."""
        per_cos = self._invoke("CountAccount", domain={"by": "name", "_value_1": domain})
        return sum(int(cos._value_1 or 0) for cos in per_cos or [])

    def create_domain(self, name: str, attrs: Mapping[str, str] | None = None) -> Domain:
        """CreateDomain; raises DomainExists."""
        return _named(Domain, self._invoke("CreateDomain", name=name, a=_attr_list(attrs)))

    def get_domain(
        self, name: str | None = None, *, id: str | None = None, attrs: list[str] | None = None
    ) -> Domain:
        """GetDomain by name or id; raises NoSuchDomain."""
        domain = self._invoke(
            "GetDomain",
            domain=_selector("GetDomain", name, id),
            applyConfig=False,
            attrs=",".join(attrs) if attrs else None,
        )
        return _named(Domain, domain)

    def all_domains(self) -> list[Domain]:
        """GetAllDomains."""
        return [_named(Domain, d) for d in self._invoke("GetAllDomains", applyConfig=False) or []]

    def modify_domain(self, id: str, attrs: Mapping[str, str]) -> Domain:
        """ModifyDomain."""
        return _named(Domain, self._invoke("ModifyDomain", id=id, a=_attr_list(attrs)))

    def delete_domain(self, id: str) -> None:
        """DeleteDomain; raises DomainNotEmpty."""
        self._invoke("DeleteDomain", id=id)

    def get_cos(self, name: str | None = None, *, id: str | None = None) -> Cos:
        """GetCos by name or id; raises NoSuchCos."""
        return _named(Cos, self._invoke("GetCos", cos=_selector("GetCos", name, id)))

    def quota_usage(
        self,
        domain: str | None = None,
        *,
        all_servers: bool = True,
        limit: int = 0,
        offset: int = 0,
        sort_by: str = "totalUsed",
        refresh: bool = True,
    ) -> QuotaUsage:
        """GetQuotaUsage: one page (``limit=0`` = all). The reply is parsed with lxml directly (hot
        path).

        ``all_servers`` only has an effect with a ``domain`` (Zimbra then asks every mailbox
        server).
        """
        doc = self._call(
            "GetQuotaUsage",
            {
                "domain": domain,
                "allServers": all_servers if domain else None,
                "limit": limit,
                "offset": offset,
                "sortBy": sort_by,
                "refresh": refresh,
            },
        )
        return _quota_from_envelope(self.name, doc)

    def domain_usage(self, domain: str, *, page_size: int = 0) -> list[MailboxUsage]:
        """Every mailbox of a domain with used/limit bytes, in as few GetQuotaUsage requests as
        ``page_size`` allows.

        Pages are sorted by account name so that usage changing between two pages cannot move a
        mailbox across them.
        """
        if page_size <= 0:
            return self.quota_usage(domain).accounts
        seen: dict[str, MailboxUsage] = {}
        offset = 0
        while True:
            page = self.quota_usage(domain, limit=page_size, offset=offset, sort_by="account")
            for mailbox in page.accounts:
                seen.setdefault(mailbox.id or mailbox.name, mailbox)
            offset += len(page.accounts)
            if not page.more or not page.accounts:
                return list(seen.values())

    def server_usage(self, row: _soap.QuotaRow, *, page_size: int = 0) -> ServerRead:
        """Every account homed on this server (GetQuotaUsage without a domain: system-admin
        rights; not ``allServers``, which Zimbra only honours with a domain), each handed to
        ``row(name, id, used, limit)`` as the reply arrives (nothing else is kept).

        ``page_size`` 0 reads it in one request. Otherwise in pages of that many rows, sorted by
        account name; each page starts :data:`PAGE_OVERLAP` rows before the previous one ended and
        its rows up to the last one already handed on are skipped, so accounts created or deleted
        between two pages neither repeat a row nor shift one out of sight; when the list moved
        more than that (the last row is not in the next page) the read fails rather than miss a
        mailbox. Rows of a read that fails part-way have been handed on: throw them away.

        Raises:
            ZimbraError: as :meth:`quota_usage`, or ZimbraProtocolError for a list that moved.
        """
        params = {"sortBy": "account", "sortAscending": True, "refresh": True}
        if page_size <= 0:
            counter = _Rows(row)
            _, total = self._call("GetQuotaUsage", {**params, "limit": 0, "offset": 0}, counter)
            return ServerRead(total, 1, counter.count)
        if page_size < 2:
            raise ValueError(f"Zimbra GetQuotaUsage pages need at least 2 rows, not {page_size}")
        overlap = min(PAGE_OVERLAP, page_size // 2)
        offset, pages, anchor, rows = 0, 0, None, 0
        while True:
            page = _Page(row, anchor)
            more, total = self._call(
                "GetQuotaUsage",
                {**params, "limit": page_size, "offset": offset},
                page,
            )
            pages += 1
            rows += page.handed
            if anchor is not None and not page.found:
                raise ZimbraProtocolError(
                    self.name,
                    "GetQuotaUsage",
                    f"the server's account list changed by more than {overlap} accounts between "
                    f"two pages of {page_size} (at offset {offset}); the next run reads it again",
                )
            if not more or page.last is None:
                return ServerRead(total, pages, rows)
            offset += page.seen - overlap
            anchor = page.last

    def mailbox_size(self, account_id: str) -> int:
        """GetMailbox: the mailbox's size in bytes."""
        return int(self._invoke("GetMailbox", mbox={"id": account_id}).s or 0)

    def mailbox_stats(self) -> tuple[int, int]:
        """GetMailboxStats of the receiving server: ``(number of mailboxes, total bytes)``."""
        stats = self._invoke("GetMailboxStats")
        return int(stats.numMboxes or 0), int(stats.totalSize or 0)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self) -> "ZimbraAdmin":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
