"""``puq-bridge demo``: glue over :func:`puq_bridge.demo.run.run_demo` (which imports zeep only when
it runs)."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import click

log = logging.getLogger(__name__)


@click.command("demo", short_help="Try the whole flow on built-in simulators.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("puq-bridge-demo"),
    show_default=True,
    help="Folder for the client-area pages and index.html (created if missing).",
)
@click.option(
    "--serve",
    is_flag=True,
    help=(
        "Afterwards keep the adapter, the simulators and the pages running on 127.0.0.1 and print "
        "their URLs, until Ctrl-C."
    ),
)
@click.option(
    "--write-config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --serve: write a config file (mode 0600, secrets inside) for the running demo, so "
    "check, services, users, sync-usage, render and cancel can be tried against it; the usage "
    "store is then kept beside it.",
)
def demo(out_dir: Path, serve: bool, config_file: Path | None) -> None:
    """Run the whole flow against built-in simulators: no WHMCS, Zimbra or network needed.

    Starts a simulated WHMCS and two simulated Zimbra servers on 127.0.0.1 with a sample of Polish
    and English clients and about 300 mailboxes, provisions the services through the adapter as
    WHMCS would (signed CreateAccount and SuspendAccount calls), lets the clients add mailboxes,
    runs sync-usage on several days of the last month, and writes both client-area tabs of every
    service in Polish and English to OUT as standalone pages with an index.html. Needs no config
    file."""
    from puq_bridge.demo.run import run_demo

    if config_file is not None and not serve:
        raise click.UsageError(
            "--write-config needs --serve: the config points at the running demo"
        )
    store_path = config_file.with_suffix(".sqlite3").resolve() if config_file else None
    report, env = run_demo(
        out_dir, serve=serve, store_path=store_path, echo=lambda line: click.echo(f"  {line}")
    )
    counts = ", ".join(f"{name} {n}" for name, n in report.requests.items())
    click.echo(f"requests answered: {counts}")
    click.echo(f"done in {report.duration_s:.1f} s; open {report.index.resolve()}")
    if env is None:
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)  # systemd, kill: stop as on Ctrl-C
    try:
        if config_file is not None:
            _write_private(config_file, env.config_toml())
            click.echo(
                f"config for the CLI: {config_file} (try: puq-bridge --config {config_file} check)"
            )
        click.echo("running (Ctrl-C stops):")
        for name, url in report.urls.items():
            click.echo(f"  {name:<8} {url}{_path_hint(name)}")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        env.stop()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (also over an existing file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)
        file.write(text)


def _path_hint(name: str) -> str:
    return {
        "whmcs": "/includes/api.php",
        "adapter": "/whmcs/<Function> (signed POSTs only)",
        "pages": "/index.html",
    }.get(name, "/service/admin/soap")
