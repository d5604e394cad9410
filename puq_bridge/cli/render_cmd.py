"""``puq-bridge render``: a service's client-area HTML on stdout.

The data is what the adapter serves: WHMCS's service and client, and the usage store's latest snapshot and history.
When the store has nothing for the service yet, the usage is read live from the service's Zimbra (the
``[[zimbra]]`` entry for its server); zeep is imported only then.
"""

from __future__ import annotations

import datetime as dt
import logging

import click

log = logging.getLogger(__name__)


@click.command("render")
@click.option("--service-id", type=int, required=True, help="WHMCS service id.")
@click.option("--tab", type=click.Choice(["server-info", "resource-usage"]), default=None,
              help="Only this tab (default: both, as WHMCS's ClientArea shows them).")
@click.option("--lang", type=click.Choice(["pl", "en"]), default=None,
              help="Language (default: from the client's WHMCS language).")
@click.option("--page", is_flag=True, help="A standalone HTML page (stylesheet, tab switching) around both tabs.")
@click.pass_obj
def render(app, service_id: int, tab: str | None, lang: str | None, page: bool) -> None:
    """Print a service's client-area tabs as HTML."""
    from ..clientarea import facts_from_service
    from ..render import Renderer

    if page and tab:
        raise click.UsageError("--page shows both tabs; leave out --tab")
    config = app.config
    whmcs = app.whmcs()
    service = whmcs.service(service_id)
    client = whmcs.client_details(service.client_id)
    entry = config.zimbra_for(service.server_id, service.server_hostname)
    facts = facts_from_service(service, client, entry)
    now = dt.datetime.now(dt.timezone.utc)
    snapshot, history = _stored_usage(app, service_id, now)
    if snapshot is None:
        snapshot = _live_usage(app, service, entry, now)
    renderer = Renderer.from_config(config.render)
    if page:
        html = renderer.page(facts, snapshot, history, lang=lang, now=now)
    elif tab:
        html = renderer.tab(tab, facts, snapshot, history, lang=lang, now=now)
    else:
        html = renderer.client_area(facts, snapshot, history, lang=lang, now=now)
    click.echo(html)


def _stored_usage(app, service_id: int, now: dt.datetime):
    """(latest snapshot or None, history) from the store; a store file that does not exist yet is not created."""
    path = app.config.store.path
    if not path.exists():
        log.info("usage store %s does not exist yet", path)
        return None, []
    with app.store() as store:
        return store.latest(service_id), store.history(service_id, now=now)


def _live_usage(app, service, entry, now: dt.datetime):
    """A snapshot read from Zimbra now, or None (with a warning) when there is no entry or the read fails."""
    from ..errors import ZimbraError
    from ..store import Snapshot
    from ..usage import DomainUsage, total_space_from_options

    if entry is None:
        log.warning("no usage stored for service %s and no [[zimbra]] entry for its server %s: showing no usage",
                    service.id, service.server_hostname or service.server_id)
        return None
    zimbra = app.zimbra(entry)
    try:
        usage = DomainUsage.of(service.domain, zimbra.domain_usage(service.domain))
    except ZimbraError as err:
        log.warning("no usage stored for service %s and the live read failed: %s", service.id, err)
        return None
    finally:
        zimbra.close()
    limit = usage.limit_bytes(total_space_from_options(service.config_options))
    log.info("service %s: usage read live from %s (%d mailboxes)", service.id, entry.name, len(usage.mailboxes))
    return Snapshot(service_id=service.id, domain=service.domain, server=entry.name, taken_at=now,
                    used_bytes=usage.used_bytes, limit_bytes=limit, mailboxes=usage.mailboxes)
