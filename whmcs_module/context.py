"""What the adapter's functions work with: the config, Zimbra clients per server, the store, the
renderer, WHMCS."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING, Callable

from puq_bridge.config import Config, ZimbraConfig
from puq_bridge.whmcs.params import ServerParams
from puq_bridge.zimbra.preauth import DomainKeys

if TYPE_CHECKING:
    from puq_bridge.zimbra.client import ZimbraAdmin

log = logging.getLogger(__name__)


def default_zimbra_factory(entry: ZimbraConfig, pool_size: int | None = None) -> "ZimbraAdmin":
    """Build a :class:`~puq_bridge.zimbra.client.ZimbraAdmin` for one server (imports zeep), its
    connection pool sized for ``pool_size`` requests at once (default: requests' 10)."""
    from puq_bridge.zimbra.client import ZimbraAdmin

    return ZimbraAdmin.from_config(entry, pool_size=pool_size)


class AdapterContext:
    """Everything :func:`whmcs_module.adapter.dispatch` needs, built once per process.

    Args:
        config: the loaded configuration (``[[zimbra]]`` entries, ``[sync]``).
        store: a :class:`~puq_bridge.usage.store.UsageStore`, or ``None`` (ClientArea then always
            reads Zimbra live).
        renderer: a :class:`~puq_bridge.clientarea.render.Renderer` (made on first ClientArea when
            ``None``).
        whmcs: a :class:`~puq_bridge.whmcs.client.WhmcsClient` for SyncUsage and the gateways'
            names, or a callable returning one (UsageUpdate needs none: the forwarder reads and
            writes tblhosting).
        zimbra_factory: builds a ``ZimbraAdmin`` from a :class:`ZimbraConfig` (default: from the
            entry's fields).
        render_cache_seconds: how long a client-area page rendered from the store is reused (0:
            never).
        payment_methods_seconds: how long the gateways' display names from WHMCS are kept
            (``payment_methods``).
        threads: the adapter's worker threads (``serve --threads``): with a usage sync's readers
            (``[sync] per_server_concurrency``), how many requests may use one cached Zimbra client
            at once, which the default factory sizes its connection pool for. The sync never resizes
            a pool, as other threads share it.
    """

    def __init__(
        self,
        config: Config,
        *,
        store=None,
        renderer=None,
        whmcs=None,
        zimbra_factory: Callable[[ZimbraConfig], "ZimbraAdmin"] | None = None,
        render_cache_seconds: float = 60.0,
        payment_methods_seconds: float = 3600.0,
        threads: int = 8,
    ):
        from whmcs_module.payment_methods import PaymentMethodNames
        from whmcs_module.views import RenderCache

        self.config = config
        self.render_cache = RenderCache(render_cache_seconds)
        self.store = store
        self._renderer = renderer
        self._whmcs = whmcs
        self.payment_methods = PaymentMethodNames(lambda: self.whmcs, ttl=payment_methods_seconds)
        pool_size = threads + config.sync.per_server_concurrency
        self.zimbra_factory = zimbra_factory or (
            lambda entry: default_zimbra_factory(entry, pool_size)
        )
        self._clients: dict[tuple, "ZimbraAdmin"] = {}
        self._lock = threading.RLock()  # the addon state is built under it and reads the renderer
        #: where domains' preauth keys are made: one lock per domain for the whole process
        self.domain_keys = DomainKeys()
        from puq_bridge.selfservice import AddressLocks, PolicyCache

        #: self-service: COS password policies read from Zimbra, one lock per new address
        self.password_policies = PolicyCache()
        self.address_locks = AddressLocks()
        self._addon = None

    def entry_for(self, server: ServerParams) -> ZimbraConfig:
        """The ``[[zimbra]]`` entry for WHMCS's server (by id, else hostname), else one built from
        WHMCS's server fields (:meth:`~puq_bridge.whmcs.params.ServerParams.zimbra_entry`)."""
        entry = self.config.zimbra_for(server.server_id or None, server.hostname or None)
        return entry if entry is not None else server.zimbra_entry()

    def typed_entry(self, server: ServerParams) -> ZimbraConfig:
        """WHMCS's server as its form describes it (host, port, user, password), even when a
        ``[[zimbra]]`` entry serves it; the entry gives only its scheme, ``verify`` and timeout
        (:meth:`~puq_bridge.whmcs.params.ServerParams.zimbra_entry`). For TestConnection."""
        like = self.config.zimbra_for(server.server_id or None, server.hostname or None)
        return server.zimbra_entry(like=like)

    def zimbra(self, entry: ZimbraConfig) -> "ZimbraAdmin":
        """The one cached client of a server (keyed by name, URL, user and a hash of the
        password)."""
        digest = hashlib.sha256(entry.password.encode("utf-8")).hexdigest()
        key = (entry.name, entry.url, entry.admin_user, digest, str(entry.verify))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self.zimbra_factory(entry)
                log.debug("new Zimbra client for %s", entry.name)
            return client

    def zimbra_for(self, server: ServerParams) -> "ZimbraAdmin":
        """The cached client of WHMCS's server."""
        return self.zimbra(self.entry_for(server))

    @property
    def renderer(self):
        """The client-area renderer (built from ``[render]`` on first use)."""
        if self._renderer is None:
            from puq_bridge.clientarea.render import Renderer

            with self._lock:
                if self._renderer is None:
                    self._renderer = Renderer.from_config(self.config.render)
        return self._renderer

    @property
    def addon(self):
        """The addon page's jobs, checks and renderer (:class:`whmcs_module.addon.AddonState`),
        built on first use."""
        if self._addon is None:
            from whmcs_module.addon import AddonState

            with self._lock:
                if self._addon is None:
                    self._addon = AddonState(self)
        return self._addon

    @property
    def whmcs(self):
        """The WHMCS client, or ``None`` when the adapter runs without one."""
        if callable(self._whmcs) and not hasattr(self._whmcs, "call"):
            with self._lock:
                if callable(self._whmcs) and not hasattr(self._whmcs, "call"):
                    self._whmcs = self._whmcs()
        return self._whmcs

    def secrets(self) -> list[str]:
        """Secret values known to the context (for scrubbing messages)."""
        values = [
            self.config.whmcs.secret,
            self.config.whmcs.access_key,
            self.config.adapter.secret,
        ]
        values += [z.password for z in self.config.zimbra]
        return [v for v in values if v]

    def close(self) -> None:
        """Close every cached Zimbra client."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                client.close()
            except Exception:  # closing is best effort
                log.debug("closing a Zimbra client failed", exc_info=True)
