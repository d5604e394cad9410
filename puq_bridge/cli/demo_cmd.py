"""``puq-bridge demo``: glue over :func:`puq_bridge.demo.run.run_demo` (which imports zeep only when
it runs)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import click

log = logging.getLogger(__name__)


@click.command("demo")
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
def demo(out_dir: Path, serve: bool) -> None:
    """Run the whole flow against built-in simulators: no WHMCS, Zimbra or network needed.

    Starts a simulated WHMCS and two simulated Zimbra servers on 127.0.0.1 with a sample of Polish
    and English clients and about 300 mailboxes, provisions the services through the adapter as
    WHMCS would (signed CreateAccount and SuspendAccount calls), lets the clients add mailboxes,
    runs sync-usage on several days of the last month, and writes both client-area tabs of every
    service in Polish and English to OUT as standalone pages with an index.html. Needs no config
    file."""
    from puq_bridge.demo.run import run_demo

    report, env = run_demo(out_dir, serve=serve, echo=lambda line: click.echo(f"  {line}"))
    counts = ", ".join(f"{name} {n}" for name, n in report.requests.items())
    click.echo(f"requests answered: {counts}")
    click.echo(f"done in {report.duration_s:.1f} s; open {report.index.resolve()}")
    if env is None:
        return
    try:
        click.echo("running (Ctrl-C stops):")
        for name, url in report.urls.items():
            click.echo(f"  {name:<8} {url}{_path_hint(name)}")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        env.stop()


def _path_hint(name: str) -> str:
    return {
        "whmcs": "/includes/api.php",
        "adapter": "/whmcs/<Function> (signed POSTs only)",
        "pages": "/index.html",
    }.get(name, "/service/admin/soap")
