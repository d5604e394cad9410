"""``FakeZimbra``: a stateful, in-memory Zimbra admin SOAP endpoint speaking the real wire format.

Accounts, domains and classes of service persist across calls; GetQuotaUsage reports each mailbox's
used bytes and its effective quota (the account's ``zimbraMailQuota``, else its COS's, capped by the
domain's ``zimbraMailDomainQuota``; 0 = unlimited). Tokens expire after ``token_lifetime_ms``.
Faults are HTTP 500 SOAP faults with the real codes and messages, in the request's SOAP version (1.1
or 1.2). Parameters are accepted as attributes or child elements. Not modelled: several mailbox
servers (every account lives on ``host``), sessions, BatchRequest, the JSON protocol.

Grants (GrantRight, RevokeRight, GetGrants) are kept by the ``Rights`` mixin; the web side
(``GET /service/preauth`` and the webmail and admin-console pages it leads to) is the ``WebLogin``
mixin.
"""

from __future__ import annotations

import binascii
import itertools
import random
import secrets
import threading
import time
import uuid

from lxml import etree
from werkzeug.wrappers import Request, Response

from puq_bridge.simulators.server import DropConnection, trickle
from puq_bridge.simulators.zimbra.directory import Directory
from puq_bridge.simulators.zimbra.dos import DosFilter
from puq_bridge.simulators.zimbra.ops import Operations
from puq_bridge.simulators.zimbra.preauth import WebLogin
from puq_bridge.simulators.zimbra.rights import Rights
from puq_bridge.simulators.zimbra.wire import (
    CONTENT_TYPE,
    SOAP11,
    SOAP12,
    ZIMBRA_NS,
    SimFault,
    envelope,
    fault_body,
    local,
    quota_usage_envelope,
    record,
    sample_rows,
)

__all__ = ["FakeZimbra", "populate", "quota_usage_envelope"]

