"""Mailbox self-service through the adapter's HTTP service (signed requests to the real waitress
server, what ``serve`` runs) against FakeZimbra answering every request after 10 ms.

Run: ``python bench/bench_selfservice.py [REQUESTS] [--latency MS]`` (default 200, 10 ms). Prints
p50/p99 of CreateMailbox and SetMailboxQuota, each beside the Zimbra requests one call makes in the
steady state (the COS's password policy and the system accounts are cached), for a plan with
limits (maximum mailboxes, total space: the domain's quotas must be read) and one without.
Each request is for its own service id, so the per-service rate limit (30 an hour) does not stop
the run. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from bench_clientarea import bridge_config  # noqa: E402

from puq_bridge.simulators.server import BackgroundServer  # noqa: E402
from puq_bridge.simulators.zimbra.app import FakeZimbra, populate  # noqa: E402
from puq_bridge.usage.store import UsageStore  # noqa: E402
from whmcs_module.context import AdapterContext  # noqa: E402
from whmcs_module.http import AdapterServer, make_app  # noqa: E402
from whmcs_module.signing import HEADER, sign  # noqa: E402

SECRET = "bench-shared-secret-of-at-least-32-chars"
DOMAIN = "firma.pl"
PASSWORD = "Bench-Haslo-1"
LIMITED = {"configoption2": "100000", "configoption3": "100000"}  # max mailboxes, total GB
OPEN = {"configoption2": "0", "configoption3": "0"}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:6.2f} ms, p99 {p99 * 1000:6.2f} ms"


def params(service_id: int, plan: dict, action: dict) -> dict:
    return {
        "serviceid": service_id,
        "serverid": 1,
        "domain": DOMAIN,
        "username": "biuro",
        "serverhostname": "mail1.example.com",
        "configoption1": "100",
        "configoption6": "domain",
        **plan,
        "service": {"status": "Active"},
        "clientsdetails": {"userid": "7", "language": "english"},
        "action": action,
    }


def run(session, url, sim, calls) -> tuple[list[float], Counter]:
    """Send the signed calls; their round trips, and the Zimbra requests per kind they caused."""
    samples, before = [], Counter(r["op"] for r in sim.requests)
    for call in calls:
        body = json.dumps({"params": call, "nonce": secrets.token_hex(8)}).encode()
        t0 = time.perf_counter()
        reply = session.post(url, data=body, headers={HEADER: sign(SECRET, body)}, timeout=30)
        samples.append(time.perf_counter() - t0)
        if reply.status_code != 200 or reply.json()["result"] != "success":
            raise SystemExit(f"unexpected reply {reply.status_code}: {reply.text[:200]}")
    after = Counter(r["op"] for r in sim.requests)
    return samples, after - before


def per_call(counts: Counter, calls: int) -> str:
    return ", ".join(f"{op} {n / calls:g}" for op, n in sorted(counts.items()))


def main(count: int, latency_ms: float) -> None:
    sim = FakeZimbra()
    populate(sim, DOMAIN, 50)
    with tempfile.TemporaryDirectory() as tmp, BackgroundServer(sim.wsgi_app) as zimbra:
        config = bridge_config(zimbra.url, sim.admin_user, SECRET)
        store = UsageStore(Path(tmp) / "usage.sqlite3")
        ctx = AdapterContext(config, store=store)
        with AdapterServer(make_app(ctx, SECRET)) as server, requests.Session() as session:
            base = f"{server.url}/whmcs"
            new = {"password": PASSWORD, "password2": PASSWORD, "quota_mb": "100"}
            # warm-up: first connection, the COS's policy, the system accounts
            run(
                session,
                f"{base}/CreateMailbox",
                sim,
                [params(1, LIMITED, {**new, "local_part": "warm"})],
            )
            sim.latency = latency_ms / 1000
            print(f"FakeZimbra latency {latency_ms:g} ms per request; {count} calls per case")
            for name, plan in (("plan with limits", LIMITED), ("plan without limits", OPEN)):
                tag = "l" if plan is LIMITED else "o"
                creates = [
                    params(1000 + i, plan, {**new, "local_part": f"{tag}{i}"}) for i in range(count)
                ]
                samples, ops = run(session, f"{base}/CreateMailbox", sim, creates)
                print(
                    f"CreateMailbox,   {name:20} {percentiles(samples)}; Zimbra per call: "
                    f"{per_call(ops, count)}"
                )
                quotas = [
                    params(5000 + i, plan, {"mailbox": f"{tag}{i}@{DOMAIN}", "quota_mb": "200"})
                    for i in range(count)
                ]
                samples, ops = run(session, f"{base}/SetMailboxQuota", sim, quotas)
                print(
                    f"SetMailboxQuota, {name:20} {percentiles(samples)}; Zimbra per call: "
                    f"{per_call(ops, count)}"
                )
        ctx.close()
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", nargs="?", type=int, default=200)
    parser.add_argument("--latency", type=float, default=10.0, help="ms per Zimbra request")
    args = parser.parse_args()
    main(args.requests, args.latency)
