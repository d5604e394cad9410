"""PLACEHOLDER: being implemented."""

import click


@click.command("sync-usage")
def sync_usage():
    """Sync mailbox usage from Zimbra into WHMCS (the cron job)."""
    raise click.ClickException("not implemented yet")
