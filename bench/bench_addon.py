"""The addon page (``NAME_output``) through the adapter's HTTP service with 10,000 services and 90
days of runs in the store.

Run: ``python bench/bench_addon.py [--services N] [--days D] [--requests R] [--php R]
[--store PATH]`` (``--store``: keep the filled store there and reuse it on the next run; filling
10,000 services for 90 days takes a few minutes).

The store is filled the way the bridge fills it: one ``record_run`` per day for ``--days`` days (two
mailboxes per service, 2 % of the services failing on the day, a UsageUpdate run every day too),
each followed by the sync's ``prune`` with the default retention (14 days of detail, a year of
daily history). Then the adapter runs on waitress with that store, and signed
``/whmcs/addon/Output`` requests (as the generated PHP sends them) ask for the page, walking through
the tables' pages.
Printed: p50/p99 of the page when the newest run's overview is cached (every request after the
first), right after a run was recorded (the overview is rebuilt), the sidebar, and through real
``php`` running the generated addon file (when php is installed). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_clientarea import bridge_config  # noqa: E402

from puq_bridge.usage.records import ServiceResult  # noqa: E402
from puq_bridge.usage.store import UsageStore  # noqa: E402
from puq_bridge.zimbra.models import MailboxUsage  # noqa: E402
from whmcs_module.context import AdapterContext  # noqa: E402
from whmcs_module.forwarder import write_forwarder  # noqa: E402
from whmcs_module.http import AdapterServer, make_app  # noqa: E402
from whmcs_module.signing import HEADER, sign  # noqa: E402

SECRET = "bench-shared-secret-of-at-least-32-chars"
SERVERS = ("mail1", "mail2", "mail3", "mail4")
MB = 1024 * 1024
HARNESS = Path(__file__).resolve().parents[1] / "tests/whmcs_module/php/addon_harness.php"


def percentiles(samples: list[float]) -> str:
    """``p50 … ms, p99 … ms`` of samples in seconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms, p99 {p99 * 1000:7.2f} ms"


