"""PLACEHOLDER: being implemented."""

import click


@click.command("serve")
def serve():
    """Run the adapter's HTTP service."""
    raise click.ClickException("not implemented yet")


@click.command("whmcs-module")
def whmcs_module():
    """Write the WHMCS forwarder module files."""
    raise click.ClickException("not implemented yet")
