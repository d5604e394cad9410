"""``puq-bridge audit``: the mailbox actions a service's client asked for on its service page.

Every attempt is in the usage store (CreateMailbox, DeleteMailbox, …): when, the WHMCS user id
when known, the action, its target address, the result (``ok``, ``refused``, ``failed``) and
the reason. Passwords are never stored, so never shown.
"""

from __future__ import annotations

import click

from puq_bridge.cli import echo_json, json_option


@click.command("audit", short_help="Show the mailbox actions of a service's client.")
@click.option("--service-id", type=click.IntRange(min=1), required=True, help="WHMCS service id.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Newest N actions."
)
@json_option
@click.pass_obj
def audit(app, service_id: int, limit: int, as_json: bool) -> None:
    """Show a service's mailbox actions from its service page, newest first (from the store)."""
    store = app.store()
    try:
        actions = store.actions(service_id, limit=limit)
    finally:
        store.close()
    if as_json:
        echo_json({"service_id": service_id, "actions": [a.to_json() for a in actions]})
        return
    if not actions:
        click.echo(f"service {service_id}: no mailbox actions recorded")
        return
    for a in actions:
        user = f"user {a.user_id}" if a.user_id else "user -"
        detail = f"  ({a.detail})" if a.detail else ""
        click.echo(
            f"{a.acted_at:%Y-%m-%d %H:%M:%S} UTC  {user}  {a.action}  {a.target}  "
            f"{a.result}{detail}"
        )
