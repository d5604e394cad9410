"""ClientArea over the adapter's HTTP service (signed requests to the real waitress server), 1,000
mailboxes.

Run: ``python bench/bench_clientarea.py [REQUESTS]`` (default 200). Prints p50/p99 of:
  - ClientArea served from the usage store (the normal path; goal p50 under 15 ms), with the
    adapter's page cache (a reload within 60 s of the same stored reading) and with every request
    rendered,
  - ClientArea with an empty store (a live GetQuotaUsage against FakeZimbra on loopback each time),
  - the render alone (Renderer.client_area on the stored snapshot and 90 days of history).
Figures, not assertions.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puq_bridge.clientarea.facts import facts_from_params  # noqa: E402
from puq_bridge.config import parse_config  # noqa: E402
from puq_bridge.simulators.server import BackgroundServer  # noqa: E402
from puq_bridge.simulators.zimbra.app import FakeZimbra, populate  # noqa: E402
from puq_bridge.usage.model import DomainUsage  # noqa: E402
from puq_bridge.usage.records import ServiceResult  # noqa: E402
from puq_bridge.usage.store import UsageStore  # noqa: E402
from puq_bridge.whmcs.params import ModuleParams  # noqa: E402
from whmcs_module.context import AdapterContext  # noqa: E402
from whmcs_module.http import AdapterServer, make_app  # noqa: E402
from whmcs_module.signing import HEADER, sign  # noqa: E402

SECRET = "bench-shared-secret-of-at-least-32-chars"
MAILBOXES = 1000
DOMAIN = "firma.pl"


def percentiles(samples: list[float]) -> str:
    """``p50 … ms, p99 … ms`` of samples in seconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:6.2f} ms, p99 {p99 * 1000:6.2f} ms"


def params(service_id: int) -> dict:
    """Realistic module params for one service, as the forwarder sends them."""
    return {
        "serviceid": service_id,
        "serverid": 1,
        "domain": DOMAIN,
        "username": "biuro",
        "serverhostname": "mail1.example.com",
        "serverip": "192.0.2.5",
        "configoption1": "1024",
        "configoption3": "50",
        "configoption6": "domain",
        "service": {
            "regdate": "2026-01-15",
            "nextduedate": "2026-12-15",
            "billingcycle": "Monthly",
            "amount": "49.00",
            "paymentmethod": "banktransfer",
            "status": "Active",
        },
        "clientsdetails": {"language": "polish", "currency_code": "PLN"},
    }


def fill_store(store: UsageStore, usage: DomainUsage, service_id: int) -> None:
    """90 daily runs ending now, the last with every mailbox."""
    now = dt.datetime.now(dt.timezone.utc)
    for days_ago in range(90, -1, -1):
        at = now - dt.timedelta(days=days_ago)
        share = (91 - days_ago) / 91
        mailboxes = usage.mailboxes if days_ago == 0 else ()
        store.record_run(
            at,
            at,
            [
                ServiceResult(
                    service_id,
                    DOMAIN,
                    "mail1",
                    "updated",
                    int(usage.used_bytes * share),
                    50 * 1024**3,
                    mailboxes,
                )
            ],
        )


def timed_requests(
    session: requests.Session, url: str, body_params: dict, count: int
) -> list[float]:
    """Send ``count`` signed ClientArea requests; returns each round trip in seconds."""
    import json
    import secrets

    samples = []
    for _ in range(count):
        body = json.dumps({"params": body_params, "nonce": secrets.token_hex(8)}).encode()
        t0 = time.perf_counter()
        reply = session.post(url, data=body, headers={HEADER: sign(SECRET, body)}, timeout=30)
        samples.append(time.perf_counter() - t0)
        if reply.status_code != 200 or "templatefile" not in reply.json()["result"]:
            raise SystemExit(f"unexpected reply {reply.status_code}: {reply.text[:200]}")
    return samples


def bridge_config(zimbra_url: str, admin_user: str, secret: str = SECRET, servers=("mail1",)):
    """A bench's bridge config: a WHMCS it never calls, ``servers`` (WHMCS server ids 1, 2, ...)
    at ``zimbra_url``, and the adapter's ``secret``."""
    return parse_config(
        {
            "whmcs": {"url": "http://127.0.0.1:9", "identifier": "x", "secret": "x"},
            "zimbra": [
                {
                    "name": name,
                    "whmcs_server": number,
                    "url": zimbra_url,
                    "admin_user": admin_user,
                    "password": "zimbra-secret",
                }
                for number, name in enumerate(servers, 1)
            ],
            "adapter": {"secret": secret},
        },
        "bench",
        env={},
    )


def main(count: int = 200) -> None:
    """Set up FakeZimbra, the store and the adapter on waitress; print the figures."""
    sim = FakeZimbra()
    populate(sim, DOMAIN, MAILBOXES)
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(sim.wsgi_app) as zimbra:
        config = bridge_config(zimbra.url, sim.admin_user)
        store = UsageStore(Path(tmp) / "usage.sqlite3")
        ctx = AdapterContext(config, store=store)
        entry = config.zimbra[0]
        usage = DomainUsage.of(DOMAIN, ctx.zimbra(entry).domain_usage(DOMAIN))
        fill_store(store, usage, 42)
        print(f"{len(usage.mailboxes)} mailboxes; {count} signed requests per case")

        with AdapterServer(make_app(ctx, SECRET)) as server, requests.Session() as session:
            url = f"{server.url}/whmcs/ClientArea"
            timed_requests(
                session, url, params(42), 5
            )  # warm-up: template compilation, first connection
            stored = timed_requests(session, url, params(42), count)
            print(f"ClientArea from the store, page cache on:      {percentiles(stored)}")
            ctx.render_cache.seconds = 0
            uncached = timed_requests(session, url, params(42), count)
            print(f"ClientArea from the store, rendered each time: {percentiles(uncached)}")
            before = sim.count("GetQuotaUsage")
            live = timed_requests(session, url, params(43), count)
            print(
                f"ClientArea with a live Zimbra read:            {percentiles(live)} "
                f"({sim.count('GetQuotaUsage') - before} GetQuotaUsage)"
            )

        facts = facts_from_params(ModuleParams.read(params(42)), entry)
        snapshot, history = store.latest(42), store.history(42)
        renders = []
        for _ in range(count):
            t0 = time.perf_counter()
            html = ctx.renderer.client_area(facts, snapshot, history)
            renders.append(time.perf_counter() - t0)
        print(
            f"render only ({len(history)} days of history):      {percentiles(renders)} "
            f"({len(html):,} bytes)"
        )
        ctx.close()
        store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
