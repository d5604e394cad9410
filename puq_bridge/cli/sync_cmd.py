"""``puq-bridge sync-usage``: the cron job that copies mailbox usage from Zimbra into WHMCS.

Output: ``--json`` prints the DESIGN.md document on stdout and nothing else, also when the run
fails before it starts (then with an ``error`` field and no services). Otherwise, on a terminal: a
progress bar on stderr and a summary table on stdout; under cron (no terminal): one summary line on
stderr, plus one line per failed service; with ``-q``, nothing at all when every service synced.
Exit codes: :data:`EXIT_CODES`.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import click

EXIT_SOME_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_NOTHING_SYNCED = 1, 2, 3, 4
#: what each exit code of ``sync-usage`` means (also its ``--help``).
EXIT_CODES = {
    0: "every service was synced",
    EXIT_SOME_FAILED: "some services failed; the others were synced",
    EXIT_USAGE: "configuration or usage error; nothing was done",
    EXIT_LOCKED: "another run holds the lock; this run did nothing",
    EXIT_NOTHING_SYNCED: "nothing was synced: WHMCS could not be asked for the services",
}
_EPILOG = (
    "\b\nExit codes:\n"
    + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    + "\n\nOne run at a time: a run holds a lock next to the usage store until it ends."
)


@click.command("sync-usage", epilog=_EPILOG)
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
    from puq_bridge.errors import (
        ConfigError,
        PuqBridgeError,
        StoreUnavailable,
        SyncLockedError,
        WhmcsError,
    )

    app = ctx.obj
    try:
        report = _run(app, dry_run, servers, concurrency)
    except SyncLockedError as err:
        _stop(ctx, app, as_json, err, EXIT_LOCKED)
    except ConfigError as err:
        _stop(ctx, app, as_json, err, EXIT_USAGE)
    except click.BadParameter as err:
        if not as_json:
            raise
        _stop(ctx, app, as_json, f"{err.param_hint or 'option'}: {err.message}", EXIT_USAGE)
    except StoreUnavailable as err:  # like a config error: nothing was done, fix and rerun
        _stop(ctx, app, as_json, err, EXIT_USAGE)
    except WhmcsError as err:  # WHMCS could not list the services: nothing was synced
        _stop(ctx, app, as_json, err, EXIT_NOTHING_SYNCED)
    except PuqBridgeError as err:
        _stop(ctx, app, as_json, err, EXIT_SOME_FAILED)
    report.results = [
        replace(r, error=app.secret_filter.mask(r.error)) if r.error else r for r in report.results
    ]
    _print(report, as_json, interactive=_interactive(), quiet=app.verbosity < 0)
    ctx.exit(report.exit_code)


def _run(app, dry_run: bool, servers: tuple[str, ...], concurrency: int | None):
    """One sync run with the CLI's clients; closes them (and the store) at the end."""
    from puq_bridge.usage.sync import SyncEngine

    cfg = app.config
    _check_servers(cfg, servers)
    clients: list = []

    def zimbra_factory(entry):
        client = app.zimbra(entry)
        clients.append(client)
        return client

    store = None if dry_run else app.store()
    bar = _ProgressBar() if _interactive() else None
    try:
        engine = SyncEngine.from_config(
            cfg, app.whmcs(concurrency), zimbra_factory, store=store, concurrency=concurrency
        )
        return engine.run(dry_run=dry_run, only_servers=list(servers) or None, progress=bar)
    finally:
        if bar is not None:
            bar.close()
        _close(clients, store)


def _stop(ctx: click.Context, app, as_json: bool, err, code: int) -> None:
    """End a run that could not happen: one line on stderr, or under ``--json`` one document."""
    from puq_bridge.cli import echo_json

    message = app.secret_filter.mask(str(err))
    if as_json:
        totals = {"updated": 0, "unchanged": 0, "failed": 0, "skipped": 0}
        echo_json({"error": message, "exit_code": code, "totals": totals, "services": []})
    else:
        click.echo(f"error: {message}", err=True)
    ctx.exit(code)


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


def _print(report, as_json: bool, *, interactive: bool, quiet: bool) -> None:
    from puq_bridge.cli import echo_json

    if as_json:
        echo_json(report.to_json())
        return
    if quiet and report.exit_code == 0:  # cron mails whatever a job prints: nothing to say
        return
    if interactive:
        click.echo(summary_table(report))
        if report.servers:
            click.echo()
            click.echo(servers_table(report))
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


def servers_table(report) -> str:
    """A plain-text table of how each Zimbra server was read: its plan and why, the requests the
    run sent it (GetQuotaUsage among them), the rows read, and the requests it refused (HTTP
    503/429) and the bridge sent again."""
    header = ("server", "plan", "requests", "usage reads", "rows", "refused", "retried", "why")
    rows = [header]
    for s in report.servers:
        rows.append(
            (
                s.server,
                s.plan or "-",
                str(s.requests),
                str(s.usage_requests),
                str(s.rows),
                str(s.throttled),
                str(s.retries),
                s.why,
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
