"""THE reader of WHMCS module ``$params``: what the forwarder may send, and the typed records made
of it.

WHMCS calls a provisioning module function with ``$params``: the service (``serviceid``, ``domain``,
``username``, ``password``), the product's module settings (``configoption1..24``), the client's
configurable options and custom fields, the client (``clientsdetails``) and the server WHMCS
assigned (``serverhostname``, ``serverport``, …). The generated forwarder passes on only the keys
named here (:data:`PARAM_KEYS`, :data:`CLIENT_KEYS`, :data:`SERVICE_FIELDS`), never the client's
password hash nor WHMCS's ORM ``model``; the adapter turns them into a :class:`ModuleParams` once,
at its edge, and everything downstream takes typed data.

Each part is checked only when it is used: a malformed setting the client area does not read never
breaks the client area, and one that CreateAccount needs fails CreateAccount with a
:class:`~puq_bridge.errors.ParamsError` that names the setting. The same records write params back
(:meth:`ModuleParams.build`), so the demo and the tests send exactly what the forwarder would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from puq_bridge.config import ZimbraConfig
from puq_bridge.errors import ParamsError
from puq_bridge.units import GB, MB, parse_total_space

#: top-level ``$params`` the forwarder passes on (configoption1..24, ``customfields``,
#: ``configoptions``, ``clientsdetails`` and the ``service`` block are added apart).
PARAM_KEYS = (
    "serviceid",
    "userid",
    "pid",
    "serverid",
    "domain",
    "username",
    "password",
    "producttype",
    "moduletype",
    "serverip",
    "serverhostname",
    "serverusername",
    "serverpassword",
    "serversecure",
    "serverport",
    "dedicatedip",
    "status",
    "signon_mailbox",
)
#: ``clientsdetails`` fields passed on (never ``password``, the hash).
CLIENT_KEYS = (
    "userid",
    "id",
    "client_id",
    "firstname",
    "lastname",
    "companyname",
    "email",
    "language",
    "currency",
    "currency_code",
    "country",
)
#: the ``service`` block: key sent → attribute of WHMCS's service model (``tblhosting`` column).
SERVICE_FIELDS = {
    "regdate": "regdate",
    "nextduedate": "nextduedate",
    "billingcycle": "billingcycle",
    "amount": "amount",
    "paymentmethod": "paymentmethod",
    "status": "domainstatus",
    "dedicatedip": "dedicatedip",
}
#: params whose values are secrets (masked in every message, never logged).
SECRET_PARAMS = ("password", "serverpassword", "serveraccesshash")
#: the client-area functions of mailbox self-service → the POST fields of each one's form. The
#: forwarder passes exactly these (as the ``action`` object), nothing else of ``$_POST``.
ACTION_FIELDS = {
    "CreateMailbox": ("local_part", "display_name", "password", "password2", "quota_mb"),
    "DeleteMailbox": ("mailbox", "confirm"),
    "SetMailboxPassword": ("mailbox", "password", "password2"),
    "SetMailboxQuota": ("mailbox", "quota_mb"),
    "AddAlias": ("mailbox", "alias"),
    "RemoveAlias": ("mailbox", "alias"),
    "SetForwarding": ("mailbox", "forward_to", "keep_copy"),
}
#: action fields that are secrets: masked in the module log, never logged, stored or shown.
SECRET_ACTION_FIELDS = ("password", "password2")
#: the longest value an action field may carry (longer ones are cut by the forwarder and here).
ACTION_FIELD_MAX = 320
#: how many ``configoptionN`` WHMCS passes (the forwarder sends them all; the bridge reads 1..6).
MAX_CONFIG_OPTIONS = 24

POLICIES = ("locked", "maintenance", "closed")
TENANCIES = ("domain", "server")
#: setting 7 → ``zimbraDomainAggregateQuotaPolicy``: what Zimbra does to a domain over its total
#: space.
QUOTA_POLICIES = {
    "block sending": "BLOCKSEND",
    "block sending and receiving": "BLOCKSENDRECEIVE",
    "warn only": "ALLOWSENDRECEIVE",
}
SWITCH = ("on", "off")
#: the primary mailbox's local part when the service has no username.
DEFAULT_MAILBOX = "admin"
#: WHMCS's port of a server without one, Zimbra's admin SOAP port.
DEFAULT_ADMIN_PORT = 7071
#: seconds per request to a Zimbra known only from WHMCS's server fields.
PARAM_TIMEOUT = 30.0

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_TRUE = ("1", "on", "true", "yes")


# --- the product's module settings ----------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One module setting as WHMCS shows it on the product's Module Settings tab."""

    attr: str
    label: str
    type: str
    size: int
    default: str
    description: str
    options: tuple[str, ...] = ()

    def config_option(self) -> dict[str, Any]:
        """This setting in WHMCS's ConfigOptions array shape."""
        shape: dict[str, Any] = {
            "FriendlyName": self.label,
            "Type": self.type,
            "Size": str(self.size),
            "Default": self.default,
            "Description": self.description,
        }
        if self.options:
            shape["Options"] = ",".join(self.options)
        return shape


