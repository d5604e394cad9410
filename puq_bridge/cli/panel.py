"""PLACEHOLDER: being implemented."""

import click


@click.command("services")
def services():
    """A client's services."""
    raise click.ClickException("not implemented yet")


@click.command("users")
def users():
    """Account users and invites."""
    raise click.ClickException("not implemented yet")


@click.command("reset-password")
def reset_password():
    """Start WHMCS's password-reset e-mail."""
    raise click.ClickException("not implemented yet")


@click.command("cancel")
def cancel():
    """Request cancellation of a service."""
    raise click.ClickException("not implemented yet")
