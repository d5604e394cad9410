"""Operator commands for the client-panel flows: ``services``, ``users``, ``reset-password``,
``cancel``.

Each command parses its options, makes the WHMCS calls, and prints a short report or, with
``--json``, one JSON document on stdout. WHMCS's own refusals ("Existing Cancellation Request
Exists", "User already associated with client") are raised as :class:`~puq_bridge.errors.WhmcsError`
and become one ``error:`` line (exit 1) in the central handler of :mod:`puq_bridge.cli`.
"""

from __future__ import annotations

import logging
import re

import click

from puq_bridge.cli import client_option, echo_json, json_option
from puq_bridge.cli.panel_views import client_doc, service_doc, service_lines, user_doc, user_line

log = logging.getLogger(__name__)

END_OF_PERIOD = "end-of-billing-period"
IMMEDIATE = "immediate"

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _email(ctx, param, value: str) -> str:
    """An e-mail address, or a usage error (exit 2) before anything is sent to WHMCS."""
    text = (value or "").strip()
    if not _EMAIL_RE.fullmatch(text):
        raise click.BadParameter(f"not an e-mail address: {value!r}")
    return text


def parse_permissions(value: str, valid: list[str], param_hint: str) -> list[str]:
    """``all`` or a comma list of WHMCS permission names → the list to send.

    Names are matched case-insensitively against ``valid`` (GetPermissionsList); ``all`` is every
    valid name.

    Raises:
        click.BadParameter: empty list, or a name WHMCS does not know (named, with the valid ones
            listed).
    """
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter(
            "give 'all' or a comma-separated list of permissions", param_hint=param_hint
        )
    if names == ["all"]:
        return list(valid)
    known = {v.lower(): v for v in valid}
    unknown = [n for n in names if n not in known]
    if unknown:
        what = "unknown permission" + ("s" if len(unknown) > 1 else "")
        raise click.BadParameter(
            f"{what} {', '.join(unknown)} (valid: all, {', '.join(valid)})", param_hint=param_hint
        )
    return list(dict.fromkeys(known[n] for n in names))


# --- services -------------------------------------------------------------------------------------


@click.command("services")
@client_option
@json_option
@click.pass_obj
def services(app, client_id: int, as_json: bool) -> None:
    """A client's services, billing and latest usage.

    For each service: product, domain, status, registration and next due date, billing cycle,
    recurring amount, payment method, and the latest mailbox usage recorded by sync-usage
    (used/limit, "unlimited" for no limit, and when it was taken; "no data yet" before the first
    sync). The service password is never shown."""
    whmcs = app.whmcs()
    client = whmcs.client_details(client_id)
    rows = list(whmcs.client_products(client_id=client_id))
    snapshots = _latest_usage(app, [s.id for s in rows])
    if as_json:
        echo_json(
            {
                "client": client_doc(client),
                "services": [service_doc(s, snapshots.get(s.id)) for s in rows],
            }
        )
        return
    from puq_bridge.clientarea.render import Renderer

    fmt = Renderer.from_config(app.config.render).catalog("en")
    name = f"{client.firstname} {client.lastname}".strip()
    company = f" ({client.companyname})" if client.companyname else ""
    click.echo(f"Client #{client.id}: {name}{company} <{client.email}>, {len(rows)} service(s)")
    for service in rows:
        lines = service_lines(service, snapshots.get(service.id), client.currency_code, fmt)
        click.echo("\n".join(lines))


def _latest_usage(app, service_ids: list[int]) -> dict:
    """The store's newest snapshot per service; an absent store file means no sync has run (and is
    not created)."""
    store = app.existing_store() if service_ids else None
    if store is None:
        return {}
    try:
        return {sid: store.latest(sid) for sid in service_ids}
    finally:
        store.close()


# --- users ----------------------------------------------------------------------------------------


@click.group("users", short_help="Account users: list, invite, permissions, remove.")
def users() -> None:
    """Account users: list, invite, permissions.

    The people who may manage a client's services in the WHMCS client area."""


@users.command("list")
@client_option
@json_option
@click.pass_obj
def users_list(app, client_id: int, as_json: bool) -> None:
    """List a client's users (the owner is marked).

    An unknown client is an error (exit 1), as for 'services', not an empty list."""
    whmcs = app.whmcs()
    whmcs.client_details(client_id)  # "Client Not Found" is WHMCS's error, not "0 users"
    found = whmcs.client_users(client_id)
    if as_json:
        echo_json({"client_id": client_id, "users": [user_doc(u, client_id) for u in found]})
        return
    click.echo(f"Users of client #{client_id}: {len(found)}")
    for user in found:
        click.echo(user_line(user, client_id))


@users.command("invite")
@client_option
@click.option("--email", required=True, callback=_email, help="Address the invitation is sent to.")
@click.option(
    "--permissions",
    metavar="all|p1,p2",
    default="all",
    show_default=True,
    help="'all', or a comma list of WHMCS permission names (checked against GetPermissionsList).",
)
@json_option
@click.pass_obj
def users_invite(app, client_id: int, email: str, permissions: str, as_json: bool) -> None:
    """Invite someone to manage a client's services.

    WHMCS e-mails the invitation (valid 7 days). An unknown permission name is a usage error
    (exit 2) that lists the valid ones, and no invitation is sent."""
    whmcs = app.whmcs()
    chosen = parse_permissions(permissions, whmcs.permissions_list(), "'--permissions'")
    whmcs.create_client_invite(client_id, email, chosen)
    if as_json:
        echo_json({"client_id": client_id, "email": email, "permissions": chosen, "invited": True})
        return
    click.echo(f"Invited {email} to client #{client_id} with permissions: {', '.join(chosen)}")