INJECTIONS = frozenset(
    {"http500", "html", "malformed", "hang", "drop", "expire", "trickle", "throttle"}
)
AUTH_ORDERS = frozenset({"lifetime-first", "token-first"})
TWO_FACTOR_STATES = (None, "enabled", "not-set-up")
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"
    b"<body>\r\n<center><h1>502 Bad Gateway</h1>"
    b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class FakeZimbra(Operations, Directory, Rights, WebLogin):
    """A fake Zimbra admin server (``POST /service/admin/soap``), thread-safe, for tests, the demo
    and dry runs.

    Args:
        admin_user, password: the one admin account that may authenticate.
        host: the server's name (``zimbraMailHost``, URLs, GetVersionInfo).
        token_lifetime_ms: lifetime of issued tokens, in milliseconds like Zimbra.
        version: e.g. ``"10.0.8_GA"``; from 10 on, an unknown admin gets PERM_DENIED (older:
            AUTH_FAILED).
        auth_order: ``"lifetime-first"`` (current source) or ``"token-first"`` (ZCS 7/8 captures) in
            AuthResponse.
        auth_extra: add ``<a n="zimbraIsDomainAdminAccount">false</a>`` to AuthResponse, like ZCS 7.
        admin_two_factor: the admin's two-factor authentication, as Zimbra's admin Auth handles it:
            ``"enabled"`` (AuthResponse says ``twoFactorAuthRequired`` and carries a token good for
            nothing but the second factor: calls with it get ``service.AUTH_EXPIRED``),
            ``"not-set-up"`` (required but not set up: ``account.TWO_FACTOR_SETUP_REQUIRED``),
            ``None`` (no 2FA).

    State: ``domains`` / ``accounts`` / ``coses`` / ``lists`` / ``groups`` (dynamic groups) /
    ``resources`` map a name to a dict with ``id``, ``attrs`` (and for accounts ``used`` bytes and
    ``mbxid``, for lists ``members``); ``aliases`` map an alias to ``id``, ``target`` (the account
    or list name) and ``type``. ``search_max_results``: SearchDirectory's cap when a request gives
    no ``maxResults`` (the server's ``zimbra_directory_max_search_result``, 5000; set it low in
    tests). ``requests`` lists ``{"op": "GetQuotaUsage", "attrs": {...}}`` without secrets.
    """

    def __init__(
        self,
        admin_user: str = "admin@example.com",
        password: str = "zimbra-secret",
        *,
        host: str = "mail1.example.com",
        token_lifetime_ms: int = 43_200_000,
        version: str = "10.0.8_GA",
        auth_order: str = "lifetime-first",
        auth_extra: bool = False,
        admin_two_factor: str | None = None,
    ):
        if auth_order not in AUTH_ORDERS:
            raise ValueError(f"auth_order must be one of {sorted(AUTH_ORDERS)}, not {auth_order!r}")
        self.admin_user, self._password, self.host = admin_user, password, host
        self.token_lifetime_ms, self.version = token_lifetime_ms, version
        self.auth_order, self.auth_extra = auth_order, auth_extra
        if admin_two_factor not in TWO_FACTOR_STATES:
            raise ValueError(f"admin_two_factor must be one of {TWO_FACTOR_STATES}")
        self.admin_two_factor = admin_two_factor
        self.domains: dict[str, dict] = {}
        self.accounts: dict[str, dict] = {}
        self.coses: dict[str, dict] = {}
        self.lists: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.resources: dict[str, dict] = {}
        self.aliases: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.search_max_results = 5000
        self.latency = 0.0
        self.hang_seconds = 5.0
        self.trickle_seconds = 2.0
        self.password_message: str | None = (
            None  # SetPasswordResponse <message>, e.g. a policy note
        )
        self._passwords: dict[str, str] = {}
        self._tokens: dict[str, float] = {}
        self._second_factor_tokens: set[str] = set()
        self._injections: list[list] = []
        self.dos: DosFilter | None = None
        self.refused: list[dict] = []
        self._mbxids = itertools.count(2)
        self._change = itertools.count(1000)
        self._ids = random.Random()
        self.lock = threading.RLock()
        self.add_cos("default", {"zimbraMailQuota": "0", "zimbraPasswordMinLength": "6"})
        self._init_rights()
        self._init_web()

    # --- state helpers ----------------------------------------------------------------------------

    def _new_id(self) -> str:
        """A zimbraId (a random UUID; not from os.urandom, which is slow for 20,000 accounts)."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def add_cos(self, name: str, attrs: dict | None = None) -> str:
        """Add a class of service; returns its id."""
        with self.lock:
            cos_id = self._new_id()
            self.coses[name] = {
                "id": cos_id,
                "attrs": {
                    "cn": name,
                    "objectClass": "zimbraCOS",
                    "zimbraId": cos_id,
                    **(attrs or {}),
                },
            }
            return cos_id

    def add_domain(self, name: str, attrs: dict | None = None) -> str:
        """Add a domain (``zimbraDomainStatus`` ``active`` unless given); returns its id."""
        with self.lock:
            if name in self.domains:
                raise ValueError(f"domain already exists: {name}")
            domain_id = self._new_id()
            self.domains[name] = {
                "id": domain_id,
                "attrs": {
                    "zimbraId": domain_id,
                    "zimbraDomainName": name,
                    "zimbraDomainStatus": "active",
                    "zimbraDomainType": "local",
                    **{k: str(v) for k, v in (attrs or {}).items()},
                },
            }
            return domain_id

    def add_account(
        self,
        name: str,
        *,
        password: str = "x",
        quota: int = 0,
        used: int = 0,
        status: str = "active",
        attrs: dict | None = None,
    ) -> str:
        """Add a mailbox in an existing domain (``quota`` bytes, 0 = inherit the COS's); returns its
        id."""
        with self.lock:
            local_part, _, domain = name.rpartition("@")
            if domain not in self.domains:
                raise ValueError(f"no such domain: {domain}")
            if name in self.accounts:
                raise ValueError(f"account already exists: {name}")
            account_id = self._new_id()
            account_attrs = {
                "zimbraId": account_id,
                "uid": local_part,
                "mail": name,
                "zimbraAccountStatus": status,
                "zimbraMailHost": self.host,
                "zimbraMailStatus": "enabled",
            }
            if quota:
                account_attrs["zimbraMailQuota"] = str(quota)
            account_attrs.update({k: str(v) for k, v in (attrs or {}).items()})
            self.accounts[name] = {
                "id": account_id,
                "attrs": account_attrs,
                "used": used,
                "mbxid": next(self._mbxids),
            }
            self._passwords[name] = password
            return account_id

    def add_system_accounts(
        self, domain: str, *, galsync: bool = True, spam: bool = True
    ) -> list[str]:
        """Add the accounts Zimbra itself keeps in a domain; returns their names.

        ``galsync``: ``galsync@domain`` as CreateGalSyncAccount makes it (``zimbraIsSystemResource``
        and ``zimbraIsSystemAccount`` TRUE, hidden from the GAL, with the domain's default quota).
        ``spam``: the installer's ``spam.*``, ``ham.*`` (both flags TRUE) and ``virus-quarantine.*``
        (``zimbraIsSystemAccount`` TRUE) accounts, quota 0 (unlimited). GetQuotaUsage lists them
        like any mailbox, as the real server does.
        """
        both = {"zimbraIsSystemResource": "TRUE", "zimbraIsSystemAccount": "TRUE"}
        made = []
        if galsync:
            made.append(f"galsync@{domain}")
            self.add_account(made[-1], attrs={**both, "zimbraHideInGal": "TRUE"})
        if spam:
            tag = self._new_id().replace("-", "")[:10]
            for local, flags in (
                ("spam", both),
                ("ham", both),
                ("virus-quarantine", {"zimbraIsSystemAccount": "TRUE"}),
            ):
                made.append(f"{local}.{tag}@{domain}")
                self.add_account(
                    made[-1], attrs={**flags, "zimbraMailQuota": "0", "zimbraHideInGal": "TRUE"}
                )
        return made

    def set_used(self, name: str, used: int) -> None:
        """Set a mailbox's used bytes."""
        with self.lock:
            self.accounts[name]["used"] = used

    def expire_tokens(self) -> None:
        """Expire every issued token (the next call with one gets ``service.AUTH_EXPIRED``)."""
        with self.lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def forget_tokens(self) -> None:
        """Forget every issued token (the next call with one gets ``service.AUTH_REQUIRED``, as for
        a bad token)."""
        with self.lock:
            self._tokens.clear()

    def count(self, op: str) -> int:
        """How many requests of ``op`` (``"Auth"``, ``"GetQuotaUsage"``...) were received."""
        with self.lock:
            return sum(1 for r in self.requests if r["op"] == op)

    def inject(self, kind: str, *, on: str | None = None, times: int = 1) -> None:
        """Misbehave on the next ``times`` requests of op ``on`` (``None``: any; ``expire`` skips
        Auth).

        Kinds: ``http500`` (plain 500), ``html`` (a proxy's 502 page), ``malformed`` (a truncated
        reply), ``hang`` (sleep ``hang_seconds`` first), ``drop`` (close without reply;
        BackgroundServer only), ``expire`` (the request's token expires first:
        ``service.AUTH_EXPIRED``), ``trickle`` (the real reply, one byte every ``trickle_seconds``:
        never finished in practice), ``throttle`` (refused as the DoS filter refuses: its status
        and ``Retry-After`` from :meth:`dos_filter`'s settings, else 503 with none; the request
        is not handled and goes to ``refused``, not ``requests``).
        """
        if kind not in INJECTIONS:
            raise ValueError(f"unknown injection {kind!r}; known: {', '.join(sorted(INJECTIONS))}")
        with self.lock:
            self._injections.append([kind, on, times])

    def dos_filter(
        self,
        max_per_second: int | None = 30,
        *,
        status: int = 503,
        retry_after: int | None = None,
        safe_ips=(),
    ) -> None:
        """Turn Zimbra's DoS filter on (:class:`~puq_bridge.simulators.zimbra.dos.DosFilter`:
        more than ``max_per_second`` requests from one address within a second are refused with
        ``status``, before any SOAP handling), or off with ``None``. Off by default, as for a
        client whose address is in ``zimbraHttpThrottleSafeIPs``. Refused requests are listed in
        ``refused`` (``{"op", "attrs"}``), not in ``requests``.
        """
        with self.lock:
            self.dos = (
                None
                if max_per_second is None
                else DosFilter(
                    max_per_second, status=status, retry_after=retry_after, safe_ips=safe_ips
                )
            )

    def _take_injection(self, op: str, only: str | None = None) -> str | None:
        with self.lock:
            for entry in self._injections:
                kind, on, _ = entry
                if (kind == "throttle") != (only == "throttle"):
                    continue
                if (on is None and not (kind == "expire" and op == "Auth")) or on == op:
                    entry[2] -= 1
                    if entry[2] <= 0:
                        self._injections.remove(entry)
                    return kind
        return None

    # --- tokens -----------------------------------------------------------------------------------

    def _issue_token(self) -> str:
        expires_ms = int(time.time() * 1000) + self.token_lifetime_ms
        payload = f"id=36:{self._new_id()};exp=13:{expires_ms};admin=1:1;type=6:zimbra;"
        token = f"0_{secrets.token_hex(20)}_{binascii.hexlify(payload.encode()).decode()}"
        self._tokens[token] = time.monotonic() + self.token_lifetime_ms / 1000
        return token

    def _check_token(self, token: str | None) -> None:
        expires = self._tokens.get(token or "")
        if expires is None:
            raise SimFault("service.AUTH_REQUIRED", "no valid authtoken present")
        # A token for the second factor only: Zimbra's usage check fails, rethrown as a plain
        # AUTH_EXPIRED.
        if time.monotonic() >= expires or token in self._second_factor_tokens:
            raise SimFault("service.AUTH_EXPIRED", "auth credentials have expired")

    def _check_admin(self, name: str, password: str) -> None:
        if name.lower() == self.admin_user.lower():
            if password != self._password:
                raise SimFault("account.AUTH_FAILED", f"authentication failed for [{name}]")
            return
        if name in self.accounts and self._passwords.get(name) == password:
            raise SimFault("service.PERM_DENIED", "permission denied: not an admin account")
        if int(self.version.split(".")[0] or 0) >= 10:
            raise SimFault("service.PERM_DENIED", "permission denied: Error in Authentication")
        raise SimFault("account.AUTH_FAILED", f"authentication failed for [{name}]")

    OPS_BASE = {**Operations.OPS, **Directory.DIRECTORY_OPS}
    OPS = {**OPS_BASE, **Rights.RIGHTS_OPS}

    # --- HTTP -------------------------------------------------------------------------------------

    def wsgi_app(self, environ, start_response):
        """WSGI entry point (for BackgroundServer and the demo)."""
        return self.handler(Request(environ))(environ, start_response)

    def handler(self, request: Request) -> Response:
        """Answer one HTTP request (also usable with pytest-httpserver's
        ``respond_with_handler``)."""
        if not request.path.startswith("/service/admin/soap"):
            return self.web(request)  # /service/preauth and the pages it leads to
        if request.method != "POST":
            return Response(
                "HTTP method GET is not supported by this URL",
                status=405,
                headers={"Allow": "POST"},
                content_type="text/html",
            )
        try:
            doc = etree.fromstring(
                request.get_data(), etree.XMLParser(resolve_entities=False, no_network=True)
            )
        except etree.XMLSyntaxError as err:
            return self._reply(SOAP12, SimFault("service.PARSE_ERROR", f"parse error: {err}"))
        soap_ns = etree.QName(doc).namespace if etree.QName(doc).localname == "Envelope" else SOAP12
        if soap_ns not in (SOAP11, SOAP12):
            soap_ns = SOAP12
        body, token = _split(doc)
        op = local(body.tag).removesuffix("Request") if body is not None else ""
        seen = record(op, body) if body is not None else {"op": "", "attrs": {}}
        refused = self._refuse(request, op)
        if refused is not None:
            with self.lock:
                self.refused.append(seen)
            return refused
        with self.lock:
            self.requests.append(seen)
        if self.latency:
            time.sleep(self.latency)
        kind = self._take_injection(op)
        special = self._misbehave(kind, token)
        if special is not None:
            return special
        answer = self._answer(soap_ns, op, body, token, malformed=kind == "malformed")
        if kind == "trickle":
            data = answer.get_data()
            answer = Response(
                trickle(data, self.trickle_seconds),
                status=answer.status_code,
                headers={"Content-Length": str(len(data))},
                content_type=answer.content_type,
                direct_passthrough=True,
            )
        return answer

    def _refuse(self, request: Request, op: str) -> Response | None:
        """The DoS filter's refusal of this request (its rate, or a ``throttle`` injection), or
        ``None``."""
        dos = self.dos
        if dos is not None and not dos.admits(request.remote_addr):
            status, headers, page = dos.refusal()
        elif self._take_injection(op, only="throttle"):
            status, headers, page = (dos or DosFilter()).refusal()
        else:
            return None
        return Response(page, status=status, headers=headers)

    def _misbehave(self, kind: str | None, token: str | None) -> Response | None:
        if kind == "http500":
            return Response("500 Server Error", status=500, content_type="text/plain")
        if kind == "html":
            return Response(_HTML_502, status=502, content_type="text/html")
        if kind == "hang":
            time.sleep(self.hang_seconds)
        elif kind == "drop":
            raise DropConnection()
        elif kind == "expire" and token in self._tokens:
            with self.lock:
                self._tokens[token] = 0.0
        return None

    def _answer(
        self, soap_ns: str, op: str, body, token: str | None, *, malformed: bool = False
    ) -> Response:
        try:
            if body is None:
                raise SimFault("service.INVALID_REQUEST", "invalid request: no SOAP body")
            handler = self.OPS.get(op)
            if handler is None:
                raise SimFault("service.UNKNOWN_DOCUMENT", f"unknown document: {local(body.tag)}")
            if op != "Auth":
                with self.lock:
                    self._check_token(token)
            with self.lock:
                result = handler(self, body)
        except SimFault as fault:
            return self._reply(soap_ns, fault)
        reply = result if isinstance(result, bytes) else etree.tostring(result)
        return self._reply(soap_ns, reply, malformed=malformed)

    def _reply(self, soap_ns: str, body: bytes | SimFault, *, malformed: bool = False) -> Response:
        if isinstance(body, SimFault):
            trace = (
                f"qtp{id(self) % 10000}-{threading.get_ident() % 1000}"
                f"://{self.host}:7071/service/admin/soap:"
                f"{int(time.time() * 1000)}:{secrets.token_hex(8)}"
            )
            return Response(
                envelope(soap_ns, fault_body(soap_ns, body, trace)),
                status=500,
                content_type=CONTENT_TYPE,
            )
        data = envelope(soap_ns, body, next(self._change))
        if malformed:
            data = data[: len(data) // 2]
        return Response(data, status=200, content_type=CONTENT_TYPE)


def _split(doc) -> tuple[etree._Element | None, str | None]:
    """The first Body child and the header's ``<context xmlns="urn:zimbra"><authToken>``."""
    body = token = None
    for part in doc:
        name = local(part.tag)
        if name == "Header":
            context = part.find(f"{{{ZIMBRA_NS}}}context")
            if context is not None:
                token = next(
                    (c.text.strip() for c in context if local(c.tag) == "authToken" and c.text),
                    None,
                )
        elif name == "Body":
            body = next((c for c in part if isinstance(c.tag, str)), None)
    return body, token


def populate(sim: FakeZimbra, domain: str, count: int, *, seed: int = 0) -> None:
    """Add ``domain`` (if missing) and ``count`` deterministic mailboxes with mixed quotas (0 =
    unlimited)."""
    if domain not in sim.domains:
        sim.add_domain(domain)
    for name, _id, used, limit in sample_rows(count, domain=domain, seed=seed):
        sim.add_account(name, quota=limit, used=used)
