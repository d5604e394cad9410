"""PLACEHOLDER: being implemented."""

import click


@click.command("demo")
def demo():
    """Run the whole flow against built-in simulators."""
    raise click.ClickException("not implemented yet")
