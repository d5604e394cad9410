"""PLACEHOLDER: being implemented."""

import click


@click.command("check")
def check():
    """Authenticate against WHMCS and every Zimbra; exit 0 only if all answer."""
    raise click.ClickException("not implemented yet")
