"""``puq-bridge store``: the usage store's schema (``migrate``), moving a history (``copy``)."""

from __future__ import annotations

import os

import click


@click.group("store", short_help="The usage store: migrate it, or copy it to PostgreSQL.")
def store() -> None:
    """The usage store: migrate its schema, copy its history to another store.

    The store is [store] path (a SQLite file) or [store] url (a PostgreSQL database several bridge
    instances share)."""


@store.command("migrate")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON document.")
@click.pass_obj
def migrate(app, as_json: bool) -> None:
    """Bring the store's schema up to this version (every command does so on first use too)."""
    from puq_bridge.usage.schema import SCHEMA_VERSION

    with app.store() as opened:
        before, where = opened.migrated_from, opened.where
    if as_json:
        from puq_bridge.cli import echo_json

        echo_json({"store": where, "schema_version": SCHEMA_VERSION, "migrated_from": before})
        return
    change = "up to date" if before == SCHEMA_VERSION else f"migrated from version {before}"
    click.echo(f"usage store {where}: schema version {SCHEMA_VERSION} ({change})")


@store.command("copy")
@click.option(
    "--to",
    "destination",
    required=True,
    metavar="URL|PATH",
    help="Where to copy: postgresql://user@host:port/database (or a SQLite file).",
)
@click.option(
    "--password-env",
    metavar="NAME",
    default=None,
    help="Environment variable holding the destination's password (else the URL's, PGPASSWORD or "
    "~/.pgpass).",
)
@click.option(
    "--from",
    "source",
    metavar="URL|PATH",
    default=None,
    help="Where to copy from (default: the configured [store]).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON document.")
@click.pass_obj
def copy(
    app, destination: str, password_env: str | None, source: str | None, as_json: bool
) -> None:
    """Copy the usage history (runs, samples, mailboxes, daily rows, product settings) into another
    store.

    Idempotent: runs the destination already has are skipped, so it can be run again, e.g. once more
    right before switching the instances' [store] to the new database. The destination is migrated
    first."""
    from puq_bridge.usage.copy import copy_store
    from puq_bridge.usage.store import UsageStore

    password = _password(password_env)
    app.secret_filter.add([password, _url_password(destination), _url_password(source)])
    src = UsageStore(_location(source)) if source else app.store()
    try:
        with UsageStore(_location(destination, password)) as dst:
            if _same(src, dst):
                raise click.BadParameter(
                    "source and destination are the same store", param_hint="--to"
                )
            report = copy_store(src, dst)
            where = (src.where, dst.where)
    finally:
        src.close()
    if as_json:
        from puq_bridge.cli import echo_json

        echo_json({"from": where[0], "to": where[1], **report.to_json()})
        return
    click.echo(
        f"copied {report.runs} runs ({report.samples} samples, {report.mailboxes} mailboxes), "
        f"{report.daily} daily rows, {report.settings} product settings, {report.servers} server "
        f"statistics, {report.signons} sign-ons and {report.actions} client actions "
        f"from {where[0]} to {where[1]}; "
        f"{report.runs_present} runs were there already"
    )


def _password(name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise click.BadParameter(
            f"environment variable {name} is not set", param_hint="--password-env"
        )
    return value


def _url_password(location: str | None) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(location).password if location and "://" in location else None


def _location(text: str, password: str | None = None):
    from puq_bridge.usage.backends.base import is_postgres_url

    if is_postgres_url(text):
        from puq_bridge.usage.backends.postgres import PostgresBackend

        return PostgresBackend(text, password=password)
    if password:
        raise click.BadParameter(
            "a password is for a postgresql:// destination", param_hint="--password-env"
        )
    return os.path.expanduser(text)


def _same(a, b) -> bool:
    if a.path is not None and b.path is not None:
        return os.path.realpath(a.path) == os.path.realpath(b.path)
    return a.where == b.where
