"""``WhmcsClient``: the WHMCS external API (``<url>/includes/api.php``).

One central :meth:`WhmcsClient.call` sends every request (form POST, ``responsetype=json``), decodes
the JSON reply on every HTTP status and maps failures onto the
:class:`~puq_bridge.errors.WhmcsError` family; reads are retried with backoff on transport failures,
writes never are. Typed methods per action return the frozen dataclasses of
:mod:`puq_bridge.whmcs.models`, with WHMCS's string values turned into ints,
Decimals and dates.

Secrets never leave this module: logs name the action and the parameter *names* only, and error text
quotes replies only after masking the API secret, the access key and every ``password``-like field.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

import requests

from puq_bridge.errors import WhmcsApiError, WhmcsError, WhmcsProtocolError, WhmcsTransportError
from puq_bridge.http import Poster, deadline_for, pooled_session, transport_warnings
from puq_bridge.whmcs.models import (
    CancelledPackage,
    Client,
    Product,
    Server,
    Service,
    User,
    cancelled_from_row,
    client_from_reply,
    product_from_row,
    server_from_row,
    service_from_row,
    user_from_row,
)
from puq_bridge.whmcs.transport import FORM_HEADERS, post
from puq_bridge.whmcs.values import form_fields, items, strings, to_int

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.config import WhmcsConfig

log = logging.getLogger(__name__)
T = TypeVar("T")


#: Actions that change state: never retried, whatever failed.
WRITE_ACTIONS = frozenset(
    {
        "updateclientproduct",
        "modulecreate",
        "modulesuspend",
        "moduleunsuspend",
        "moduleterminate",
        "modulechangepw",
        "modulechangepackage",
        "modulecustom",
        "addcancelrequest",
        "adduser",
        "createclientinvite",
        "updateuserpermissions",
        "deleteuserclient",
        "resetpassword",
        "createssotoken",
    }
)


class WhmcsClient:
    """Client of the WHMCS external API.

    Args:
        url: the WHMCS root; requests go to ``<url>/includes/api.php``.
        identifier, secret: the API credential.
        access_key: optional ``$api_access_key`` (bypasses the IP allow-list).
        session: a ``requests.Session`` to use (tests pass their own); one is made otherwise.
        timeout: seconds for connect and for each read.
        deadline: seconds for a whole request (connect, send, wait, read); default
            :func:`~puq_bridge.http.deadline_for` ``timeout`` (three times it).
        verify: ``True``, ``False`` or a CA bundle path.
        retries: how often a read is retried after a transport failure (writes never are).
        backoff: first retry delay in seconds, doubled each time.

    ``warnings`` collects the ``warning`` texts of successful replies (also logged);
    ``last_warning`` is the newest.
    """

    def __init__(
        self,
        url: str,
        identifier: str,
        secret: str,
        *,
        access_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30,
        verify: bool | str = True,
        retries: int = 2,
        backoff: float = 0.5,
        deadline: float | None = None,
    ):
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/includes/api.php"
        self.identifier = identifier
        self._secret, self._access_key = secret, access_key
        self.session = session or pooled_session()
        self._poster = Poster(
            self.session, self.endpoint, FORM_HEADERS
        )  # proxies etc. resolved once, not per call
        self.timeout, self.verify = timeout, verify
        self.deadline = deadline_for(timeout) if deadline is None else deadline
        self.retries, self.backoff = max(0, retries), backoff
        self.warnings: list[str] = []
        for warning in transport_warnings("WHMCS", self.url, verify):
            log.warning("%s", warning)
        self.last_warning: str | None = None


    @classmethod
    def from_config(
        cls, config: "WhmcsConfig", *, pool_size: int | None = None, **kwargs: Any
    ) -> "WhmcsClient":
        """A client for ``[whmcs]`` (URL, credential, access key, timeout, TLS verification);
        ``kwargs`` override or add constructor arguments.

        ``pool_size``: how many requests may run at once (a sync's writers): the connection pool is
        made that big now (:func:`~puq_bridge.http.pooled_session`). Ignored when ``kwargs`` bring
        a ``session``.
        """
        if pool_size is not None and "session" not in kwargs:
            kwargs["session"] = pooled_session(pool_size)
        options: dict[str, Any] = {"access_key": config.access_key, "timeout": config.timeout}
        options["verify"] = config.verify
        options.update(kwargs)
        return cls(config.url, config.identifier, config.secret, **options)
    def __repr__(self) -> str:
        return f"WhmcsClient({self.url!r}, identifier={self.identifier!r})"

    def call(
        self, action: str, params: dict[str, Any] | None = None, *, write: bool = False
    ) -> dict[str, Any]:
        """The one place that sends: POST, decode JSON on every status, map errors. Returns the
        decoded reply.

        Reads are retried ``retries`` times (delays ``backoff``, doubled each time) after a
        transport failure or a proxy's 5xx page; writes (``write=True`` or a known write action) are
        sent exactly once.

        Raises:
            WhmcsAuthError, WhmcsApiError, WhmcsTransportError, WhmcsProtocolError.
        """
        fields = form_fields(params or {})
        write = write or action.lower() in WRITE_ACTIONS
        log.debug(
            "WHMCS %s%s: %s",
            action,
            " (write)" if write else "",
            ", ".join(sorted(fields)) or "no params",
        )
        attempts, attempt = (1 if write else 1 + self.retries), 1
        while True:
            try:
                return self._send(action, fields)
            except WhmcsError as err:
                if attempt >= attempts or not _retryable(err):
                    raise
                delay = self.backoff * 2 ** (attempt - 1)
                log.info("%s; retry %d of %d in %.2g s", err, attempt, self.retries, delay)
                time.sleep(delay)
                attempt += 1

    def _send(self, action: str, fields: dict[str, str]) -> dict[str, Any]:
        data = {
            "action": action,
            "identifier": self.identifier,
            "secret": self._secret,
            "responsetype": "json",
            **fields,
        }
        if self._access_key:
            data["accesskey"] = self._access_key
        started = time.monotonic()
        reply, status = post(
            self.session,
            self.endpoint,
            action,
            data,
            timeout=self.timeout,
            verify=self.verify,
            secrets=self._secrets(fields),
            poster=self._poster,
            deadline=self.deadline,
        )
        log.debug(
            "WHMCS %s: HTTP %d in %.0f ms", action, status, 1000 * (time.monotonic() - started)
        )
        if reply.get("warning"):
            self.last_warning = str(reply["warning"])
            self.warnings.append(self.last_warning)
            log.warning("WHMCS %s: warning: %s", action, self.last_warning)
        return reply

    def _secrets(self, fields: dict[str, str]) -> list[str | None]:
        return [
            self._secret,
            self._access_key,
            fields.get("password2"),
            fields.get("servicepassword"),
        ]

    def _pages(
        self, action: str, params: dict[str, Any], container: str, item: str | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """Every row of a paged list action (``limitstart``/``limitnum`` always sent)."""
        start = 0
        while True:
            reply = self.call(action, {**params, "limitstart": start, "limitnum": page_size})
            rows = items(reply, container, item)
            yield from rows
            start += len(rows)
            total = reply.get("totalresults")
            if not rows or (
                start >= to_int(total) if total not in (None, "") else len(rows) < page_size
            ):
                return

    # --- services ---------------------------------------------------------------------------------

    def client_products(
        self,
        *,
        client_id: int | None = None,
        service_id: int | None = None,
        product_id: int | None = None,
        domain: str | None = None,
        page_size: int = 250,
    ) -> Iterator[Service]:
        """GetClientsProducts, all pages."""
        params = {
            "clientid": client_id,
            "serviceid": service_id,
            "pid": product_id,
            "domain": domain,
        }
        for row in self._pages("GetClientsProducts", params, "products", "product", page_size):
            yield _build("GetClientsProducts", service_from_row, row)

    def service(self, service_id: int) -> Service:
        """One service by id (raises WhmcsApiError when not found)."""
        for found in self.client_products(service_id=service_id, page_size=1):
            return found
        raise WhmcsApiError("GetClientsProducts", f"Service ID Not Found: {service_id}")

    def client_details(self, client_id: int | None = None, *, email: str | None = None) -> Client:
        """GetClientsDetails."""
        reply = self.call("GetClientsDetails", {"clientid": client_id, "email": email})
        return _build("GetClientsDetails", client_from_reply, reply)

    def update_client_product(self, service_id: int, **fields: Any) -> None:
        """UpdateClientProduct with arbitrary documented fields (a write: never retried)."""
        self.call("UpdateClientProduct", {"serviceid": service_id, **fields}, write=True)

    def update_usage(
        self, service_id: int, *, disk_usage_mb: int, disk_limit_mb: int, last_update: dt.datetime
    ) -> None:
        """UpdateClientProduct ``diskusage``, ``disklimit`` (MB) and the undocumented
        ``lastupdate``.

        WHMCS's API sets a field only when PHP finds the value non-empty, and ``"0"`` is empty to
        PHP: a usage or limit of 0 is sent as ``"00"``, which is not, and which WHMCS's integer
        column stores as 0. ``last_update`` is sent as ``YYYY-MM-DD HH:MM:SS`` wall-clock time, as
        given; WHMCS versions that do not take the undocumented field keep their own "Last Updated".
        """
        self.update_client_product(
            service_id,
            diskusage=_whmcs_whole(disk_usage_mb),
            disklimit=_whmcs_whole(disk_limit_mb),
            lastupdate=last_update.strftime("%Y-%m-%d %H:%M:%S"),
        )

    def products(
        self,
        *,
        product_id: int | None = None,
        group_id: int | None = None,
        module: str | None = None,
    ) -> list[Product]:
        """GetProducts."""
        reply = self.call("GetProducts", {"pid": product_id, "gid": group_id, "module": module})
        return [
            _build("GetProducts", product_from_row, row)
            for row in items(reply, "products", "product")
        ]

    def servers(self, *, service_id: int | None = None) -> list[Server]:
        """GetServers."""
        reply = self.call("GetServers", {"serviceId": service_id})
        return [_build("GetServers", server_from_row, row) for row in items(reply, "servers")]

    def payment_methods(self) -> dict[str, str]:
        """GetPaymentMethods: the activated gateways, module name → display name
        (``"banktransfer"`` → ``"Bank Transfer"``); a gateway without a display name maps to
        its module name."""
        rows = items(self.call("GetPaymentMethods"), "paymentmethods", "paymentmethod")
        return {
            str(r["module"]): str(r.get("displayname") or r["module"])
            for r in rows
            if r.get("module")
        }

    # --- module actions (writes) ------------------------------------------------------------------

    def _module(self, action: str, service_id: int, **extra: Any) -> None:
        self.call(action, {"serviceid": service_id, **extra}, write=True)

    def module_create(self, service_id: int) -> None:
        """ModuleCreate."""
        self._module("ModuleCreate", service_id)

    def module_suspend(self, service_id: int, reason: str = "") -> None:
        """ModuleSuspend."""
        self._module("ModuleSuspend", service_id, suspendreason=reason or None)

    def module_unsuspend(self, service_id: int) -> None:
        """ModuleUnsuspend."""
        self._module("ModuleUnsuspend", service_id)

    def module_terminate(self, service_id: int) -> None:
        """ModuleTerminate."""
        self._module("ModuleTerminate", service_id)

    def module_change_password(self, service_id: int, password: str) -> None:
        """ModuleChangePw."""
        self._module("ModuleChangePw", service_id, servicepassword=password)

    def module_change_package(self, service_id: int) -> None:
        """ModuleChangePackage."""
        self._module("ModuleChangePackage", service_id)

    def module_custom(self, service_id: int, func_name: str) -> None:
        """ModuleCustom."""
        self._module("ModuleCustom", service_id, func_name=func_name)

    # --- cancellation -----------------------------------------------------------------------------

    def add_cancel_request(
        self, service_id: int, *, immediate: bool = False, reason: str = ""
    ) -> None:
        """AddCancelRequest; ``type`` is ``Immediate`` or ``End of Billing Period``."""
        kind = "Immediate" if immediate else "End of Billing Period"
        self.call(
            "AddCancelRequest",
            {"serviceid": service_id, "type": kind, "reason": reason},
            write=True,
        )

    def cancelled_packages(self) -> list[CancelledPackage]:
        """GetCancelledPackages, all pages."""
        rows = self._pages("GetCancelledPackages", {}, "packages", "package", 100)
        return [_build("GetCancelledPackages", cancelled_from_row, row) for row in rows]

    # --- users ------------------------------------------------------------------------------------

    def add_user(
        self,
        firstname: str,
        lastname: str,
        email: str,
        password: str,
        *,
        language: str | None = None,
    ) -> int:
        """AddUser; returns the new user id."""
        reply = self.call(
            "AddUser",
            {
                "firstname": firstname,
                "lastname": lastname,
                "email": email,
                "password2": password,
                "language": language,
            },
            write=True,
        )
        return to_int(reply.get("user_id"))

    def create_client_invite(self, client_id: int, email: str, permissions: list[str]) -> None:
        """CreateClientInvite with a list of permission names."""
        self.call(
            "CreateClientInvite",
            {"client_id": client_id, "email": email, "permissions": ",".join(permissions)},
            write=True,
        )

    def users(self, *, search: str | None = None) -> list[User]:
        """GetUsers, all pages."""
        rows = self._pages("GetUsers", {"search": search}, "users", None, 100)
        return [_build("GetUsers", user_from_row, row) for row in rows]

    def client_users(self, client_id: int) -> list[User]:
        """Users associated with one client (GetUsers filtered on the client)."""
        return [u for u in self.users() if any(cid == client_id for cid, _owner in u.clients)]

    def user_permissions(self, user_id: int, client_id: int) -> list[str]:
        """GetUserPermissions."""
        reply = self.call("GetUserPermissions", {"user_id": user_id, "client_id": client_id})
        return strings(reply.get("permissions"), "permission")

    def update_user_permissions(self, user_id: int, client_id: int, permissions: list[str]) -> None:
        """UpdateUserPermissions."""
        self.call(
            "UpdateUserPermissions",
            {"user_id": user_id, "client_id": client_id, "permissions": ",".join(permissions)},
            write=True,
        )

    def permissions_list(self) -> list[str]:
        """GetPermissionsList (answers ``status`` rather than ``result``)."""
        return strings(self.call("GetPermissionsList").get("permissions"), "permission")

    def delete_user_client(self, user_id: int, client_id: int) -> None:
        """DeleteUserClient."""
        self.call("DeleteUserClient", {"user_id": user_id, "client_id": client_id}, write=True)

    def reset_password(self, *, email: str | None = None, user_id: int | None = None) -> None:
        """ResetPassword: WHMCS sends the reset e-mail."""
        if email is None and user_id is None:
            raise WhmcsApiError("ResetPassword", "give an e-mail address or a user id")
        self.call("ResetPassword", {"email": email, "id": user_id}, write=True)

    def validate_login(self, email: str, password: str) -> int:
        """ValidateLogin; returns the user id (the password hash in the reply is dropped)."""
        return to_int(
            self.call("ValidateLogin", {"email": email, "password2": password}).get("userid")
        )

    def create_sso_token(
        self,
        *,
        client_id: int | None = None,
        user_id: int | None = None,
        destination: str | None = None,
        service_id: int | None = None,
    ) -> str:
        """CreateSsoToken; returns the redirect URL."""
        reply = self.call(
            "CreateSsoToken",
            {
                "client_id": client_id,
                "user_id": user_id,
                "destination": destination,
                "service_id": service_id,
            },
            write=True,
        )
        if not reply.get("redirect_url"):
            raise WhmcsProtocolError("CreateSsoToken", "reply has no redirect_url")
        return str(reply["redirect_url"])


def _whmcs_whole(value: int) -> str:
    """A whole number for an API field WHMCS sets only when non-empty to PHP: ``0`` as ``"00"``."""
    number = int(value)
    if number < 0:
        raise ValueError(f"a usage figure cannot be negative: {number}")
    return "00" if number == 0 else str(number)


def _build(action: str, builder: Callable[[dict[str, Any]], T], row: dict[str, Any]) -> T:
    """``builder(row)``; a value WHMCS should never send (``"regdate": "soon"``) becomes a protocol
    error."""
    try:
        return builder(row)
    except (ValueError, TypeError, AttributeError) as err:
        raise WhmcsProtocolError(action, f"unexpected value in reply: {err}") from err


def _retryable(err: WhmcsError) -> bool:
    """Transport failures, and a proxy's 5xx error page (a protocol error with a 5xx status), are
    worth a retry."""
    return isinstance(err, WhmcsTransportError) or (
        isinstance(err, WhmcsProtocolError) and (err.status_code or 0) >= 500
    )
