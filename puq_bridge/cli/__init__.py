"""The ``puq-bridge`` command line: glue over the library.

Commands live in small modules of this package and are imported only when run (or listed by
``--help``), and none of them imports zeep at module level, so start-up stays fast. Errors of the
library become one line on stderr here, in one place (:class:`PuqGroup`), with the traceback only
under ``-v``.
"""

from __future__ import annotations

import importlib
import logging
import sys
from functools import cached_property
from pathlib import Path

import click

from puq_bridge import __version__
from puq_bridge.errors import ConfigError, PuqBridgeError, StoreUnavailable
from puq_bridge.logs import SecretFilter, setup_logging

log = logging.getLogger(__name__)

#: command name -> "module:attribute" (relative to this package); loaded on demand.
COMMANDS = {
    "check": "check:check",
    "sync-usage": "sync_cmd:sync_usage",
    "services": "panel:services",
    "users": "panel:users",
    "reset-password": "panel:reset_password",
    "cancel": "panel:cancel",
    "sso": "sso_cmd:sso",
    "audit": "audit_cmd:audit",
    "render": "render_cmd:render",
    "serve": "serve_cmd:serve",
    "whmcs-module": "serve_cmd:whmcs_module",
    "demo": "demo_cmd:demo",
    "secret": "serve_cmd:new_secret",
    "store": "store_cmd:store",
}


class AppContext:
    """What every command gets as ``ctx.obj``: the config (loaded on first use) and factories for
    the clients."""

    def __init__(self, config_path: str | None, verbosity: int, secret_filter: SecretFilter):
        self.config_path = config_path
        self.verbosity = verbosity
        self.secret_filter = secret_filter

    @cached_property
    def config(self):
        """The loaded :class:`~puq_bridge.config.Config`; its secrets are registered with the log
        filter."""
        from puq_bridge.config import load_config

        cfg = load_config(self.config_path)
        self.secret_filter.add([cfg.whmcs.secret, cfg.whmcs.access_key, cfg.adapter.secret])
        self.secret_filter.add(z.password for z in cfg.zimbra)
        self.secret_filter.add(cfg.store.secrets)
        return cfg

    def whmcs(self, concurrency: int | None = None):
        """A :class:`~puq_bridge.whmcs.client.WhmcsClient` for ``[whmcs]``, its connection pool
        sized for a sync's ``concurrency`` writes at once (default ``[sync] concurrency``) plus one
        request beside them (the adapter's payment-method lookup)."""
        from puq_bridge.whmcs.client import WhmcsClient

        pool_size = (concurrency or self.config.sync.concurrency) + 1
        return WhmcsClient.from_config(self.config.whmcs, pool_size=pool_size)

    def zimbra(self, entry):
        """A :class:`~puq_bridge.zimbra.client.ZimbraAdmin` for one ``[[zimbra]]`` entry (imports
        zeep), its connection pool sized for a sync's readers of one server
        (``[sync] per_server_concurrency``)."""
        from puq_bridge.zimbra.client import ZimbraAdmin

        return ZimbraAdmin.from_config(entry, pool_size=self.config.sync.per_server_concurrency)

    def store(self, pool_size: int = 2):
        """The :class:`~puq_bridge.usage.store.UsageStore` of ``[store]``: the PostgreSQL database
        at ``url`` (``pool_size`` connections at most: ``serve`` asks for one per worker thread),
        else the SQLite file at ``path``; migrated on first use."""
        from puq_bridge.usage.store import UsageStore

        cfg = self.config.store
        location = cfg.path
        if cfg.url:
            from puq_bridge.usage.backends.postgres import PostgresBackend

            location = PostgresBackend(
                cfg.url, password=cfg.password, pool_size=pool_size, timeout=cfg.timeout
            )
        return UsageStore(location, detail_days=cfg.detail_days)

    def existing_store(self):
        """:meth:`store`, or ``None`` when it is a SQLite file that does not exist yet (no sync has
        run: reading commands do not create it)."""
        cfg = self.config.store
        if cfg.url is None and not cfg.path.exists():
            log.info("usage store %s does not exist yet", cfg.path)
            return None
        return self.store()


class PuqGroup(click.Group):
    """A click group whose commands are imported on demand and whose errors become one readable
    line."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except PuqBridgeError as err:
            obj = ctx.obj if isinstance(ctx.obj, AppContext) else None
            verbose = obj.verbosity > 0 if obj else False
            message = obj.secret_filter.mask(str(err)) if obj else str(err)
            if verbose:
                log.error("%s", message, exc_info=True)
            click.echo(f"error: {message}", err=True)
            ctx.exit(2 if isinstance(err, (ConfigError, StoreUnavailable)) else 1)


@click.group(
    cls=PuqGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="puq-bridge")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help=(
        "Config file (default: $PUQ_BRIDGE_CONFIG, ./puq-bridge.toml, "
        "~/.config/puq-bridge/config.toml, /etc/puq-bridge/config.toml)."
    ),
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output on stderr (-v info, -vv debug); tracebacks.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """puq-bridge: WHMCS <-> Zimbra provisioning, client-area tabs and usage sync."""
    verbosity = -1 if quiet else verbose
    secret_filter = SecretFilter()
    setup_logging(verbosity, secret_filter)
    ctx.obj = AppContext(config_path, verbosity, secret_filter)
    if ctx.invoked_subcommand is None:  # bare `puq-bridge`: the help, and no error
        click.echo(ctx.get_help())
        ctx.exit(0)


#: ``--json``: the command prints one JSON document (:func:`echo_json`) instead of its report.
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON document on stdout and nothing else there.",
)
#: ``--client-id``: a WHMCS client.
client_option = click.option(
    "--client-id", type=click.IntRange(min=1), required=True, help="WHMCS client id."
)


def echo_json(document) -> None:
    """Print one JSON document on stdout (dates as ISO strings, Decimals as strings)."""
    import json

    click.echo(json.dumps(document, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value):
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
