"""``puq-bridge check``: can the bridge reach and log in to WHMCS and every configured Zimbra?

WHMCS is asked for its server list (GetServers: a small read that needs nothing but a valid API
credential and is an action the bridge itself uses); each Zimbra authenticates and answers
GetVersionInfo. All targets are checked at the same time, one line each, and the exit code is 0 only
when every one answered.
"""

from __future__ import annotations

import importlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable

import click

from puq_bridge.cli import echo_json, json_option
from puq_bridge.errors import PuqBridgeError

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """The outcome for one target: ``ok`` with ``detail`` (version, server count), or the ``error``
    line."""

    kind: str  # "whmcs" | "zimbra"
    name: str
    url: str
    ok: bool = False
    detail: str = ""
    error: str | None = None
    elapsed_ms: int = 0
    facts: dict = field(default_factory=dict)

    def line(self) -> str:
        """``zimbra mail1  ok  10.0.8_GA on mail1.example.com  (12 ms)`` or
        ``... FAILED  <error>``."""
        state = f"ok  {self.detail}" if self.ok else f"FAILED  {self.error}"
        return f"{self.kind:<6} {self.name:<12} {state}  ({self.elapsed_ms} ms)"


def check_whmcs(app) -> dict:
    """GetServers through the configured credential; returns the facts shown on success."""
    servers = app.whmcs().servers()
    known = {s.id for s in servers} | {s.hostname.lower() for s in servers if s.hostname}
    unmatched = [
        z.name
        for z in app.config.zimbra
        if (z.whmcs_server.lower() if isinstance(z.whmcs_server, str) else z.whmcs_server)
        not in known
    ]
    return {"servers": len(servers), "zimbra_without_whmcs_server": unmatched}


def check_zimbra(app, entry) -> dict:
    """AuthRequest, then GetVersionInfo, on one ``[[zimbra]]`` entry."""
    admin = app.zimbra(entry)
    try:
        admin.authenticate()
        info = admin.version_info()
    finally:
        admin.close()
    return {"version": info.version, "release": info.release, "host": info.host}


def _whmcs_detail(facts: dict) -> str:
    text = f"API answered, {facts['servers']} server(s) known"
    if facts["zimbra_without_whmcs_server"]:
        text += (
            "; no WHMCS server matches whmcs_server of "
            f"{', '.join(facts['zimbra_without_whmcs_server'])}"
        )
    return text


def _zimbra_detail(facts: dict) -> str:
    return f"{facts['version']} on {facts['host']}" if facts["host"] else facts["version"]


def run_one(
    result: CheckResult,
    probe: Callable[[], dict],
    describe: Callable[[dict], str],
    mask: Callable[[str], str],
) -> CheckResult:
    """Run ``probe`` and fill ``result``; any failure becomes its one-line, secret-masked error."""
    start = time.perf_counter()
    try:
        result.facts = probe()
        result.ok, result.detail = True, describe(result.facts)
    except PuqBridgeError as err:
        result.error = _one_line(mask(str(err)))
    except Exception as err:  # noqa: BLE001 - one broken target must not hide the others' results
        log.debug("check of %s failed", result.name, exc_info=True)
        result.error = _one_line(mask(f"{type(err).__name__}: {err}"))
    result.elapsed_ms = round((time.perf_counter() - start) * 1000)
    return result


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run_checks(app) -> list[CheckResult]:
    """Check WHMCS and every Zimbra in parallel; results in config order, WHMCS first."""
    cfg = app.config
    if cfg.zimbra:
        # import zeep here, once, so no server's time includes it
        importlib.import_module("puq_bridge.zimbra.client")
    mask = app.secret_filter.mask
    jobs = [(CheckResult("whmcs", "whmcs", cfg.whmcs.url), lambda: check_whmcs(app), _whmcs_detail)]
    for entry in cfg.zimbra:
        jobs.append(
            (
                CheckResult("zimbra", entry.name, entry.url),
                lambda entry=entry: check_zimbra(app, entry),
                _zimbra_detail,
            )
        )
    with ThreadPoolExecutor(max_workers=min(16, len(jobs)), thread_name_prefix="check") as pool:
        futures = [
            pool.submit(run_one, result, probe, describe, mask) for result, probe, describe in jobs
        ]
        return [f.result() for f in futures]


def flag_unmatched(results: list[CheckResult]) -> list[CheckResult]:
    """A ``[[zimbra]]`` entry whose ``whmcs_server`` matches no WHMCS server serves nobody: its
    check fails (a typo there would otherwise leave every page of that server stale)."""
    whmcs = next((r for r in results if r.kind == "whmcs" and r.ok), None)
    unmatched = set(whmcs.facts.get("zimbra_without_whmcs_server", ())) if whmcs else set()
    for result in results:
        if result.kind == "zimbra" and result.name in unmatched:
            result.ok = False
            result.error = (
                "its whmcs_server matches no server WHMCS lists (Setup > Servers): fix "
                "whmcs_server (the server's id, or its hostname as a string)"
                + (f"; the server itself answered: {result.detail}" if result.detail else "")
            )
    return results


@click.command("check")
@json_option
@click.pass_obj
def check(app, as_json: bool) -> None:
    """Log in to WHMCS and every Zimbra; report each.

    All servers are checked at once; each gets one line with its version (Zimbra) or server count
    (WHMCS), or its error. Exit code 0 only if every server answered, else 1."""
    results = flag_unmatched(run_checks(app))
    ok = all(r.ok for r in results)
    if as_json:
        echo_json({"ok": ok, "checks": [asdict(r) for r in results]})
    else:
        for result in results:
            click.echo(result.line())
        if not app.config.zimbra:
            click.echo("(no [[zimbra]] servers configured)")
    if not ok:
        click.get_current_context().exit(1)
