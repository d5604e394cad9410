"""``puq-bridge render``: a service's client-area HTML on stdout.

The data is what the adapter serves: WHMCS's service and client, and the usage store's latest snapshot and history.
WHMCS's API does not return module settings: the product's total space and tenancy are what the adapter kept in the
store (unknown tenancy: ``domain``). When the store has no reading of what that tenancy covers (the service's domain,
or every mailbox of a private server), the usage is read live from the service's Zimbra (the ``[[zimbra]]`` entry for
its server); zeep is imported only then.
"""

from __future__ import annotations

import datetime as dt
import logging

import click

log = logging.getLogger(__name__)


@click.command("render")
@click.option("--service-id", type=int, required=True, help="WHMCS service id.")
@click.option(
    "--tab",
    type=click.Choice(["server-info", "resource-usage"]),
    default=None,
    help="Only this tab (default: both, as WHMCS's ClientArea shows them).",
)
@click.option(
    "--lang",
    type=click.Choice(["pl", "en"]),
    default=None,
    help="Language (default: from the client's WHMCS language).",
)
@click.option(
    "--page",
    is_flag=True,
    help="A standalone HTML page (stylesheet, tab switching) around both tabs.",
)
@click.pass_obj
def render(app, service_id: int, tab: str | None, lang: str | None, page: bool) -> None:
    """Print a service's client-area tabs as HTML."""
    from puq_bridge.clientarea.facts import facts_from_service
    from puq_bridge.clientarea.render import Renderer

    if page and tab:
        raise click.UsageError("--page shows both tabs; leave out --tab")
    config = app.config
    whmcs = app.whmcs()
    service = whmcs.service(service_id)
    client = whmcs.client_details(service.client_id)
    entry = config.zimbra_for(service.server_id, service.server_hostname)
    now = dt.datetime.now(dt.timezone.utc)
    snapshot, history, settings = _stored_usage(app, service_id, now)
    tenancy = "server" if settings.private_server else "domain"
    facts = facts_from_service(
        service, client, entry, product_total_bytes=settings.total_space_bytes
    )
    if snapshot is not None and snapshot.tenancy != tenancy:
        log.info(
            "service %s: the stored reading covers tenancy %s, the product's is %s: reading live",
            service_id,
            snapshot.tenancy,
            tenancy,
        )
        snapshot = None
    if snapshot is None:
        snapshot = _live_usage(app, service, entry, facts.total_space_bytes, tenancy, now)
    renderer = Renderer.from_config(config.render)
    if page:
        html = renderer.page(facts, snapshot, history, lang=lang, now=now)
    elif tab:
        html = renderer.tab(tab, facts, snapshot, history, lang=lang, now=now)
    else:
        html = renderer.client_area(facts, snapshot, history, lang=lang, now=now)
    click.echo(html)


def _stored_usage(app, service_id: int, now: dt.datetime):
    """(latest snapshot or None, history, the product settings the adapter kept) from the store; a store file that
    does not exist yet is not created."""
    from puq_bridge.usage.records import ServiceSettings

    store = app.existing_store()
    if store is None:
        return None, [], ServiceSettings()
    with store:
        settings = store.service_settings(service_id).get(service_id, ServiceSettings())
        return store.latest(service_id), store.history(service_id, now=now), settings


def _live_usage(app, service, entry, total_space_bytes: int | None, tenancy: str, now: dt.datetime):
    """A snapshot read from Zimbra now (the service's domain, or the whole server for tenancy ``server``, as the sync
    reads it), or None (with a warning) when there is no entry or the read fails."""
    from puq_bridge.usage.live import live_snapshot

    if entry is None:
        log.warning(
            "no usage stored for service %s and no [[zimbra]] entry for its server %s: showing no usage",
            service.id,
            service.server_hostname or service.server_id,
        )
        return None
    zimbra = app.zimbra(entry)
    try:
        return live_snapshot(
            zimbra,
            service.domain,
            service_id=service.id,
            tenancy=tenancy,
            total_space_bytes=total_space_bytes,
            now=now,
        )
    finally:
        zimbra.close()
