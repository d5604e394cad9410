"""Loading and validating the TOML configuration file.

This is the only module that reads config files and the environment; the library takes explicit
arguments. Every secret may be written as ``KEY = "value"`` or as ``KEY_env = "ENV_VAR_NAME"``.
Unknown keys, missing keys, wrong types, unset environment variables and missing CA bundles are
:class:`~puq_bridge.errors.ConfigError`\\ s that name the file and the key.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from puq_bridge.errors import ConfigError

log = logging.getLogger(__name__)

ENV_CONFIG = "PUQ_BRIDGE_CONFIG"

#: ``[[zimbra]] max_requests_per_second`` when not given: two thirds of the 30 a second Zimbra's DoS
#: filter allows a client by default (``zimbraHttpDosFilterMaxRequestsPerSec``).
DEFAULT_ZIMBRA_RATE = 20.0
#: ``[[zimbra]] read_plan``: how the sync reads a server's usage (``auto``: by the cost model).
READ_PLANS = ("auto", "server", "domain")
#: ``[sync] page_rows`` when not given: rows per whole-server GetQuotaUsage page.
DEFAULT_PAGE_ROWS = 100_000


def default_search_path() -> list[Path]:
    """The places looked at, in order, when neither ``--config`` nor ``$PUQ_BRIDGE_CONFIG`` names a
    file."""
    return [
        Path("puq-bridge.toml"),
        Path.home() / ".config" / "puq-bridge" / "config.toml",
        Path("/etc/puq-bridge/config.toml"),
    ]


def default_store_path() -> Path:
    """The per-user data file used when ``[store] path`` is not set
    (``$XDG_DATA_HOME/puq-bridge/``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "puq-bridge" / "usage.sqlite3"


@dataclass(frozen=True)
class WhmcsConfig:
    """``[whmcs]``: where the WHMCS API is and how to authenticate."""

    url: str
    identifier: str
    secret: str = field(repr=False)
    access_key: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: float = 30.0


@dataclass(frozen=True)
class ZimbraConfig:
    """One ``[[zimbra]]`` entry: a Zimbra server and the WHMCS server (id or hostname) it serves."""

    name: str
    whmcs_server: int | str
    url: str
    admin_user: str
    password: str = field(repr=False)
    verify: bool | str = True
    timeout: float = 30.0
    webmail_url: str | None = None
    admin_url: str | None = None
    #: requests a second the bridge sends this server at most (``None``: no limit, for a server
    #: that lists the bridge's address in ``zimbraHttpThrottleSafeIPs``).
    max_requests_per_second: float | None = DEFAULT_ZIMBRA_RATE
    #: how the usage sync reads this server: ``auto`` (the cost model), ``server`` (one
    #: whole-server read) or ``domain`` (one read per domain; for domains spread over several
    #: mailbox servers).
    read_plan: str = "auto"

    def matches(self, server_id: Any = None, hostname: str | None = None) -> bool:
        """True when this entry serves the WHMCS server given by id or hostname."""
        if isinstance(self.whmcs_server, int):
            try:
                return server_id is not None and int(server_id) == self.whmcs_server
            except (TypeError, ValueError):
                return False
        return bool(hostname) and hostname.strip().lower() == self.whmcs_server.strip().lower()


@dataclass(frozen=True)
class SyncConfig:
    """``[sync]``: which services the usage sync handles and how many servers it reads at once."""

    products: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ("Active", "Suspended")
    concurrency: int = 8
    per_server_concurrency: int = 4
    #: rows per GetQuotaUsage page when a whole server is read (a bigger server is read in pages).
    page_rows: int = DEFAULT_PAGE_ROWS
    #: WHMCS servers (ids or hostnames) whose services the bridge leaves alone on purpose.
    ignore_servers: tuple[int | str, ...] = ()

    def ignores(self, server_id: Any = None, hostname: str | None = None) -> bool:
        """True when the WHMCS server given by id or hostname is in ``ignore_servers``."""
        for server in self.ignore_servers:
            if isinstance(server, int):
                if str(server_id or "").strip() == str(server):
                    return True
            elif hostname and hostname.strip().lower() == server.strip().lower():
                return True
        return False


@dataclass(frozen=True)
class StoreConfig:
    """``[store]``: where the usage history lives — the SQLite file ``path`` (the embedded
    default), or the PostgreSQL database ``url`` that several bridge instances share (its
    password apart, or inside a ``url_env``) — and how long full detail is kept. ``timeout``:
    seconds to connect to PostgreSQL or wait for a pooled connection."""

    path: Path = field(default_factory=default_store_path)
    detail_days: int = 14
    url: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    timeout: float = 5.0

    @property
    def secrets(self) -> list[str]:
        """The secret values in this section (the password, one written inside the URL)."""
        inside = urlsplit(self.url).password if self.url else None
        return [value for value in (self.password, inside) if value]


#: the shortest ``[adapter]`` secret accepted (``puq-bridge secret`` makes 43 characters).
MIN_ADAPTER_SECRET = 32


@dataclass(frozen=True)
class AdapterConfig:
    """``[adapter]``: the HTTP service WHMCS's forwarder talks to."""

    listen: str = "127.0.0.1:8750"
    secret: str | None = field(default=None, repr=False)
    url: str | None = None
    max_body: int = 1_048_576

    @property
    def host_port(self) -> tuple[str, int]:
        """``listen`` split into host and port."""
        return split_listen(self.listen)

    @property
    def bridge_url(self) -> str:
        """The URL the forwarder posts to: ``url`` if set, else ``http://<listen>``."""
        if self.url:
            return self.url.rstrip("/")
        host, port = self.host_port
        return f"http://{host}:{port}"


@dataclass(frozen=True)
class RenderConfig:
    """``[render]``: client-area templates and the staleness notice."""

    templates_dir: Path | None = None
    stale_after_hours: float = 26.0
    default_lang: str = "en"


@dataclass(frozen=True)
class Config:
    """The whole configuration, as loaded from one file."""

    whmcs: WhmcsConfig
    zimbra: tuple[ZimbraConfig, ...] = ()
    sync: SyncConfig = field(default_factory=SyncConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    path: Path | None = None

    def zimbra_for(self, server_id: Any = None, hostname: str | None = None) -> ZimbraConfig | None:
        """The ``[[zimbra]]`` entry serving a WHMCS server (by id, then hostname), or ``None``."""
        for entry in self.zimbra:
            if entry.matches(server_id, hostname):
                return entry
        return None

    def zimbra_named(self, name: str) -> ZimbraConfig | None:
        """The ``[[zimbra]]`` entry called ``name``, or ``None``."""
        return next((z for z in self.zimbra if z.name == name), None)


_LANG_RE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


def has_catalog(lang: str, templates_dir: Path | None = None) -> bool:
    """True when ``i18n/<lang>.json`` exists in ``templates_dir`` or among the shipped templates
    (``pl``, ``en``)."""
    if not _LANG_RE.match(lang):
        return False
    name = f"{lang}.json"
    if templates_dir is not None and (templates_dir / "i18n" / name).is_file():
        return True
    return (resources.files("puq_bridge.templates") / "i18n" / name).is_file()


def split_listen(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8750`` for IPv6); raises ``ValueError`` when it is not that."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def find_config(
    explicit: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """Find the config file: ``explicit``, else ``$PUQ_BRIDGE_CONFIG``, else the first of the
    default places.

    Raises:
        ConfigError: the named file does not exist, or none of the default places has one.
    """
    env = os.environ if env is None else env
    named = explicit or env.get(ENV_CONFIG)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(str(path), None, "config file not found")
        return path
    for path in default_search_path():
        if path.is_file():
            return path
    places = ", ".join(str(p) for p in default_search_path())
    raise ConfigError(
        None, None, f"no config file: give --config or ${ENV_CONFIG}, or create one of {places}"
    )


def load_config(
    path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Find (see :func:`find_config`), read and validate the config file.

    Args:
        path: explicit path (``--config``); ``None`` searches.
        env: environment for ``*_env`` secrets and ``$PUQ_BRIDGE_CONFIG`` (default ``os.environ``).
    """
    env = os.environ if env is None else env
    file = find_config(path, env)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(str(file), None, f"cannot read: {err.strerror}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(str(file), None, f"not valid TOML: {err}") from err
    return parse_config(raw, str(file), env)


def parse_config(
    raw: Mapping[str, Any], file: str = "config", env: Mapping[str, str] | None = None
) -> Config:
    """Validate an already-parsed TOML document (``file`` is only used in messages)."""
    env = os.environ if env is None else env
    reader = _Reader(file, env)
    reader.check_keys(raw, "", {"whmcs", "zimbra", "sync", "store", "adapter", "render"})
    if "whmcs" not in raw:
        raise ConfigError(file, "whmcs", "missing required section [whmcs]")
    cfg = Config(
        whmcs=reader.whmcs(reader.table(raw, "whmcs")),
        zimbra=reader.zimbras(raw.get("zimbra", [])),
        sync=reader.sync(reader.table(raw, "sync")),
        store=reader.store(reader.table(raw, "store")),
        adapter=reader.adapter(reader.table(raw, "adapter")),
        render=reader.render(reader.table(raw, "render")),
        path=Path(file) if file != "config" else None,
    )
    if reader.literal_secrets and file != "config":
        _warn_if_readable(file, reader.literal_secrets)
    return cfg


def _warn_if_readable(file: str, keys: list[str]) -> None:
    try:
        mode = os.stat(file).st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "%s holds literal secrets (%s) and is readable by group or others; "
            "chmod 600 it or use KEY_env",
            file,
            ", ".join(keys),
        )


class _Reader:
    """Typed access to one config document, raising ConfigErrors that name file and key."""

    def __init__(self, file: str, env: Mapping[str, str]):
        self.file, self.env = file, env
        self.literal_secrets: list[str] = []

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.file, key, message)

    def check_keys(self, table: Mapping[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )

    def table(self, raw: Mapping[str, Any], name: str) -> dict:
        value = raw.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(name, f"must be a table [{name}]")
        return value

    def get(self, table, prefix, key, types, default=..., what=None, echo=True):
        if key not in table:
            if default is ...:
                raise self.fail(f"{prefix}{key}", "missing required key")
            return default
        value = table[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = what or " or ".join(t.__name__ for t in types)
            shown = f" {value!r}" if echo else ""  # a mistyped secret is still a secret
            raise self.fail(f"{prefix}{key}", f"must be {names}, got {type(value).__name__}{shown}")
        return value

    def secret(self, table, prefix, key, required=True):
        env_key = f"{key}_env"
        if key in table and env_key in table:
            raise self.fail(f"{prefix}{key}", f"give either {key} or {env_key}, not both")
        if key in table:
            value = self.get(table, prefix, key, (str,), echo=False)
            if not value:
                raise self.fail(f"{prefix}{key}", "must not be empty")
            self.literal_secrets.append(f"{prefix}{key}")
            return value
        if env_key in table:
            var = self.get(table, prefix, env_key, (str,))
            value = self.env.get(var)
            if not value:
                raise self.fail(f"{prefix}{env_key}", f"environment variable {var} is not set")
            return value
        if required:
            raise self.fail(f"{prefix}{key}", f"missing required key ({key} or {env_key})")
        return None

    def url(self, table, prefix, key="url", default=...):
        value = self.get(table, prefix, key, (str,), default)
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise self.fail(f"{prefix}{key}", f"must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    def verify(self, table, prefix):
        value = self.get(
            table, prefix, "verify", (bool, str), True, "true, false or a CA bundle path"
        )
        if isinstance(value, str):
            path = Path(value).expanduser()
            if not path.is_file():
                raise self.fail(f"{prefix}verify", f"CA bundle not found: {value}")
            return str(path)
        return value

    def positive(self, table, prefix, key, default, types=(int,)):
        value = self.get(table, prefix, key, types, default)
        if value <= 0:
            raise self.fail(f"{prefix}{key}", f"must be greater than 0, got {value}")
        return value

    def rate(self, t, p) -> float | None:
        """``max_requests_per_second``: a positive number, or 0 for no limit."""
        value = self.get(t, p, "max_requests_per_second", (int, float), DEFAULT_ZIMBRA_RATE)
        if value < 0:
            raise self.fail(
                f"{p}max_requests_per_second",
                f"must be 0 (no limit) or a number of requests a second, got {value}",
            )
        return float(value) or None

    def choice(self, t, p, key, allowed, default):
        value = self.get(t, p, key, (str,), default)
        if value not in allowed:
            raise self.fail(
                f"{p}{key}", f"must be one of {', '.join(map(repr, allowed))}, got {value!r}"
            )
        return value

    def page_rows(self, t, p) -> int:
        value = self.positive(t, p, "page_rows", DEFAULT_PAGE_ROWS)
        if value < 100:
            raise self.fail(f"{p}page_rows", f"must be at least 100, got {value}")
        return value

    def whmcs(self, t) -> WhmcsConfig:
        p = "whmcs."
        self.check_keys(
            t,
            p,
            {
                "url",
                "identifier",
                "secret",
                "secret_env",
                "access_key",
                "access_key_env",
                "verify",
                "timeout",
            },
        )
        return WhmcsConfig(
            url=self.url(t, p),
            identifier=self.get(t, p, "identifier", (str,)),
            secret=self.secret(t, p, "secret"),
            access_key=self.secret(t, p, "access_key", required=False),
            verify=self.verify(t, p),
            timeout=float(self.positive(t, p, "timeout", 30, (int, float))),
        )

    def zimbras(self, items) -> tuple[ZimbraConfig, ...]:
        if not isinstance(items, list):
            raise self.fail("zimbra", "must be an array of tables [[zimbra]]")
        seen: set[str] = set()
        result = []
        for i, t in enumerate(items):
            p = f"zimbra[{i}]."
            if not isinstance(t, dict):
                raise self.fail(f"zimbra[{i}]", "must be a table")
            self.check_keys(
                t,
                p,
                {
                    "name",
                    "whmcs_server",
                    "url",
                    "admin_user",
                    "password",
                    "password_env",
                    "verify",
                    "timeout",
                    "webmail_url",
                    "admin_url",
                    "max_requests_per_second",
                    "read_plan",
                },
            )
            name = self.get(t, p, "name", (str,))
            if name in seen:
                raise self.fail(f"{p}name", f"duplicate server name {name!r}")
            seen.add(name)
            result.append(
                ZimbraConfig(
                    name=name,
                    whmcs_server=self.get(
                        t, p, "whmcs_server", (int, str), what="a server id (int) or hostname (str)"
                    ),
                    url=self.url(t, p),
                    admin_user=self.get(t, p, "admin_user", (str,)),
                    password=self.secret(t, p, "password"),
                    verify=self.verify(t, p),
                    timeout=float(self.positive(t, p, "timeout", 30, (int, float))),
                    webmail_url=self.url(t, p, "webmail_url", None),
                    admin_url=self.url(t, p, "admin_url", None),
                    max_requests_per_second=self.rate(t, p),
                    read_plan=self.choice(t, p, "read_plan", READ_PLANS, "auto"),
                )
            )
        return tuple(result)

    def sync(self, t) -> SyncConfig:
        p = "sync."
        self.check_keys(
            t,
            p,
            {
                "products",
                "statuses",
                "concurrency",
                "per_server_concurrency",
                "ignore_servers",
                "page_rows",
            },
        )
        ignored = self.get(t, p, "ignore_servers", (list,), [])
        if not all(isinstance(x, (int, str)) and not isinstance(x, bool) for x in ignored):
            raise self.fail(f"{p}ignore_servers", "must be a list of WHMCS server ids or hostnames")
        products = self.get(t, p, "products", (list,), [])
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in products):
            raise self.fail(f"{p}products", "must be a list of WHMCS product ids (integers)")
        statuses = self.get(t, p, "statuses", (list,), ["Active", "Suspended"])
        if not statuses or not all(isinstance(x, str) for x in statuses):
            raise self.fail(
                f"{p}statuses", "must be a non-empty list of service statuses (strings)"
            )
        return SyncConfig(
            products=tuple(products),
            statuses=tuple(statuses),
            concurrency=self.positive(t, p, "concurrency", 8),
            per_server_concurrency=self.positive(t, p, "per_server_concurrency", 4),
            page_rows=self.page_rows(t, p),
            ignore_servers=tuple(ignored),
        )

    def store(self, t) -> StoreConfig:
        p = "store."
        keys = {"path", "detail_days", "url", "url_env", "password", "password_env", "timeout"}
        self.check_keys(t, p, keys)
        path = self.get(t, p, "path", (str,), None)
        url = self.store_url(t, p)
        if path and url:
            raise self.fail(f"{p}url", "give either path (SQLite) or url (PostgreSQL), not both")
        password = self.secret(t, p, "password", required=False)
        if password and not url:
            raise self.fail(f"{p}password", "a password is for a PostgreSQL url; none is set")
        return StoreConfig(
            path=Path(path).expanduser() if path else default_store_path(),
            detail_days=self.positive(t, p, "detail_days", 14),
            url=url,
            password=password,
            timeout=float(self.positive(t, p, "timeout", 5, (int, float))),
        )

    def store_url(self, t, p) -> str | None:
        """``[store] url`` or ``url_env``: a postgresql:// URL (a password in it is a secret: never
        echoed)."""
        if "url_env" not in t:
            url = self.get(t, p, "url", (str,), None)
            if url and urlsplit(url).password:
                self.literal_secrets.append(f"{p}url")
        elif "url" in t:
            raise self.fail(f"{p}url", "give either url or url_env, not both")
        else:
            url = self.secret(t, p, "url")
        if url is None:
            return None
        key = f"{p}url_env" if "url_env" in t else f"{p}url"
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            shown = f"{parts.scheme}://..." if parts.scheme else "no scheme"
            raise self.fail(key, f"must be a postgresql://user@host:port/database URL, got {shown}")
        if not unquote(parts.path.lstrip("/")):
            raise self.fail(key, "names no database: postgresql://user@host:port/DATABASE")
        return url

    def adapter(self, t) -> AdapterConfig:
        p = "adapter."
        self.check_keys(t, p, {"listen", "secret", "secret_env", "url", "max_body"})
        listen = self.get(t, p, "listen", (str,), "127.0.0.1:8750")
        try:
            split_listen(listen)
        except ValueError as err:
            raise self.fail(f"{p}listen", str(err)) from err
        secret = self.secret(t, p, "secret", required=False)
        if secret is not None and "change-me" in secret:
            raise self.fail(
                f"{p}secret",
                "still the example's placeholder: put a random secret there "
                "(`puq-bridge secret` makes one)",
            )
        if secret is not None and len(secret) < MIN_ADAPTER_SECRET:
            raise self.fail(
                f"{p}secret",
                f"too short ({len(secret)} characters): the shared secret signs every WHMCS call; "
                f"use at least {MIN_ADAPTER_SECRET} random characters "
                "(`puq-bridge secret` makes one)",
            )
        return AdapterConfig(
            listen=listen,
            secret=secret,
            url=self.url(t, p, "url", None),
            max_body=self.positive(t, p, "max_body", 1_048_576),
        )

    def render(self, t) -> RenderConfig:
        p = "render."
        self.check_keys(t, p, {"templates_dir", "stale_after_hours", "default_lang"})
        tdir = self.get(t, p, "templates_dir", (str,), None)
        if tdir and not Path(tdir).expanduser().is_dir():
            raise self.fail(f"{p}templates_dir", f"directory not found: {tdir}")
        templates_dir = Path(tdir).expanduser() if tdir else None
        lang = self.get(t, p, "default_lang", (str,), "en")
        if not has_catalog(lang, templates_dir):
            raise self.fail(
                f"{p}default_lang",
                f"no translations for {lang[:40]!r}: use pl or en, or a language "
                "whose i18n/<lang>.json is in [render] templates_dir",
            )
        return RenderConfig(
            templates_dir=templates_dir,
            stale_after_hours=float(self.positive(t, p, "stale_after_hours", 26, (int, float))),
            default_lang=lang,
        )
