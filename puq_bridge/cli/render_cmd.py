"""``puq-bridge render``: a service's client-area HTML on stdout.

The data is what the adapter serves: WHMCS's service and client, and the usage store's latest
snapshot and history. WHMCS's API does not return module settings: the product's total space and
tenancy are what the adapter kept in the store (unknown tenancy: ``domain``). When the store has no
reading of what that tenancy covers (the service's domain, or every mailbox of a private server),
the usage is read live from the service's Zimbra (the ``[[zimbra]]`` entry for its server); zeep is
imported only then.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re

import click

log = logging.getLogger(__name__)


@click.command("render")
@click.option("--service-id", type=click.IntRange(min=1), required=True, help="WHMCS service id.")
@click.option(
    "--tab",
    type=click.Choice(["server-info", "resource-usage"]),
    default=None,
    help="Only this tab (default: both, as WHMCS's ClientArea shows them).",
)
@click.option(
    "--lang",
    default=None,
    metavar="LANG",
    help="Language: pl, en, or any catalog i18n/LANG.json (default: from the client's WHMCS "
    "language).",
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
    from puq_bridge.clientarea.reading import page_usage
    from puq_bridge.clientarea.render import Renderer

    if page and tab:
        raise click.UsageError("--page shows both tabs; leave out --tab")
    config = app.config
    renderer = Renderer.from_config(config.render)
    if lang is not None:
        _check_lang(renderer, lang)
    whmcs = app.whmcs()
    service = whmcs.service(service_id)
    client = whmcs.client_details(service.client_id)
    entry = config.zimbra_for(service.server_id, service.server_hostname)
    now = dt.datetime.now(dt.timezone.utc)
    with _existing_store(app) as store:
        settings = _kept_settings(store, service_id)
        tenancy = "server" if settings.private_server else "domain"
        facts = facts_from_service(
            service, client, entry, product_total_bytes=settings.total_space_bytes
        )
        usage = page_usage(
            store,
            service_id,
            tenancy,
            lambda: _live_usage(app, service, entry, facts.total_space_bytes, tenancy, now),
            now=now,
        )
    snapshot, history = usage.snapshot, usage.history
    if page:
        html = renderer.page(facts, snapshot, history, lang=lang, now=now)
    elif tab:
        html = renderer.tab(tab, facts, snapshot, history, lang=lang, now=now)
    else:
        html = renderer.client_area(facts, snapshot, history, lang=lang, now=now)
    click.echo(html)


def _check_lang(renderer, lang: str) -> None:
    """A usage error (exit 2) for a language without a catalog, before anything is asked of
    WHMCS."""
    if not re.fullmatch(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?", lang):
        raise click.BadParameter(
            f"{lang!r} is not a language code (e.g. pl, en)", param_hint="'--lang'"
        )
    try:
        renderer.catalog(lang)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="'--lang'") from None


@contextlib.contextmanager
def _existing_store(app):
    """The usage store, or ``None`` when it does not exist yet (it is not created here)."""
    store = app.existing_store()
    if store is None:
        yield None
        return
    with store:
        yield store


def _kept_settings(store, service_id: int):
    """The product settings the adapter kept for the service (defaults when none)."""
    from puq_bridge.usage.records import ServiceSettings

    if store is None:
        return ServiceSettings()
    return store.service_settings(service_id).get(service_id, ServiceSettings())


def _live_usage(app, service, entry, total_space_bytes: int | None, tenancy: str, now: dt.datetime):
    """A snapshot read from Zimbra now (the service's domain, or the whole server for tenancy
    ``server``, as the sync reads it), or None (with a warning) when there is no entry or the read
    fails."""
    from puq_bridge.usage.live import live_snapshot

    if entry is None:
        log.warning(
            "no usage stored for service %s and no [[zimbra]] entry for its server %s: "
            "showing no usage",
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