#: configoption1..6, in order.
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "quota_mb",
        "Default mailbox quota (MB)",
        "text",
        10,
        "1024",
        "Quota of the primary mailbox, in MB (0 = unlimited)",
    ),
    Setting(
        "max_mailboxes",
        "Maximum mailboxes",
        "text",
        10,
        "0",
        "zimbraDomainMaxAccounts of the domain (0 = no limit)",
    ),
    Setting(
        "total_space_gb",
        "Total space (GB)",
        "text",
        10,
        "0",
        "Space shown to the client and sent to WHMCS as disk limit (0 = sum of mailbox quotas)",
    ),
    Setting(
        "cos",
        "Class of service",
        "text",
        30,
        "",
        "Zimbra COS name for the primary mailbox (empty = default)",
    ),
    Setting(
        "suspension_policy",
        "Suspension policy",
        "dropdown",
        0,
        "locked",
        "zimbraDomainStatus while suspended: locked (mail still delivered), maintenance, closed",
        POLICIES,
    ),
    Setting(
        "tenancy",
        "Tenancy",
        "dropdown",
        0,
        "domain",
        "domain: one mail domain per service; server: the client's own Zimbra server",
        TENANCIES,
    ),
    Setting(
        "quota_policy",
        "When total space is full",
        "dropdown",
        0,
        "block sending",
        "zimbraDomainAggregateQuotaPolicy of the domain once its mail fills the total space "
        "(setting 3): block sending, block sending and receiving, or warn only",
        tuple(QUOTA_POLICIES),
    ),
    Setting(
        "mailbox_signon",
        "Sign-on to any mailbox",
        "dropdown",
        0,
        "on",
        "on: the service page has a Log in button for every mailbox of the domain (webmail); "
        "off: only the primary mailbox",
        SWITCH,
    ),
)
_SETTING_INDEX = {s.attr: index for index, s in enumerate(SETTINGS, start=1)}


def config_options() -> dict[str, dict[str, Any]]:
    """The module's ConfigOptions array (keys in configoption order)."""
    return {s.label: s.config_option() for s in SETTINGS}


