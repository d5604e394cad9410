"""The adapter's read side: ClientArea, AdminServicesTabFields, and the usage sync (UsageUpdate,
SyncUsage).

ClientArea serves from the usage store; only when the store has nothing for the service yet (a new
service, before the first sync) is Zimbra read live. A private-server service (tenancy ``server``)
lists the whole server: the sync stores that once it knows the tenancy (kept here,
:func:`remember_settings`); until then, or when the stored reading covers something else than the
product's tenancy now asks for, the page is read live (one GetQuotaUsage).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Mapping

from puq_bridge.errors import NoSuchDomain, ParamsError, PuqBridgeError, StoreError
from puq_bridge.units import bytes_to_gb, bytes_to_mb, percent
from puq_bridge.whmcs.params import ModuleParams, ProductSettings

if TYPE_CHECKING:
    from whmcs_module.context import AdapterContext

log = logging.getLogger(__name__)

#: the Smarty template (relative to the module folder, without .tpl) and variable the forwarder's
#: ClientArea uses.
CLIENTAREA_TEMPLATE = "templates/clientarea"
CLIENTAREA_VAR = "puqbridge_html"


def client_area_result(markup: str) -> dict:
    """The ClientArea return array that prints ``markup`` through the forwarder's template."""
    return {"templatefile": CLIENTAREA_TEMPLATE, "vars": {CLIENTAREA_VAR: markup}}