def results(services: int, day: int, rng: random.Random) -> list[ServiceResult]:
    """One run's results: each service grows a little every day; 2 % fail."""
    out = []
    for sid in range(1, services + 1):
        server = SERVERS[sid % len(SERVERS)]
        domain = f"firma{sid}.pl"
        if rng.random() < 0.02:
            out.append(
                ServiceResult(
                    sid,
                    domain,
                    server,
                    "failed",
                    error=f"Zimbra {server} GetQuotaUsage: connection refused",
                    client_id=1000 + sid,
                )
            )
            continue
        limit = (1 + sid % 10) * 1024 * MB
        used = min(limit, (sid * 7919 % 900 + day * 3) * MB)
        boxes = (
            MailboxUsage(f"biuro@{domain}", used // 2, limit // 2, f"a{sid}"),
            MailboxUsage(f"jan@{domain}", used - used // 2, limit - limit // 2, f"b{sid}"),
        )
        status = "updated" if day % 3 == 0 else "unchanged"
        out.append(
            ServiceResult(sid, domain, server, status, used, limit, boxes, client_id=1000 + sid)
        )
    return out


def fill(store: UsageStore, services: int, days: int) -> float:
    """``days`` days of runs ending now (sync-usage and UsageUpdate), pruned after each."""
    rng, now, t0 = random.Random(15), dt.datetime.now(dt.timezone.utc), time.perf_counter()
    for days_ago in range(days - 1, -1, -1):
        day = days - days_ago
        at = now - dt.timedelta(days=days_ago, hours=2)
        store.record_run(at, at + dt.timedelta(seconds=40), results(services, day, rng))
        store.prune(now=at)
        later = at + dt.timedelta(hours=1)
        subset = results(services, day, rng)[: services // len(SERVERS)]
        store.record_run(later, later + dt.timedelta(seconds=9), subset, origin="UsageUpdate")
        store.prune(now=later)
    return time.perf_counter() - t0


def page_params(i: int) -> dict:
    """The forwarder's params of the i-th page view: the tables' pages walked in turn."""
    query = {}
    if i % 5:
        query = {
            ["puq_near", "puq_large", "puq_runs", "puq_missing"][i % 4]: str(1 + i % 40),
            "puq_service": str(1 + i % 50) if i % 7 == 0 else None,
        }
    query = {k: v for k, v in query.items() if v}
    return {
        "module": "puqzimbra",
        "modulelink": "addonmodules.php?module=puqzimbra",
        "lang": "pl" if i % 2 else "en",
        "version": "0.1.0",
        "query": query,
        "token": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        "admin_id": 1,
    }


def timed(session: requests.Session, url: str, params: dict) -> float:
    body = json.dumps({"params": params, "nonce": secrets.token_hex(8)}).encode()
    t0 = time.perf_counter()
    reply = session.post(url, data=body, headers={HEADER: sign(SECRET, body)}, timeout=60)
    elapsed = time.perf_counter() - t0
    html = reply.json()["result"]["html"]
    if reply.status_code != 200 or 'data-puq="addon' not in html:
        raise SystemExit(f"unexpected reply {reply.status_code}: {html[:300]}")
    return elapsed


def main() -> None:
    """Fill the store, serve it, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--php", type=int, default=30)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "usage.sqlite3"
        filled = path.exists()
        store = UsageStore(path)
        took = 0.0 if filled else fill(store, args.services, args.days)
        size = path.stat().st_size / MB
        how = f"reused {path}" if filled else f"filled in {took:.0f} s"
        print(f"{args.services} services, {args.days} days: {how}; {size:.0f} MB;")
        print(f"  rows: {store.counts()}")
        config = bridge_config(
            "http://127.0.0.1:9", "admin@example.com", SECRET, servers=SERVERS
        )
        ctx = AdapterContext(config, store=store)
        ctx.addon.jobs.domains_ttl = 1e9  # no Zimbra to read here: keep the (failed) check
        with AdapterServer(make_app(ctx, SECRET)) as server, requests.Session() as session:
            output = f"{server.url}/whmcs/addon/Output"
            sidebar = f"{server.url}/whmcs/addon/Sidebar"
            first = timed(session, output, page_params(0))
            warm = [timed(session, output, page_params(i)) for i in range(1, args.requests + 1)]
            side = [timed(session, sidebar, page_params(i)) for i in range(args.requests)]
            rebuilt = []
            for i in range(10):
                at = dt.datetime.now(dt.timezone.utc)
                store.record_run(at, at, results(args.services, 100 + i, random.Random(i))[:5])
                rebuilt.append(timed(session, output, page_params(i)))
            print(f"Output, first request (templates compiled, overview built): {first:.3f} s")
            print(f"Output, overview cached ({args.requests} pages):  {percentiles(warm)}")
            print(f"Output, right after a new run (10):          {percentiles(rebuilt)}")
            print(f"Sidebar ({args.requests}):                            {percentiles(side)}")
            php = shutil.which("php")
            if php and args.php:
                figures = through_php(php, server.url, Path(tmp), args.php)
                print(f"through php (the generated addon file, {args.php} runs): {figures}")
        ctx.close()
        store.close()


def through_php(php: str, url: str, tmp: Path, count: int) -> str:
    """p50/p99 of ``php`` running the generated NAME_output once per process (PHP's start
    included)."""
    write_forwarder("puqzimbra", tmp, url, SECRET)
    calls = tmp / "calls.json"
    calls.write_text(json.dumps([{"function": "output", "get": {"puq_near": "3"}}]))
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        done = subprocess.run(
            [php, str(HARNESS), str(tmp / "modules"), "puqzimbra", str(calls)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        samples.append(time.perf_counter() - t0)
        if done.returncode != 0 or 'data-puq="addon"' not in json.loads(done.stdout)["results"][0]:
            raise SystemExit(f"php failed: {done.stderr[:300]} {done.stdout[:300]}")
    return percentiles(samples)


if __name__ == "__main__":
    main()