@dataclass(frozen=True)
class ProductSettings:
    """The product's module settings (``configoption1..6``) as WHMCS sent them.

    Each property parses its own setting when read and raises :class:`ParamsError` naming that
    setting; an empty value takes the setting's default. Build one from values with
    :meth:`of` (tests, the demo).
    """

    raw: tuple[str, ...] = ("",) * len(SETTINGS)

    @classmethod
    def of(cls, **values: Any) -> "ProductSettings":
        """Settings from Python values by attribute name (``quota_mb=1024, tenancy="server"``)."""
        unknown = set(values) - set(_SETTING_INDEX)
        if unknown:
            raise TypeError(f"unknown product settings: {', '.join(sorted(unknown))}")
        return cls(tuple(_text(values.get(s.attr, "")) for s in SETTINGS))

    @property
    def quota_mb(self) -> int:
        """Setting 1: the primary mailbox's quota in MB (0 = unlimited)."""
        return self._whole("quota_mb")

    @property
    def quota_bytes(self) -> int:
        """Setting 1 in bytes (0 = unlimited)."""
        return self.quota_mb * MB

    @property
    def max_mailboxes(self) -> int:
        """Setting 2: ``zimbraDomainMaxAccounts`` (0 = no limit)."""
        return self._whole("max_mailboxes")

    @property
    def total_space_bytes(self) -> int | None:
        """Setting 3: the product's total space in bytes, ``None`` when 0 or empty."""
        text = self._text("total_space_gb")
        try:
            return parse_total_space(text)
        except ValueError:
            raise ParamsError(
                f"{self._where('total_space_gb')} must be a number of GB, 0 or more "
                f"(e.g. 50 or 1,5); got {text[:40]!r}"
            ) from None

    @property
    def total_space_gb(self) -> float:
        """Setting 3 in GB (0.0 when not set)."""
        return (self.total_space_bytes or 0) / GB

    @property
    def cos(self) -> str:
        """Setting 4: the Zimbra class of service of the primary mailbox ("" = the default COS)."""
        return self._text("cos")

    @property
    def suspension_policy(self) -> str:
        """Setting 5: the ``zimbraDomainStatus`` of a suspended domain."""
        return self._choice("suspension_policy")

    @property
    def tenancy(self) -> str:
        """Setting 6: ``domain`` (one mail domain per service) or ``server`` (a private server)."""
        return self._choice("tenancy")

    @property
    def quota_policy(self) -> str:
        """Setting 7 as Zimbra's ``zimbraDomainAggregateQuotaPolicy`` (``BLOCKSEND``...)."""
        return QUOTA_POLICIES[self._choice("quota_policy")]

    @property
    def mailbox_signon(self) -> bool:
        """Setting 8: whether clients may sign in to any mailbox of their domain."""
        return self._choice("mailbox_signon") == "on"

    def _text(self, attr: str) -> str:
        index = _SETTING_INDEX[attr]
        text = self.raw[index - 1].strip() if index <= len(self.raw) else ""
        return text or SETTINGS[index - 1].default

    def _where(self, attr: str) -> str:
        index = _SETTING_INDEX[attr]
        return f"product setting {SETTINGS[index - 1].label!r} (configoption{index})"

    def _whole(self, attr: str) -> int:
        text = self._text(attr)
        if not text.isdigit():
            raise ParamsError(
                f"{self._where(attr)} must be a whole number, 0 or more; got {text[:40]!r}"
            )
        return int(text)

    def _choice(self, attr: str) -> str:
        text = self._text(attr).lower()
        options = SETTINGS[_SETTING_INDEX[attr] - 1].options
        if text not in options:
            raise ParamsError(
                f"{self._where(attr)} must be one of {', '.join(options)}; got {text[:40]!r}"
            )
        return text


# --- the service, its server and its client -------------------------------------------------------


@dataclass(frozen=True)
class ServiceTarget:
    """What a WHMCS service maps to on Zimbra: its mail domain and primary mailbox."""

    service_id: int | None
    domain: str
    mailbox: str


def normalize_domain(value: Any) -> str:
    """A service's mail domain, lower-case and IDNA-encoded; raises :class:`ParamsError` when
    missing or invalid."""
    text = str(value or "").strip().rstrip(".").lower()
    if not text:
        raise ParamsError("the service has no domain: set the service's Domain field in WHMCS")
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_name = ""
    if len(ascii_name) > 253 or not _DOMAIN_RE.match(ascii_name):
        raise ParamsError(f"invalid domain name {text[:80]!r}")
    return ascii_name


def primary_mailbox(username: Any, domain: str) -> str:
    """``username@domain`` (``admin@domain`` for an empty username); raises :class:`ParamsError`
    when invalid."""
    local = str(username or "").strip().lower() or DEFAULT_MAILBOX
    if "@" in local:
        local, _, other = local.rpartition("@")
        if other != domain:
            raise ParamsError(
                f"username {local + '@' + other!r} is not in the service's domain {domain}"
            )
    if len(local) > 64 or not _LOCAL_RE.match(local):
        raise ParamsError(f"invalid mailbox name {local[:80]!r} (from the service's username)")
    return f"{local}@{domain}"


