"""PLACEHOLDER: being implemented."""

import click


@click.command("render")
def render():
    """Print a client-area tab's HTML."""
    raise click.ClickException("not implemented yet")
