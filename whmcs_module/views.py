"""The adapter's read side: ClientArea, AdminServicesTabFields, and the usage sync (UsageUpdate, SyncUsage).

ClientArea serves from the usage store; only when the store has nothing for the service yet (a new service, before
the first sync) is Zimbra read live. A private-server service (tenancy ``server``) lists the whole server, which the
per-domain store does not hold, so its page is always read live (one GetQuotaUsage for the server).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Mapping

from puq_bridge.errors import NoSuchDomain, ParamsError, PuqBridgeError
from puq_bridge.provisioning import ProductSettings, ServiceTarget, service_id
from puq_bridge.usage import DomainUsage, bytes_to_gb, percent

if TYPE_CHECKING:
    from .context import AdapterContext

log = logging.getLogger(__name__)

#: the Smarty template (relative to the module folder, without .tpl) and variable the forwarder's ClientArea uses.
CLIENTAREA_TEMPLATE = "templates/clientarea"
CLIENTAREA_VAR = "puqbridge_html"


def client_area_result(markup: str) -> dict:
    """The ClientArea return array that prints ``markup`` through the forwarder's template."""
    return {"templatefile": CLIENTAREA_TEMPLATE, "vars": {CLIENTAREA_VAR: markup}}


class RenderCache:
    """Recently rendered client-area HTML, keyed by everything the page shows (facts, stored reading, history).

    Rendering a 1,000-mailbox page costs far more than reading the store, and a client reloading the page sees the
    same reading until the next sync. Entries live ``seconds`` at most (the "stale data" notice depends on the
    clock), ``size`` entries are kept; thread-safe.
    """

    def __init__(self, seconds: float = 60.0, size: int = 256):
        self.seconds, self.size = seconds, size
        self._entries: OrderedDict[tuple, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, render: Callable[[], str]) -> str:
        """The cached HTML for ``key``, or ``render()`` (stored for next time)."""
        if self.seconds <= 0:
            return render()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.seconds:
                self._entries.move_to_end(key)
                return hit[1]
        markup = render()
        with self._lock:
            self._entries[key] = (now, markup)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return markup


def _cache_key(facts, snapshot, history) -> tuple:
    reading = (snapshot.service_id, snapshot.server, snapshot.taken_at, snapshot.used_bytes, snapshot.limit_bytes,
               len(snapshot.mailboxes), snapshot.error, snapshot.failed_at)
    return facts, reading, tuple(history)


def client_area(params: Mapping[str, Any], ctx: "AdapterContext") -> dict:
    """ClientArea: the two tabs (server information, resource usage) as HTML."""
    from puq_bridge.clientarea import facts_from_params

    entry = ctx.entry_for_params(params)
    settings = ProductSettings.from_params(params)
    target = ServiceTarget.from_params(params)
    facts = facts_from_params(params, entry)
    # WHMCS's params name the gateway by its module ("banktransfer"); the client knows it as "Bank Transfer".
    facts = dataclasses.replace(facts, payment_method=ctx.payment_methods.name(facts.payment_method))
    snapshot, history = None, []
    if ctx.store is not None and target.service_id is not None:
        if settings.tenancy == "domain":
            snapshot = ctx.store.latest(target.service_id)
        history = ctx.store.history(target.service_id)
    if snapshot is None:
        snapshot = live_snapshot(ctx, params, entry, settings, target, facts.total_space_bytes)
        return client_area_result(ctx.renderer.client_area(facts, snapshot, history))
    markup = ctx.render_cache.get(_cache_key(facts, snapshot, history),
                                  lambda: ctx.renderer.client_area(facts, snapshot, history))
    return client_area_result(markup)


def live_snapshot(ctx: "AdapterContext", params, entry, settings: ProductSettings, target: ServiceTarget,
                  total_space_bytes: int | None = None):
    """A store :class:`~puq_bridge.store.Snapshot` read from Zimbra now, or ``None`` when the read fails."""
    from puq_bridge.store import Snapshot

    zimbra = ctx.zimbra(entry)
    try:
        if settings.tenancy == "server":
            mailboxes = zimbra.quota_usage(None, all_servers=False).accounts
        else:
            mailboxes = zimbra.domain_usage(target.domain)
    except PuqBridgeError as err:
        log.warning("ClientArea for service %s: live read failed: %s", target.service_id, err)
        return None
    usage = DomainUsage.of(target.domain, mailboxes)
    total = total_space_bytes or settings.total_space_bytes
    return Snapshot(service_id=target.service_id, domain=target.domain, server=entry.name,
                    taken_at=dt.datetime.now(dt.timezone.utc), used_bytes=usage.used_bytes,
                    limit_bytes=usage.limit_bytes(total), mailboxes=usage.mailboxes, error=None, failed_at=None)