@dataclass(frozen=True)
class ServerParams:
    """The server WHMCS assigned to the service (Setup > Servers), as its params describe it."""

    server_id: str = ""
    hostname: str = ""
    ip: str = ""
    port: str = ""
    secure: bool = False  # WHMCS's "Secure" box: kept, but never picks http (zimbra_entry)
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def id(self) -> int | None:
        """The WHMCS server id, ``None`` when absent or not a number."""
        return int(self.server_id) if self.server_id.isdigit() else None

    def zimbra_entry(self, like: ZimbraConfig | None = None) -> ZimbraConfig:
        """A Zimbra server entry from these fields (for a server no ``[[zimbra]]`` entry serves).

        The URL is always ``https://host:port`` (port 7071 when WHMCS has none), whatever WHMCS's
        "Secure" box says: Zimbra's admin port speaks HTTPS only, and the box is unticked by
        default. The certificate is verified against the system's CAs (or ``REQUESTS_CA_BUNDLE``).
        The only way to reach a server over plain http is a ``[[zimbra]]`` entry whose ``url``
        says ``http://``: an entry that matches the server always wins over these fields.

        With ``like`` (the ``[[zimbra]]`` entry serving this server; TestConnection, which checks
        what the admin typed into WHMCS's server form): host, port, user and password still come
        from these fields; only how to talk to the host comes from the entry: its scheme (an
        ``http://`` url is the operator's explicit choice), ``verify`` and timeout.

        Raises:
            ParamsError: no host, a bad port, or no admin user or password.
        """
        host = self.hostname or self.ip
        if not host:
            raise ParamsError(
                "no Zimbra server: the service has no server assigned in WHMCS "
                "(serverhostname/serverip empty)"
                + ("" if like is not None else " and no [[zimbra]] entry matches")
            )
        port = self.port or str(DEFAULT_ADMIN_PORT)
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ParamsError(f"serverport must be a port number, got {port[:20]!r}")
        if not self.username or not self.password:
            raise ParamsError(
                f"WHMCS server {host} has no username or password for the Zimbra admin API"
            )
        url_host = f"[{host}]" if ":" in host else host
        scheme = "http" if like is not None and like.url.lower().startswith("http:") else "https"
        return ZimbraConfig(
            name=host,
            whmcs_server=self.id if self.id is not None else host,
            url=f"{scheme}://{url_host}:{port}",
            admin_user=self.username,
            password=self.password,
            verify=like.verify if like is not None else True,
            timeout=like.timeout if like is not None else PARAM_TIMEOUT,
        )


@dataclass(frozen=True)
class ClientDetails:
    """The client (``clientsdetails``): what the bridge shows or chooses by."""

    client_id: str = ""
    language: str = ""
    currency_code: str = ""


@dataclass(frozen=True)
class ServiceBlock:
    """The service's billing fields from WHMCS's service model (the forwarder's ``service`` block).

    Dates and the amount are parsed when read; a malformed one raises :class:`ParamsError` naming
    it.
    """

    values: Mapping[str, str] = field(default_factory=dict)

    def text(self, key: str) -> str:
        """A field as text ("" when absent)."""
        return str(self.values.get(key) or "").strip()

    def date(self, key: str) -> dt.date | None:
        """A date field; ``None`` for an empty or zero date (``0000-00-00``, ``-0001-11-30``)."""
        text = self.text(key)[:10]
        if not text or text.startswith(("0000", "-0001")):
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ParamsError(f"service.{key} is not a date (YYYY-MM-DD): {text!r}") from None

    def amount(self, key: str) -> Decimal | None:
        """A money field; ``None`` when absent."""
        text = self.text(key)
        if not text:
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ParamsError(f"service.{key} is not an amount: {text[:40]!r}") from None


