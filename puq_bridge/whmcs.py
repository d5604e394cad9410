"""``WhmcsClient``: the WHMCS external API (``<url>/includes/api.php``).

INTERFACE STUB — the dataclasses and method signatures below are the contract other modules code against.
Bodies marked ``NotImplementedError`` are being implemented; keep names, arguments and return types.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterator

import requests

from .errors import WhmcsApiError, WhmcsAuthError, WhmcsError, WhmcsProtocolError, WhmcsTransportError  # noqa: F401

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Service:
    """One WHMCS service (a row of GetClientsProducts), values as Python types."""

    id: int
    client_id: int
    product_id: int
    product_name: str
    group_name: str
    domain: str
    status: str                            # Active, Suspended, Terminated, Cancelled, Pending, Fraud, Completed
    server_id: int | None                  # None when 0 / empty
    server_name: str
    server_ip: str
    server_hostname: str
    dedicated_ip: str
    registration_date: dt.date | None      # "0000-00-00" -> None
    next_due_date: dt.date | None
    billing_cycle: str                     # "Monthly", "Quarterly", "Semi-Annually", "Annually", "Free Account", ...
    recurring_amount: Decimal
    first_payment_amount: Decimal
    payment_method: str                    # gateway module name ("banktransfer")
    payment_method_name: str               # display name ("Bank Transfer")
    username: str
    disk_usage_mb: int
    disk_limit_mb: int
    last_update: dt.datetime | None        # "0000-00-00 00:00:00" -> None
    config_options: dict[str, str] = field(default_factory=dict)   # option name -> value
    custom_fields: dict[str, str] = field(default_factory=dict)    # field name -> value
    password: str = field(default="", repr=False)                  # plaintext service password: never log or show


@dataclass(frozen=True)
class Client:
    """A WHMCS client (GetClientsDetails)."""

    id: int
    firstname: str
    lastname: str
    companyname: str
    email: str
    language: str                          # "" when the client uses the system default; e.g. "polish", "english"
    currency_code: str                     # "PLN", "USD", "" when unknown
    status: str


@dataclass(frozen=True)
class User:
    """A WHMCS user (GetUsers), with the clients it belongs to: ``clients`` is ``[(client_id, is_owner)]``."""

    id: int
    firstname: str
    lastname: str
    email: str
    created: dt.datetime | None
    clients: tuple[tuple[int, bool], ...] = ()


@dataclass(frozen=True)
class Product:
    """A WHMCS product (GetProducts)."""

    id: int
    group_id: int
    name: str
    type: str
    module: str


@dataclass(frozen=True)
class Server:
    """A WHMCS server (GetServers); no credentials are returned by WHMCS."""

    id: int
    name: str
    hostname: str
    ip_address: str
    active: bool
    module: str


@dataclass(frozen=True)
class CancelledPackage:
    """A cancellation request (GetCancelledPackages)."""

    id: int
    service_id: int
    type: str
    reason: str
    date: dt.datetime | None


class WhmcsClient:
    """Client of the WHMCS external API.

    Args:
        url: the WHMCS root; requests go to ``<url>/includes/api.php``.
        identifier, secret: the API credential.
        access_key: optional ``$api_access_key`` (bypasses the IP allow-list).
        session: a ``requests.Session`` to use (tests pass their own); one is made otherwise.
        timeout: seconds for connect and read.
        verify: ``True``, ``False`` or a CA bundle path.
        retries: how often a read is retried after a transport failure (writes never are).
        backoff: first retry delay in seconds, doubled each time.
    """

    def __init__(self, url: str, identifier: str, secret: str, *, access_key: str | None = None,
                 session: requests.Session | None = None, timeout: float = 30, verify: bool | str = True,
                 retries: int = 2, backoff: float = 0.5):
        raise NotImplementedError

    def call(self, action: str, params: dict[str, Any] | None = None, *, write: bool = False) -> dict[str, Any]:
        """The one place that sends: POST, decode JSON on every status, map errors. Returns the decoded reply."""
        raise NotImplementedError

    def client_products(self, *, client_id: int | None = None, service_id: int | None = None,
                        product_id: int | None = None, domain: str | None = None,
                        page_size: int = 250) -> Iterator[Service]:
        """GetClientsProducts, all pages."""
        raise NotImplementedError

    def service(self, service_id: int) -> Service:
        """One service by id (raises WhmcsApiError when not found)."""
        raise NotImplementedError

    def client_details(self, client_id: int | None = None, *, email: str | None = None) -> Client:
        """GetClientsDetails."""
        raise NotImplementedError

    def update_client_product(self, service_id: int, **fields: Any) -> None:
        """UpdateClientProduct with arbitrary documented fields (a write: never retried)."""
        raise NotImplementedError

    def update_usage(self, service_id: int, *, disk_usage_mb: int, disk_limit_mb: int,
                     last_update: dt.datetime) -> None:
        """UpdateClientProduct ``diskusage``, ``disklimit`` (MB) and the undocumented ``lastupdate``."""
        raise NotImplementedError

    def products(self, *, product_id: int | None = None, group_id: int | None = None,
                 module: str | None = None) -> list[Product]:
        """GetProducts."""
        raise NotImplementedError

    def servers(self, *, service_id: int | None = None) -> list[Server]:
        """GetServers."""
        raise NotImplementedError

    def module_create(self, service_id: int) -> None:
        """ModuleCreate."""
        raise NotImplementedError

    def module_suspend(self, service_id: int, reason: str = "") -> None:
        """ModuleSuspend."""
        raise NotImplementedError

    def module_unsuspend(self, service_id: int) -> None:
        """ModuleUnsuspend."""
        raise NotImplementedError

    def module_terminate(self, service_id: int) -> None:
        """ModuleTerminate."""
        raise NotImplementedError

    def module_change_password(self, service_id: int, password: str) -> None:
        """ModuleChangePw."""
        raise NotImplementedError

    def module_change_package(self, service_id: int) -> None:
        """ModuleChangePackage."""
        raise NotImplementedError

    def module_custom(self, service_id: int, func_name: str) -> None:
        """ModuleCustom."""
        raise NotImplementedError

    def add_cancel_request(self, service_id: int, *, immediate: bool = False, reason: str = "") -> None:
        """AddCancelRequest; ``type`` is ``Immediate`` or ``End of Billing Period``."""
        raise NotImplementedError

    def cancelled_packages(self) -> list[CancelledPackage]:
        """GetCancelledPackages, all pages."""
        raise NotImplementedError

    def add_user(self, firstname: str, lastname: str, email: str, password: str, *,
                 language: str | None = None) -> int:
        """AddUser; returns the new user id."""
        raise NotImplementedError

    def create_client_invite(self, client_id: int, email: str, permissions: list[str]) -> None:
        """CreateClientInvite with a list of permission names."""
        raise NotImplementedError

    def users(self, *, search: str | None = None) -> list[User]:
        """GetUsers, all pages."""
        raise NotImplementedError

    def client_users(self, client_id: int) -> list[User]:
        """Users associated with one client (GetUsers filtered on the client)."""
        raise NotImplementedError

    def user_permissions(self, user_id: int, client_id: int) -> list[str]:
        """GetUserPermissions."""
        raise NotImplementedError

    def update_user_permissions(self, user_id: int, client_id: int, permissions: list[str]) -> None:
        """UpdateUserPermissions."""
        raise NotImplementedError

    def permissions_list(self) -> list[str]:
        """GetPermissionsList (answers ``status`` rather than ``result``)."""
        raise NotImplementedError

    def delete_user_client(self, user_id: int, client_id: int) -> None:
        """DeleteUserClient."""
        raise NotImplementedError

    def reset_password(self, *, email: str | None = None, user_id: int | None = None) -> None:
        """ResetPassword: WHMCS sends the reset e-mail."""
        raise NotImplementedError

    def validate_login(self, email: str, password: str) -> int:
        """ValidateLogin; returns the user id (the password hash in the reply is dropped)."""
        raise NotImplementedError

    def create_sso_token(self, *, client_id: int | None = None, user_id: int | None = None,
                         destination: str | None = None, service_id: int | None = None) -> str:
        """CreateSsoToken; returns the redirect URL."""
        raise NotImplementedError