def admin_services_tab_fields(params: Mapping[str, Any], ctx: "AdapterContext") -> dict:
    """AdminServicesTabFields: domain status, mailbox count, usage and last sync (label → HTML-escaped value)."""
    target = ServiceTarget.from_params(params)
    entry = ctx.entry_for_params(params)
    zimbra = ctx.zimbra(entry)
    fields: dict[str, str] = {"Zimbra server": entry.name}
    try:
        fields["Mail domain status"] = zimbra.get_domain(target.domain).status
        fields["Mailboxes"] = str(zimbra.count_accounts(target.domain))
    except NoSuchDomain:
        fields["Mail domain status"] = f"domain {target.domain} does not exist"
    except PuqBridgeError as err:
        fields["Mail domain status"] = f"unknown: {err}"
    snapshot = ctx.store.latest(target.service_id) if ctx.store is not None and target.service_id else None
    fields.update(_usage_fields(snapshot))
    return {label: html.escape(value) for label, value in fields.items()}


def _usage_fields(snapshot) -> dict[str, str]:
    if snapshot is None:
        return {"Usage": "no data yet", "Last sync": "never"}
    share = percent(snapshot.used_bytes, snapshot.limit_bytes)
    limit = f"{bytes_to_gb(snapshot.limit_bytes):.1f} GB" if snapshot.limit_bytes else "unlimited"
    usage = f"{bytes_to_gb(snapshot.used_bytes):.1f} GB of {limit}"
    if share is not None:
        usage += f" ({share:.1f} %)"
    last = f"{snapshot.taken_at:%Y-%m-%d %H:%M} UTC, {len(snapshot.mailboxes)} mailboxes"
    if snapshot.error:
        failed = f"{snapshot.failed_at:%Y-%m-%d %H:%M} UTC: " if snapshot.failed_at else ""
        last += f"; last attempt failed {failed}{snapshot.error}"
    return {"Usage": usage, "Last sync": last}


def _engine(ctx: "AdapterContext", entry):
    from puq_bridge.sync import SyncEngine

    if ctx.whmcs is None:
        raise ParamsError("the usage sync needs the WHMCS API ([whmcs] in the config)")
    sync = ctx.config.sync
    return SyncEngine(ctx.whmcs, [entry], ctx.zimbra, store=ctx.store, products=sync.products,
                      statuses=sync.statuses, concurrency=sync.concurrency,
                      per_server_concurrency=sync.per_server_concurrency)


def usage_update(params: Mapping[str, Any], ctx: "AdapterContext") -> str:
    """UsageUpdate: the usage sync of the server WHMCS names (all its services)."""
    entry = ctx.entry_for_params(params)
    report = _engine(ctx, entry).run(only_servers=[entry.name])
    return _report_result(report, f"usage sync of {entry.name}")


def sync_usage(params: Mapping[str, Any], ctx: "AdapterContext") -> str:
    """SyncUsage (admin button): the usage sync of this one service."""
    sid = service_id(params)
    if sid is None:
        raise ParamsError("serviceid is missing")
    entry = ctx.entry_for_params(params)
    report = _engine(ctx, entry).run(only_services=[sid])
    if not report.to_json().get("services"):
        return f"usage sync of service {sid}: the service is not on Zimbra server {entry.name}"
    return _report_result(report, f"usage sync of service {sid}", skipped_fails=True)


def _report_result(report, what: str, *, skipped_fails: bool = False) -> str:
    services = report.to_json().get("services", [])
    bad = ("failed", "skipped") if skipped_fails else ("failed",)
    failed = [s for s in services if s.get("status") in bad]
    if not failed and report.exit_code == 0:
        return "success"
    if not failed:
        return f"{what}: failed; see the puq-bridge log"
    first = failed[0]
    return (f"{what}: {len(failed)} of {len(services)} services not synced "
            f"(service {first.get('service_id')}: {first.get('error')})")