@dataclass(frozen=True)
class HostingRow:
    """One service of a server as the forwarder's UsageUpdate read it from WHMCS's ``tblhosting``
    (``id``, ``domain``, ``packageid``, ``domainstatus``, ``diskusage``, ``disklimit``).

    The sync engine takes it like a service listed through the API: it has the same attributes
    (WHMCS server, product, status, the MB WHMCS holds), and no configurable options (the
    service's total space comes from the store, where the adapter keeps it).
    """

    id: int
    domain: str
    product_id: int | None = None
    status: str = ""
    disk_usage_mb: int = 0
    disk_limit_mb: int = 0
    server_id: int | None = None
    server_hostname: str = ""
    #: the WHMCS client (``tblhosting.userid``; ``None`` when the forwarder did not send it)
    client_id: int | None = None

    @property
    def config_options(self) -> dict[str, str]:
        """None: ``tblhosting`` does not hold the client's configurable options."""
        return {}


#: the key the forwarder's UsageUpdate adds to the params: the server's services from tblhosting.
HOSTING_KEY = "services"


@dataclass(frozen=True)
class ModuleParams:
    """One call's ``$params`` after the forwarder's whitelist, read once; parts parse on use.

    Build it with :meth:`read` (the adapter, from the JSON the forwarder sent) or :meth:`build`
    (the demo and tests: typed parts in, and :meth:`to_wire` gives what the forwarder would send).
    """

    service_id_text: str = ""
    domain_text: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    status: str = ""
    product: ProductSettings = field(default_factory=ProductSettings)
    server: ServerParams = field(default_factory=ServerParams)
    client: ClientDetails = field(default_factory=ClientDetails)
    service: ServiceBlock = field(default_factory=ServiceBlock)
    options: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    other_secrets: tuple[str, ...] = field(default=(), repr=False)
    #: the mailbox a client asked to sign in to (MailboxSignOn's form field, passed on by the
    #: forwarder as ``signon_mailbox``): untrusted input, checked before anything is signed.
    signon_mailbox: str = ""
    hosting_rows: Any = None
    #: the POST fields of a self-service form (:data:`ACTION_FIELDS`, passed on by the forwarder
    #: as ``action``): untrusted input, validated by the bridge; may hold passwords.
    action: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, params: Mapping[str, Any]) -> "ModuleParams":
        """The params as the forwarder sent them (a JSON object). Nothing is validated yet.

        Raises:
            ParamsError: ``params`` or one of its blocks is not an object.
        """
        if not isinstance(params, Mapping):
            raise ParamsError("params must be an object")
        settings = tuple(_text(params.get(f"configoption{i}")) for i in range(1, len(SETTINGS) + 1))
        client = _block(params, "clientsdetails")
        return cls(
            service_id_text=_text(params.get("serviceid")),
            domain_text=_text(params.get("domain")),
            username=_text(params.get("username")),
            password=params.get("password") if isinstance(params.get("password"), str) else "",
            status=_text(params.get("status")),
            product=ProductSettings(settings),
            server=ServerParams(
                server_id=_text(params.get("serverid")),
                hostname=_text(params.get("serverhostname")),
                ip=_text(params.get("serverip")),
                port=_text(params.get("serverport")),
                secure=_text(params.get("serversecure")).lower() in _TRUE,
                username=_text(params.get("serverusername")),
                password=_text(params.get("serverpassword")),
            ),
            client=ClientDetails(
                client_id=_text(client.get("userid") or client.get("id") or params.get("userid")),
                language=_text(client.get("language")),
                currency_code=_text(client.get("currency_code")),
            ),
            service=ServiceBlock({k: _text(v) for k, v in _block(params, "service").items()}),
            options={str(k): _text(v) for k, v in _block(params, "configoptions").items()},
            extra={k: params[k] for k in ("userid", "pid", "dedicatedip") if k in params},
            hosting_rows=params.get(HOSTING_KEY),
            # a secret the forwarder does not send may still arrive from an older one: mask it too
            other_secrets=tuple(_text(params.get(k)) for k in SECRET_PARAMS if params.get(k)),
            signon_mailbox=_text(params.get("signon_mailbox"))[:320],
            action=_action(params),
        )

    @classmethod
    def build(
        cls,
        *,
        service_id: int,
        domain: str,
        username: str = "",
        password: str = "",
        status: str = "",
        product: ProductSettings | None = None,
        server: ServerParams | None = None,
        client: ClientDetails | None = None,
        service: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        product_id: int | None = None,
    ) -> "ModuleParams":
        """Params from typed parts: what WHMCS would pass for a service (the demo, tests)."""
        return cls(
            service_id_text=str(service_id),
            domain_text=domain,
            username=username,
            password=password,
            status=status,
            product=product or ProductSettings(),
            server=server or ServerParams(),
            client=client or ClientDetails(),
            service=ServiceBlock({k: _text(v) for k, v in (service or {}).items()}),
            options={str(k): _text(v) for k, v in (options or {}).items()},
            extra={"pid": product_id} if product_id is not None else {},
        )

    @classmethod
    def usage_update(cls, server: ServerParams, rows: Iterable[HostingRow]) -> "ModuleParams":
        """UsageUpdate's params: the server WHMCS's cron names and its services as the forwarder
        read them from ``tblhosting`` (the demo, tests)."""
        wire = [
            {
                "id": r.id,
                "domain": r.domain,
                "pid": r.product_id,
                "status": r.status,
                "diskusage": r.disk_usage_mb,
                "disklimit": r.disk_limit_mb,
                **({"userid": r.client_id} if r.client_id is not None else {}),
            }
            for r in rows
        ]
        return cls(server=server, hosting_rows=wire)

    def to_wire(self) -> dict[str, Any]:
        """These params as the forwarder sends them (the JSON object :meth:`read` takes back)."""
        server = self.server
        wire: dict[str, Any] = {
            "serviceid": self.service_id_text,
            "domain": self.domain_text,
            "username": self.username,
            "password": self.password,
            "status": self.status,
            "serverid": server.server_id,
            "serverhostname": server.hostname,
            "serverip": server.ip,
            "serverport": server.port,
            "serversecure": server.secure,
            "serverusername": server.username,
            "serverpassword": server.password,
        }
        wire.update({k: v for k, v in self.extra.items() if k in PARAM_KEYS})
        if self.signon_mailbox:
            wire["signon_mailbox"] = self.signon_mailbox
        if self.action:
            wire["action"] = dict(self.action)
        wire.update({f"configoption{i}": v for i, v in enumerate(self.product.raw, start=1)})
        wire["configoptions"] = dict(self.options)
        wire["customfields"] = {}
        details = {
            "userid": self.client.client_id,
            "language": self.client.language,
            "currency_code": self.client.currency_code,
        }
        wire["clientsdetails"] = {k: v for k, v in details.items() if k in CLIENT_KEYS}
        wire["service"] = {k: v for k, v in self.service.values.items() if k in SERVICE_FIELDS}
        if self.hosting_rows is not None:
            wire[HOSTING_KEY] = self.hosting_rows
        return {k: v for k, v in wire.items() if k in _WIRE_KEYS}

    @property
    def service_id(self) -> int | None:
        """``serviceid`` as an int, ``None`` when absent; raises :class:`ParamsError` when not a
        number."""
        text = self.service_id_text
        if not text:
            return None
        if not text.isdigit():
            raise ParamsError(f"serviceid must be a number, got {text[:40]!r}")
        return int(text)

    def require_service_id(self) -> int:
        """``serviceid``; raises :class:`ParamsError` when absent or not a number."""
        sid = self.service_id
        if sid is None:
            raise ParamsError("serviceid is missing")
        return sid

    @property
    def domain(self) -> str:
        """The service's mail domain, IDNA-normalised (:func:`normalize_domain`)."""
        return normalize_domain(self.domain_text)

    @property
    def target(self) -> ServiceTarget:
        """The service's domain and primary mailbox; raises :class:`ParamsError` when invalid."""
        domain = self.domain
        return ServiceTarget(self.service_id, domain, primary_mailbox(self.username, domain))

    def required_password(self) -> str:
        """The service password; raises :class:`ParamsError` when empty (never quoting it)."""
        if not self.password:
            raise ParamsError("the service has no password: set one in WHMCS before provisioning")
        return self.password

    @property
    def hosting(self) -> tuple[HostingRow, ...]:
        """UsageUpdate: the server's services the forwarder read from ``tblhosting``, each on this
        call's server.

        Raises:
            ParamsError: no list (a forwarder older than this bridge), or a malformed row.
        """
        rows = self.hosting_rows
        if rows is None:
            raise ParamsError(
                "UsageUpdate: the module sent no services from tblhosting; regenerate it "
                "(puq-bridge whmcs-module) for this bridge"
            )
        if not isinstance(rows, list):
            raise ParamsError(f"params: {HOSTING_KEY} must be a list, got {type(rows).__name__}")
        found = []
        for index, row in enumerate(rows):
            where = f"params: {HOSTING_KEY}[{index}]"
            if not isinstance(row, Mapping):
                raise ParamsError(f"{where} must be an object, got {type(row).__name__}")
            sid, pid = _text(row.get("id")), _text(row.get("pid"))
            if not sid.isdigit():
                raise ParamsError(f"{where}.id must be a service id, got {sid[:20]!r}")
            found.append(
                HostingRow(
                    id=int(sid),
                    domain=_text(row.get("domain")),
                    product_id=int(pid) if pid.isdigit() else None,
                    status=_text(row.get("status")),
                    disk_usage_mb=_whole_or_zero(row.get("diskusage")),
                    disk_limit_mb=_whole_or_zero(row.get("disklimit")),
                    server_id=self.server.id,
                    server_hostname=self.server.hostname,
                    client_id=_whole_or_zero(row.get("userid")) or None,
                )
            )
        return tuple(found)
    def with_action(self, fields: Mapping[str, Any]) -> "ModuleParams":
        """These params carrying a self-service form's fields (the demo and tests: what the
        forwarder adds from ``$_POST``)."""
        return dataclasses.replace(self, action=_action({"action": dict(fields)}))

    def action_field(self, name: str) -> str:
        """One field of the self-service form ("" when absent); passwords keep their spaces."""
        return self.action.get(name, "")

    def secrets(self) -> list[str]:
        """The secret values these params carry (to mask in messages)."""
        typed = (self.action.get(k, "") for k in SECRET_ACTION_FIELDS)
        values = (self.password, self.server.password, *self.other_secrets, *typed)
        return list(dict.fromkeys(value for value in values if value))