@users.command("permissions")
@client_option
@click.option(
    "--user-id", type=click.IntRange(min=1), required=True, help="WHMCS user id (see 'users list')."
)
@click.option(
    "--set",
    "new",
    metavar="all|p1,p2",
    default=None,
    help=(
        "Replace the user's permissions with these ('all' or a comma list); without it, show them."
    ),
)
@json_option
@click.pass_obj
def users_permissions(app, client_id: int, user_id: int, new: str | None, as_json: bool) -> None:
    """Show or set a user's permissions.

    Without --set, print what the user may do for the client; with --set, replace it (names are
    checked against GetPermissionsList first). WHMCS refuses to set the owner's permissions."""
    whmcs = app.whmcs()
    if new is None:
        current = whmcs.user_permissions(user_id, client_id)
    else:
        current = parse_permissions(new, whmcs.permissions_list(), "'--set'")
        whmcs.update_user_permissions(user_id, client_id, current)
    if as_json:
        echo_json(
            {
                "client_id": client_id,
                "user_id": user_id,
                "permissions": current,
                "changed": new is not None,
            }
        )
        return
    verb = "now has" if new is not None else "has"
    click.echo(
        f"User #{user_id} {verb} permissions for client #{client_id}: "
        f"{', '.join(current) or '(none)'}"
    )


@users.command("remove")
@client_option
@click.option(
    "--user-id", type=click.IntRange(min=1), required=True, help="WHMCS user id (see 'users list')."
)
@json_option
@click.pass_obj
def users_remove(app, client_id: int, user_id: int, as_json: bool) -> None:
    """Take a user's access to a client away.

    Sends WHMCS DeleteUserClient: the user keeps their login and any other accounts; only the link
    to this client goes (undo it with 'users invite'). WHMCS refuses to remove the account owner."""
    app.whmcs().delete_user_client(user_id, client_id)
    if as_json:
        echo_json({"client_id": client_id, "user_id": user_id, "removed": True})
        return
    click.echo(f"User #{user_id} no longer has access to client #{client_id}")


# --- reset-password -------------------------------------------------------------------------------


@click.command("reset-password")
@click.option("--email", required=True, callback=_email, help="The user's login e-mail address.")
@json_option
@click.pass_obj
def reset_password(app, email: str, as_json: bool) -> None:
    """Start WHMCS's password-reset e-mail.

    WHMCS e-mails the user a link to choose a new password; nothing is changed until they follow
    it."""
    app.whmcs().reset_password(email=email)
    if as_json:
        echo_json({"email": email, "reset_email_sent": True})
        return
    click.echo(f"WHMCS sent a password-reset e-mail to {email}")


# --- cancel ---------------------------------------------------------------------------------------


@click.command("cancel")
@click.option("--service-id", type=click.IntRange(min=1), required=True, help="WHMCS service id.")
@click.option(
    "--when",
    type=click.Choice([END_OF_PERIOD, IMMEDIATE]),
    default=END_OF_PERIOD,
    show_default=True,
    help="Terminate at the end of the paid period, or at WHMCS's next cron run.",
)
@click.option("--reason", default="", help="Reason recorded with the request.")
@click.option("--yes", "-y", is_flag=True, help="Confirm without asking (for scripts).")
@json_option
@click.pass_obj
def cancel(app, service_id: int, when: str, reason: str, yes: bool, as_json: bool) -> None:
    """Request cancellation of a service.

    Sends WHMCS AddCancelRequest. At termination every mailbox and all mail of the service's domain
    is deleted. The service is looked up first and the domain named; then the command asks for
    confirmation on stderr and reads the answer from stdin. A script passes --yes (or pipes "y");
    when stdin ends without an answer (cron, /dev/null) nothing is requested and the exit code is
    1."""
    whmcs = app.whmcs()
    service = whmcs.service(service_id)
    click.echo(_cancel_warning(service, when), err=True)
    if not yes:
        _confirm_or_exit("Request this cancellation?")
    whmcs.add_cancel_request(service_id, immediate=when == IMMEDIATE, reason=reason)
    type_ = "Immediate" if when == IMMEDIATE else "End of Billing Period"
    if as_json:
        echo_json(
            {
                "service_id": service.id,
                "domain": service.domain,
                "product": service.product_name,
                "type": type_,
                "reason": reason,
                "next_due_date": service.next_due_date,
                "requested": True,
            }
        )
        return
    click.echo(
        f"Cancellation requested for service #{service.id} "
        f"({service.domain or service.product_name}): {type_}"
    )


def _cancel_warning(service, when: str) -> str:
    """The plain statement of what the cancellation will delete, and when."""
    domain = service.domain or "(no domain)"
    if when == IMMEDIATE:
        moment = "at WHMCS's next cron run"
    else:
        due = service.next_due_date.isoformat() if service.next_due_date else "unknown"
        moment = f"at the end of the billing period (next due date {due})"
    return (
        f"Service #{service.id} {service.product_name} for {domain} [{service.status}] will be "
        f"terminated {moment}.\nAt termination ALL mailboxes and ALL mail of the domain {domain} "
        "are deleted; this cannot be undone."
    )


def _confirm_or_exit(question: str) -> None:
    """Ask on stderr, read the answer from stdin; anything but yes exits 1 with one line (nothing
    was sent)."""
    ctx = click.get_current_context()
    try:
        confirmed = click.confirm(question, default=False, err=True)
    except click.Abort:
        click.echo(err=True)  # end the unanswered prompt's line
        click.echo(
            "error: not confirmed (no answer on stdin): nothing requested; pass --yes to confirm "
            "from a script",
            err=True,
        )
        ctx.exit(1)
    if not confirmed:
        click.echo("error: not confirmed: nothing requested", err=True)
        ctx.exit(1)
