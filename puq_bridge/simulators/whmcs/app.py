"""``FakeWhmcs``: a stateful, in-memory WHMCS external API (``/includes/api.php``) speaking the real
wire format.

State is kept in WHMCS's own shapes (string values as the database returns them:
``"diskusage": "118"``). The server side checks credentials, the IP allow-list and the access key
like WHMCS does (HTTP 403 with WHMCS's messages), answers unknown actions with
``Command Not Found``, treats action names case-insensitively and answers a non-JSON body when
``responsetype`` is not ``json``. The actions themselves live in
:mod:`puq_bridge.simulators.whmcs.actions`.

Fault injection (``inject``) makes the next matching requests fail the way real deployments do: a
500, a proxy's HTML error page, a truncated body, a hang, a dropped connection (only under
``BackgroundServer``), a 403, or a trickle (the real reply, one byte every ``trickle_seconds``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from xml.sax.saxutils import escape

from werkzeug.wrappers import Request, Response

from puq_bridge.simulators.server import DropConnection, trickle
from puq_bridge.simulators.whmcs import actions as whmcs_actions

#: Request fields that are protocol or credentials, not action parameters: never recorded.
PROTOCOL_FIELDS = frozenset(
    {"action", "identifier", "secret", "accesskey", "username", "password", "responsetype"}
)
#: Action parameters whose values are secrets: recorded masked.
SECRET_PARAMS = frozenset({"password2", "servicepassword"})
MASK = "********"
FAULT_KINDS = ("http500", "html", "malformed", "hang", "drop", "auth", "trickle")

_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center></body></html>"
)


@dataclass
class _Fault:
    kind: str
    on: str | None
    times: int


class FakeWhmcs:
    """A fake WHMCS install: clients, products, servers, services, users; see ``docs/INTERNALS.md``.

    Args:
        identifier, secret: the API credential accepted.
        access_key: the ``$api_access_key``; a matching ``accesskey`` bypasses the IP allow-list.
        allowed_ips: the API IP allow-list (``None`` = no restriction).

    Attributes besides the documented state: ``allowed_actions`` (``None`` or a set of lowercase
    action names the credential's API role allows), ``payment_methods`` (the activated gateways
    GetPaymentMethods lists: module name -> display name; ``add_service`` adds the service's
    gateway), ``hang_seconds``, ``trickle_seconds``, ``invites``, ``cancel_requests``,
    ``sent_emails``, ``sso_tokens``, ``module_calls``, ``module_hook``.
    """

    def __init__(
        self,
        identifier: str = "whmcs-id",
        secret: str = "whmcs-secret",
        access_key: str | None = None,
        allowed_ips: Iterable[str] | None = None,
    ):
        self.identifier, self.access_key = identifier, access_key
        self._secret = secret
        self.allowed_ips = set(allowed_ips) if allowed_ips is not None else None
        self.allowed_actions: set[str] | None = None
        self.lock = threading.RLock()
        self.latency = 0.0
        self.hang_seconds = 5.0
        self.trickle_seconds = 2.0
        self.clients: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}
        self.groups: dict[str, int] = {}
        self.servers: dict[int, dict[str, Any]] = {}
        self.payment_methods: dict[str, str] = dict(whmcs_actions.PAYMENT_METHODS)
        self.services: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.links: dict[
            tuple[int, int], dict[str, Any]
        ] = {}  # (user_id, client_id) -> {"owner", "permissions"}
        self.invites: list[dict[str, Any]] = []
        self.cancel_requests: list[dict[str, Any]] = []
        self.sent_emails: list[dict[str, Any]] = []
        self.sso_tokens: list[dict[str, Any]] = []
        self.module_calls: list[tuple[str, int]] = []
        self.module_hook: Callable[[str, dict[str, Any]], str] | None = None
        self.requests: list[dict[str, Any]] = []
        self._faults: list[_Fault] = []
        self._ids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"FakeWhmcs(identifier={self.identifier!r}, services={len(self.services)})"

    # --- state ------------------------------------------------------------------------------------

    def next_id(self, table: str) -> int:
        """The next auto-increment id of ``table``."""
        with self.lock:
            self._ids[table] = self._ids.get(table, 0) + 1
            return self._ids[table]

    def add_client(
        self,
        firstname: str,
        lastname: str,
        email: str,
        *,
        language: str = "english",
        currency_code: str = "PLN",
        companyname: str = "",
        status: str = "Active",
    ) -> int:
        """Add a client (and its owner user, as WHMCS 8 does); returns the client id."""
        with self.lock:
            cid = self.next_id("clients")
            self.clients[cid] = {
                "id": cid,
                "firstname": firstname,
                "lastname": lastname,
                "email": email,
                "companyname": companyname,
                "language": language,
                "currency_code": currency_code,
                "status": status,
                "datecreated": "2026-01-10",
            }
            self.add_user(firstname, lastname, email, client_id=cid, owner=True)
            return cid

    def add_product(
        self, name: str, *, module: str = "puqbridge", group: str = "Mail", type: str = "other"
    ) -> int:
        """Add a product in product group ``group``; returns the product id (``pid``)."""
        with self.lock:
            gid = self.groups.setdefault(group, len(self.groups) + 1)
            pid = self.next_id("products")
            self.products[pid] = {
                "pid": str(pid),
                "gid": str(gid),
                "type": type,
                "name": name,
                "description": "",
                "module": module,
                "groupname": group,
                "paytype": "recurring",
            }
            return pid

    def add_server(
        self, name: str, hostname: str, ipaddress: str, *, module: str = "puqbridge"
    ) -> int:
        """Add a server (no credentials are kept: WHMCS never returns them); returns its id."""
        with self.lock:
            sid = self.next_id("servers")
            self.servers[sid] = {
                "id": sid,
                "name": name,
                "hostname": hostname,
                "ipaddress": ipaddress,
                "active": True,
                "maxAllowedServices": 200,
                "module": module,
            }
            return sid

    def add_service(
        self,
        client_id: int,
        product_id: int,
        domain: str,
        *,
        server_id: int | None = None,
        status: str = "Active",
        billing_cycle: str = "Monthly",
        recurring_amount: str = "49.00",
        regdate: str = "2026-01-15",
        next_due_date: str = "2026-12-15",
        payment_method: str = "banktransfer",
        payment_method_name: str = "Bank Transfer",
        username: str = "",
        password: str = "",
        dedicated_ip: str = "",
        config_options: dict[str, Any] | None = None,
        disk_usage: int = 0,
        disk_limit: int = 0,
        custom_fields: dict[str, Any] | None = None,
    ) -> int:
        """Add a service; ``sim.services[id]`` is its row as GetClientsProducts returns it. Returns
        its id."""
        with self.lock:
            if client_id not in self.clients or product_id not in self.products:
                raise KeyError(f"no client {client_id} or product {product_id}")
            if server_id is not None and server_id not in self.servers:
                raise KeyError(f"no server {server_id}")
            hid = self.next_id("hosting")
            product = self.products[product_id]
            row = whmcs_actions.service_row(
                hid,
                client_id,
                product,
                domain,
                status=status,
                regdate=regdate,
                billingcycle=billing_cycle,
                amount=str(recurring_amount),
                nextduedate=next_due_date,
                paymentmethod=payment_method,
                paymentmethodname=payment_method_name,
                username=username,
                password=password,
                dedicatedip=dedicated_ip,
                diskusage=str(disk_usage),
                disklimit=str(disk_limit),
            )
            row["configoptions"] = {
                "configoption": [
                    {"id": str(i), "option": k, "type": "quantity", "value": str(v)}
                    for i, (k, v) in enumerate((config_options or {}).items(), start=1)
                ]
            }
            row["customfields"] = {
                "customfield": [
                    {"id": str(i), "name": k, "translated_name": k, "value": str(v)}
                    for i, (k, v) in enumerate((custom_fields or {}).items(), start=1)
                ]
            }
            self.services[hid] = row
            if payment_method:
                self.payment_methods.setdefault(
                    payment_method, payment_method_name or payment_method
                )
            whmcs_actions.assign_server(self, row, server_id)
            return hid

    def add_user(
        self,
        firstname: str,
        lastname: str,
        email: str,
        *,
        client_id: int | None = None,
        owner: bool = False,
        permissions: Iterable[str] = (),
        password: str = "",
    ) -> int:
        """Add a user, optionally associated with a client (as owner, or with ``permissions``);
        returns its id.

        A user with that e-mail address already exists (every client's owner does, see
        :meth:`add_client`): it is associated with ``client_id`` instead, and its id returned.
        """
        with self.lock:
            existing = self.user_by_email(email)
            uid = existing["id"] if existing else self.next_id("users")
            if existing is None:
                self.users[uid] = {
                    "id": uid,
                    "firstname": firstname,
                    "lastname": lastname,
                    "email": email,
                    "password": password,
                    "datecreated": "2026-01-10 09:30:00",
                }
            if client_id is not None:
                perms = list(whmcs_actions.PERMISSIONS) if owner else list(permissions)
                self.links[(uid, client_id)] = {"owner": owner, "permissions": perms}
            return uid

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        """The user row with that e-mail address (case-insensitive), or ``None``."""
        return next((u for u in self.users.values() if u["email"].lower() == email.lower()), None)

    # --- faults and introspection -----------------------------------------------------------------

    def inject(self, kind: str, *, on: str | None = None, times: int = 1) -> None:
        """Make the next ``times`` requests for action ``on`` (``None`` = any) fail as ``kind``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(FAULT_KINDS)})")
        with self.lock:
            self._faults.append(_Fault(kind, on.lower() if on else None, times))

    def count(self, action: str | None = None) -> int:
        """How many requests for ``action`` (case-insensitive; ``None`` = all) were received."""
        with self.lock:
            return sum(
                1 for r in self.requests if action is None or r["action"].lower() == action.lower()
            )

    def _take_fault(self, action: str) -> str | None:
        with self.lock:
            for fault in self._faults:
                if fault.on is None or fault.on == action.lower():
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault.kind
        return None

    # --- HTTP -------------------------------------------------------------------------------------

    def wsgi_app(self, environ, start_response):
        """The WSGI entry point (for ``BackgroundServer`` and the demo)."""
        return self.handler(Request(environ))(environ, start_response)

    def handler(self, request: Request) -> Response:
        """Answer one request (the pytest-httpserver entry point)."""
        if not request.path.rstrip("/").endswith("/includes/api.php"):
            return Response(
                "<html><body><h1>404 Not Found</h1></body></html>", 404, content_type="text/html"
            )
        if self.latency:
            time.sleep(self.latency)
        values = request.values.to_dict()
        action = values.get("action", "")
        self._record(action, values)
        fault = self._take_fault(action)
        if fault == "hang":
            time.sleep(self.hang_seconds)
        elif fault not in (None, "trickle"):
            return self._fault_response(fault)
        json_wanted = values.get("responsetype", "").lower() == "json"
        status, body = self._answer(action, values, request.remote_addr or "")
        response = _render(status, body, json_wanted)
        if fault == "trickle":
            data = response.get_data()
            response = Response(
                trickle(data, self.trickle_seconds),
                status,
                headers={"Content-Length": str(len(data))},
                content_type=response.content_type,
                direct_passthrough=True,
            )
        return response

    def _record(self, action: str, values: dict[str, str]) -> None:
        params = {
            k: (MASK if k in SECRET_PARAMS else v)
            for k, v in values.items()
            if k not in PROTOCOL_FIELDS
        }
        with self.lock:
            self.requests.append({"action": action, "params": params})

    def _fault_response(self, kind: str) -> Response:
        if kind == "drop":
            raise DropConnection()
        if kind == "http500":
            return Response("Internal Server Error", 500, content_type="text/plain")
        if kind == "html":
            return Response(_HTML_PAGE, 502, content_type="text/html")
        if kind == "auth":
            return _render(403, {"result": "error", "message": "Authentication Failed"}, True)
        return Response(
            '{"result":"success","products":{"prod', 200, content_type="application/json"
        )

    def _answer(
        self, action: str, values: dict[str, str], remote_ip: str
    ) -> tuple[int, dict[str, Any]]:
        denied = self._check_access(action, values, remote_ip)
        if denied:
            return 403, {"result": "error", "message": denied}
        params = {k: v for k, v in values.items() if k not in PROTOCOL_FIELDS}
        try:
            return 200, whmcs_actions.dispatch(self, action, params)
        except whmcs_actions.ApiError as err:
            return 200, {"result": "error", "message": str(err)}

    def _check_access(self, action: str, values: dict[str, str], remote_ip: str) -> str | None:
        """WHMCS's 403 message for this request, or ``None`` when it may go on."""
        key = values.get("accesskey")
        if self.allowed_ips is not None and remote_ip not in self.allowed_ips:
            if not key:
                return f"Invalid IP {remote_ip}"
            if key != self.access_key:
                return "Invalid Access Key"
        ident = values.get("identifier") or values.get("username")
        if not ident or ident != self.identifier:
            return "Invalid or missing credentials"
        if (values.get("secret") or values.get("password")) != self._secret:
            return "Authentication Failed"
        if self.allowed_actions is not None and action.lower() not in self.allowed_actions:
            return f'Invalid Permissions: API action "{action.lower()}" is not allowed'
        return None


def _render(status: int, body: dict[str, Any], json_wanted: bool) -> Response:
    """JSON when asked for; otherwise the XML WHMCS answers by default."""
    if json_wanted:
        return Response(json.dumps(body), status, content_type="application/json")
    return Response(_to_xml(body), status, content_type="text/xml")


def _to_xml(body: dict[str, Any]) -> str:
    def node(key: str, value: Any) -> str:
        if isinstance(value, dict):
            inner = "".join(node(k, v) for k, v in value.items())
        elif isinstance(value, list):
            return "".join(node(key, v) for v in value)
        else:
            inner = escape("" if value is None else str(value))
        return f"<{key}>{inner}</{key}>"

    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<whmcsapi>'
        + "".join(node(k, v) for k, v in body.items())
        + "</whmcsapi>"
    )