_WIRE_KEYS = frozenset(
    (*PARAM_KEYS, *(f"configoption{i}" for i in range(1, MAX_CONFIG_OPTIONS + 1)))
) | {"configoptions", "customfields", "clientsdetails", "service", HOSTING_KEY, "action"}


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, tuple)):
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    return str(value).strip()


def _whole_or_zero(value: Any) -> int:
    """A whole number of WHMCS's (``diskusage``: MB); 0 when absent or not one."""
    text = _text(value)
    return int(text) if text.isdigit() else 0
def _action(params: Mapping[str, Any]) -> dict[str, str]:
    """The ``action`` object: only fields some self-service function takes, as text (passwords
    untrimmed), each cut to :data:`ACTION_FIELD_MAX`."""
    block = _block(params, "action")
    known = {name for fields in ACTION_FIELDS.values() for name in fields}
    out = {}
    for key, value in block.items():
        if key not in known or isinstance(value, (dict, list, tuple)) or value is None:
            continue
        text = value if isinstance(value, str) else _text(value)
        if key not in SECRET_ACTION_FIELDS:
            text = text.strip()
        out[key] = text[:ACTION_FIELD_MAX]
    return out


def _block(params: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = params.get(key) or {}
    if not isinstance(value, Mapping):
        raise ParamsError(f"params: {key} must be an object, got {type(value).__name__}")
    return value
