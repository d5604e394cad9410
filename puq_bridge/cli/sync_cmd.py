"""``puq-bridge sync-usage``: the cron job that copies mailbox usage from Zimbra into WHMCS.

Output: ``--json`` prints the DESIGN.md document on stdout and nothing else. Otherwise, on a
terminal: a progress bar on stderr and a summary table on stdout; under cron (no terminal): one
summary line on stderr, plus one line per failed service. Exit codes: 0 all synced, 1 some failed, 2
configuration or usage error, 3 another run holds the lock.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import click

EXIT_LOCKED = 3


@click.command("sync-usage")
@click.option(
    "--dry-run", is_flag=True, help="Read everything, write nothing (neither WHMCS nor the store)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the run as one JSON document on stdout."
)
@click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="NAME",
    help="Only this [[zimbra]] entry (repeatable).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Servers read (and WHMCS writes made) at once (default: [sync] concurrency).",
)
@click.pass_context
def sync_usage(
    ctx: click.Context,
    dry_run: bool,
    as_json: bool,
    servers: tuple[str, ...],
    concurrency: int | None,
) -> None:
    """Sync mailbox usage from Zimbra into WHMCS (the cron job)."""
    from puq_bridge.errors import SyncLockedError
    from puq_bridge.usage.sync import SyncEngine

    app = ctx.obj
    cfg = app.config
    _check_servers(cfg, servers)
    clients: list = []

    def zimbra_factory(entry):
        client = app.zimbra(entry)
        clients.append(client)
        return client

    store = None if dry_run else app.store()
    engine = SyncEngine(
        app.whmcs(concurrency),
        cfg.zimbra,
        zimbra_factory,
        store=store,
        products=cfg.sync.products,
        statuses=cfg.sync.statuses,
        concurrency=concurrency or cfg.sync.concurrency,
        per_server_concurrency=cfg.sync.per_server_concurrency,
    )
    bar = _ProgressBar() if _interactive() else None
    try:
        report = engine.run(dry_run=dry_run, only_servers=list(servers) or None, progress=bar)
    except SyncLockedError as err:
        click.echo(f"error: {err}", err=True)
        ctx.exit(EXIT_LOCKED)
    finally:
        if bar is not None:
            bar.close()
        _close(clients, store)
    report.results = [
        replace(r, error=app.secret_filter.mask(r.error)) if r.error else r for r in report.results
    ]
    _print(report, as_json, interactive=bar is not None)
    ctx.exit(report.exit_code)


def _check_servers(cfg, servers: tuple[str, ...]) -> None:
    unknown = [name for name in servers if cfg.zimbra_named(name) is None]
    if unknown:
        known = ", ".join(z.name for z in cfg.zimbra) or "none"
        raise click.BadParameter(
            f"unknown server {', '.join(map(repr, unknown))} (configured: {known})",
            param_hint="'--server'",
        )


def _interactive() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _close(clients: list, store) -> None:
    for client in clients:
        close = getattr(client, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing sockets after the run: nothing left to report
                pass
    if store is not None:
        store.close()


def _print(report, as_json: bool, *, interactive: bool) -> None:
    from puq_bridge.cli import echo_json

    if as_json:
        echo_json(report.to_json())
        return
    if interactive:
        click.echo(summary_table(report))
        click.echo(summary_line(report))
        return
    click.echo(summary_line(report), err=True)
    for r in report.failed:
        click.echo(
            f"failed: service {r.service_id} ({r.domain or '-'} on {r.server or '-'}): {r.error}",
            err=True,
        )
    if report.store_error:
        click.echo(f"error: {report.store_error}", err=True)


def summary_line(report) -> str:
    """``sync-usage: 40 updated, 7 unchanged, 1 failed, 0 skipped in 1.8 s`` (with ``(dry run)``
    when it was one)."""
    counts = ", ".join(f"{n} {status}" for status, n in report.totals.items())
    dry = " (dry run: nothing written)" if report.dry_run else ""
    return f"sync-usage: {counts} in {report.duration_s:.1f} s{dry}"


def summary_table(report) -> str:
    """A plain-text table of every service's result, for a terminal."""
    from puq_bridge.usage.report import result_json

    header = ("service", "domain", "server", "mailboxes", "used MB", "limit MB", "status", "error")
    rows = [header]
    for r in report.results:
        j = result_json(r)
        limit = "unlimited" if j["limit_mb"] == 0 else j["limit_mb"]
        rows.append(
            tuple(
                "-" if v is None else str(v)
                for v in (
                    j["service_id"],
                    j["domain"] or None,
                    j["server"],
                    j["mailboxes"],
                    j["used_mb"],
                    limit,
                    j["status"],
                    j["error"],
                )
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows
    )


class _ProgressBar:
    """A click progress bar on stderr, created when the number of services is known (the first
    callback)."""

    def __init__(self):
        self._bar = None

    def __call__(self, result, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=total, label="sync-usage", file=sys.stderr, show_pos=True
            )
            self._bar.__enter__()
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
