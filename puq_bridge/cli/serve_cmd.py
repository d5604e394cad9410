"""``serve`` (the adapter's HTTP service on waitress) and ``whmcs-module`` (write the PHP
forwarder)."""

from __future__ import annotations

import errno
import logging

import click

from puq_bridge.config import split_listen
from puq_bridge.errors import ConfigError
from puq_bridge.http import transport_warnings

log = logging.getLogger(__name__)


def _secret(config) -> str:
    if not config.adapter.secret:
        raise ConfigError(
            str(config.path or "config"),
            "adapter.secret",
            "no shared secret: set [adapter] secret_env (or secret) to the key "
            "the forwarder signs with",
        )
    return config.adapter.secret


def _host_port(value: str) -> tuple[str, int]:
    try:
        return split_listen(value)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--listen") from None


def _listen_problem(err: OSError) -> str:
    """Why a listening socket could not be opened, and what to do."""
    reasons = {
        errno.EADDRINUSE: "the address is already in use (another puq-bridge serve? `ss -ltnp`)",
        errno.EADDRNOTAVAIL: "this host has no such address (use 127.0.0.1 or one of its own)",
        errno.EACCES: "permission denied (ports under 1024 need privileges: use 8750)",
    }
    return reasons.get(err.errno, err.strerror or str(err))


@click.command("serve", short_help="Run the adapter that answers WHMCS's module calls.")
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Address to listen on (default: [adapter] listen, 127.0.0.1:8750).",
)
@click.option(
    "--threads", type=click.IntRange(1, 256), default=8, show_default=True, help="Worker threads."
)
@click.pass_obj
def serve(app, listen: str | None, threads: int) -> None:
    """Run the adapter's HTTP service that WHMCS's forwarder calls (waitress; every request
    HMAC-signed)."""
    from whmcs_module.context import AdapterContext
    from whmcs_module.http import AdapterServer, make_app

    config = app.config
    secret = _secret(config)
    host, port = _host_port(listen or config.adapter.listen)
    store = app.store(pool_size=threads + 1)  # one connection per worker, one for /healthz
    ctx = AdapterContext(config, store=store, whmcs=app.whmcs, threads=threads)  # pools sized
    try:
        server = AdapterServer(
            make_app(ctx, secret, max_body=config.adapter.max_body),
            host,
            port,
            threads=threads,
            max_body=config.adapter.max_body,
        )
    except OSError as err:
        ctx.close()
        store.close()
        raise ConfigError(
            str(config.path or "config"),
            "adapter.listen" if listen is None else None,
            f"cannot listen on {host}:{port}: {_listen_problem(err)}",
        ) from err
    click.echo(
        f"puq-bridge adapter listening on {server.url} ({threads} threads; -v logs each request)",
        err=True,
    )
    try:
        server.serve_forever()  # SIGTERM or Ctrl-C: the calls in flight finish first
        click.echo("stopped", err=True)
    finally:
        ctx.close()
        store.close()


@click.command("whmcs-module", short_help="Write the WHMCS module files (PHP forwarder).")
@click.option(
    "--name", required=True, help="Module name: the folder modules/servers/NAME ([a-z][a-z0-9]*)."
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="Where to write modules/servers/NAME/ (copy DIR/modules into the WHMCS root).",
)
@click.option(
    "--bridge-url",
    default=None,
    metavar="URL",
    help="URL the forwarder posts to (default: [adapter] url, else http://<[adapter] listen>).",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 600),
    default=30,
    show_default=True,
    help="Seconds the forwarder waits for the bridge.",
)
@click.pass_obj
def whmcs_module(app, name: str, out_dir: str, bridge_url: str | None, timeout: int) -> None:
    """Write the WHMCS forwarder module files (NAME.php, its client-area template, NAME.config.php
    mode 0600)."""
    from whmcs_module.forwarder import check_name, write_forwarder

    try:
        check_name(name)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--name") from None
    config = app.config
    secret = _secret(config)
    url = bridge_url or config.adapter.bridge_url
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if host in ("0.0.0.0", "::", ""):
        raise click.BadParameter(
            f"{url} is not an address WHMCS can reach; give --bridge-url or [adapter] url",
            param_hint="--bridge-url",
        )
    try:
        paths = write_forwarder(name, out_dir, url, secret, timeout=timeout)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--bridge-url") from None
    for path in paths:
        click.echo(str(path))
    for warning in transport_warnings("the bridge", url):
        log.warning("%s (service passwords and the Zimbra server passwords go this way)", warning)
    click.echo(
        f"forwarder for {url} written; copy {out_dir}/modules into the WHMCS root and make "
        f"{paths[-1].name} readable by the web server user only",
        err=True,
    )


@click.command("secret", short_help="Print a new random shared secret for [adapter].")
def new_secret() -> None:
    """Print a new random shared secret (43 characters, 256 bits) for [adapter] secret_env.

    Put it into secrets.env (PUQ_BRIDGE_SECRET=...), then regenerate the WHMCS module so the
    forwarder signs with it."""
    import secrets

    click.echo(secrets.token_urlsafe(32))