class RenderCache:
    """Recently rendered client-area HTML, keyed by everything the page shows (facts, stored
    reading, history).

    Rendering a 1,000-mailbox page costs far more than reading the store, and a client reloading the
    page sees the same reading until the next sync. Entries live ``seconds`` at most (the "stale
    data" notice depends on the clock), ``size`` entries are kept; thread-safe.
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

    def clear(self) -> None:
        """Forget every page (a client changed its mailboxes: the next page shows the change)."""
        with self._lock:
            self._entries.clear()


def _cache_key(facts, snapshot, history) -> tuple:
    reading = (
        snapshot.service_id,
        snapshot.server,
        snapshot.taken_at,
        snapshot.used_bytes,
        snapshot.limit_bytes,
        len(snapshot.mailboxes),
        snapshot.error,
        snapshot.failed_at,
    )
    return facts, reading, tuple(history)


def client_area(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """ClientArea: the two tabs (server information, resource usage) as HTML.

    Reads only what the page shows: the service, its server and client, and the product's total
    space and tenancy (a malformed setting the page does not use never breaks it).
    """
    from puq_bridge.clientarea.facts import facts_from_params
    from puq_bridge.clientarea.reading import page_usage
    from puq_bridge.usage.live import live_snapshot

    entry = ctx.entry_for(params.server)
    facts = facts_from_params(params, entry)
    tenancy = params.product.tenancy
    remember_settings(ctx, facts.service_id, params.product, params.options)
    # WHMCS's params name the gateway by its module ("banktransfer"); the client knows it as
    # "Bank Transfer".
    facts = dataclasses.replace(
        facts, payment_method=ctx.payment_methods.name(facts.payment_method)
    )

    def read_live():
        return live_snapshot(
            ctx.zimbra(entry),
            facts.domain,
            service_id=facts.service_id,
            tenancy=tenancy,
            total_space_bytes=facts.total_space_bytes,
        )

    usage = page_usage(ctx.store, facts.service_id, tenancy, read_live)
    snapshot, history = usage.snapshot, usage.history
    options = page_options(params, facts.status, tenancy)
    if usage.live:
        return client_area_result(
            ctx.renderer.client_area(facts, snapshot, history, options=options)
        )
    markup = ctx.render_cache.get(
        (*_cache_key(facts, snapshot, history), options),
        lambda: ctx.renderer.client_area(facts, snapshot, history, options=options),
    )
    return client_area_result(markup)


def page_options(params: ModuleParams, status: str, tenancy: str):
    """The page's sign-on buttons and mailbox limit, from the service's status and the product's
    settings 2 and 8; a malformed one of those two is logged and shown as not set (the page does
    not fail for it)."""
    from puq_bridge.clientarea.options import PageOptions

    try:
        max_mailboxes = params.product.max_mailboxes
    except ParamsError as err:
        log.warning("service %s: %s; no mailbox limit shown", params.service_id_text, err)
        max_mailboxes = 0
    try:
        mailbox_signon = params.product.mailbox_signon
    except ParamsError as err:
        log.warning("service %s: %s; no mailbox sign-on offered", params.service_id_text, err)
        mailbox_signon = False
    return PageOptions.for_service(
        status=status, tenancy=tenancy, mailbox_signon=mailbox_signon, max_mailboxes=max_mailboxes
    )


def remember_settings(
    ctx: "AdapterContext",
    sid: int | None,
    settings: ProductSettings,
    options: Mapping[str, str] | None = None,
) -> None:
    """Keep the service's total space and the product's tenancy (setting 6) for the sync and the
    ``render`` command (WHMCS's API never gives them module settings); called wherever WHMCS sends
    module params. A malformed setting 3 or 6 raises :class:`ParamsError` naming it.

    The total space kept is the one rule's (:func:`~puq_bridge.usage.model.service_total_space`):
    the client's configurable option "Total space…" when ``options`` has one, else setting 3. The
    API's sync applies the option it lists on top, so both agree; WHMCS's UsageUpdate, which lists
    services from ``tblhosting`` without their options, gets the client's choice from here.

    Best effort otherwise: a store that cannot be written is logged and does not fail the call.
    """
    from puq_bridge.usage.model import service_total_space

    total = service_total_space(options, settings.total_space_bytes)
    tenancy = settings.tenancy
    if ctx.store is None or sid is None:
        return
    try:
        if ctx.store.remember_settings(sid, total, tenancy):
            log.info(
                "service %s: product total space now %s bytes, tenancy %s",
                sid,
                total or "not set",
                tenancy,
            )
    except StoreError as err:
        log.warning("service %s: could not remember the product settings: %s", sid, err)


def admin_services_tab_fields(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """AdminServicesTabFields: domain status, mailbox count, usage and last sync (label →
    plain-text value).

    The values carry server messages: :func:`~whmcs_module.adapter.dispatch` masks secrets in them
    and then HTML-escapes them, in that order (escaping first would hide a secret with ``&``, ``<``
    or ``"`` from the mask).
    """
    target = params.target
    entry = ctx.entry_for(params.server)
    zimbra = ctx.zimbra(entry)
    fields: dict[str, str] = {"Zimbra server": entry.name}
    try:
        fields["Mail domain status"] = zimbra.get_domain(target.domain).status
        fields["Mailboxes"] = str(zimbra.count_accounts(target.domain))
    except NoSuchDomain:
        fields["Mail domain status"] = f"domain {target.domain} does not exist"
    except PuqBridgeError as err:
        fields["Mail domain status"] = f"unknown: {err}"
    snapshot = (
        ctx.store.latest(target.service_id) if ctx.store is not None and target.service_id else None
    )
    fields.update(_usage_fields(snapshot))
    return fields


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
    from puq_bridge.usage.sync import SyncEngine

    if ctx.whmcs is None:
        raise ParamsError("the usage sync needs the WHMCS API ([whmcs] in the config)")
    return SyncEngine.from_config(
        ctx.config, ctx.whmcs, ctx.zimbra, store=ctx.store, servers=[entry]
    )


def usage_update(params: ModuleParams, ctx: "AdapterContext") -> dict:
    """UsageUpdate (WHMCS's daily cron, once per server): the usage of the services the forwarder
    read from ``tblhosting``, read as the sync reads it and recorded in the store like a sync run.

    Returns ``{"services": [{"id", "diskusage", "disklimit"}], "message": ...}``: the figures (whole
    MB) of every service that was read, for the forwarder to write with ``lastupdate`` in one pass
    (a service whose read failed is not in the list: it keeps its figures), and ``"success"`` or
    what failed. Needs no WHMCS API credentials.
    """
    from puq_bridge.usage.sync import SyncEngine

    rows = params.hosting
    entry = ctx.entry_for(params.server)
    engine = SyncEngine.from_config(ctx.config, None, ctx.zimbra, store=ctx.store, servers=[entry])
    report = engine.run_listed(rows)
    figures = [
        {
            "id": r.service_id,
            "diskusage": bytes_to_mb(r.used_bytes),
            "disklimit": bytes_to_mb(r.limit_bytes or 0),
        }
        for r in report.results
        if r.has_data and r.status in ("updated", "unchanged")
    ]
    log.info(
        "UsageUpdate of %s: %d services from tblhosting, %s", entry.name, len(rows), report.totals
    )
    return {"services": figures, "message": _report_result(report, f"usage update of {entry.name}")}


def sync_usage(params: ModuleParams, ctx: "AdapterContext") -> str:
    """SyncUsage (admin button): the usage sync of this one service."""
    sid = params.require_service_id()
    entry = ctx.entry_for(params.server)
    remember_settings(ctx, sid, params.product, params.options)
    report = _engine(ctx, entry).run(only_services=[sid], origin="SyncUsage")
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
    return (
        f"{what}: {len(failed)} of {len(services)} services not synced "
        f"(service {first.get('service_id')}: {first.get('error')})"
    )
