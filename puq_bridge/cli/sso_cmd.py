"""``puq-bridge sso``: a one-time link that logs an operator in to a client's WHMCS client area.

WHMCS's CreateSsoToken makes the link (valid for one use, within 60 seconds): for the client's
owner, or for one of its users, to the client area's home page or to one service's page. The link
logs its holder in, so it is printed only on stdout, never logged.
"""

from __future__ import annotations

import click

from puq_bridge.cli import client_option, echo_json, json_option
from puq_bridge.errors import ParamsError

#: CreateSsoToken's destination for a service's page in the client area.
SERVICE_PAGE = "clientarea:product_details"


@click.command("sso", short_help="Print a one-time WHMCS client-area link for a client.")
@client_option
@click.option(
    "--user-id",
    type=click.IntRange(min=1),
    default=None,
    help="Log in as this user of the client (default: the client's owner).",
)
@click.option(
    "--service-id",
    type=click.IntRange(min=1),
    default=None,
    help="Open this service's page (it must be the client's) instead of the client area's home.",
)
@json_option
@click.pass_obj
def sso(app, client_id: int, user_id: int | None, service_id: int | None, as_json: bool) -> None:
    """Print a one-time link into a client's WHMCS client area (CreateSsoToken).

    The link logs its holder in as the client's owner (or --user-id) and opens the client area, or
    with --service-id that service's page. It works once, within 60 seconds: open it at once, and
    never paste it anywhere else."""
    whmcs = app.whmcs()
    if service_id is not None:
        service = whmcs.service(service_id)
        if service.client_id != client_id:
            raise ParamsError(
                f"service {service_id} belongs to client {service.client_id}, not {client_id}: "
                "nothing was made"
            )
    url = whmcs.create_sso_token(
        client_id=client_id,
        user_id=user_id,
        destination=SERVICE_PAGE if service_id is not None else None,
        service_id=service_id,
    )
    if as_json:
        echo_json(
            {
                "client_id": client_id,
                "user_id": user_id,
                "service_id": service_id,
                "url": url,
                "valid_seconds": 60,
            }
        )
        return
    click.echo(url)
    click.echo("one use, within 60 seconds", err=True)
