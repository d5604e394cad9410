"""Benchmark of the WHMCS client against FakeWhmcs on loopback: per-call overhead, paging, retries.

    python bench/bench_whmcs.py [--services 5000] [--calls 500] [--latency 0]

Prints figures, asserts nothing:

- round trip of one small read (GetPermissionsList): median and p95 over ``--calls`` calls, and
  calls per second;
- reading every service with GetClientsProducts at several page sizes: pages, wall time, services
  per second (parsing into ``Service`` dataclasses included);
- the cost of a read that recovers from one injected 500 with the default backoff set to 0 (i.e. the
  retry itself).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puq_bridge.simulators.server import BackgroundServer  # noqa: E402
from puq_bridge.simulators.whmcs.app import FakeWhmcs  # noqa: E402
from puq_bridge.whmcs.client import WhmcsClient  # noqa: E402


def build(services: int) -> FakeWhmcs:
    """A simulator with ``services`` services spread over 50 clients and 3 servers."""
    sim = FakeWhmcs()
    pid = sim.add_product("Private Zimbra server")
    servers = [
        sim.add_server(f"mail{i}", f"mail{i}.example.com", f"192.0.2.{i}") for i in range(1, 4)
    ]
    clients = [sim.add_client("C", str(i), f"c{i}@example.com") for i in range(50)]
    for i in range(services):
        sim.add_service(
            clients[i % 50],
            pid,
            f"d{i}.example.com",
            server_id=servers[i % 3],
            config_options={"Total space (GB)": "10"},
            disk_usage=i,
            disk_limit=10240,
        )
    return sim


def round_trips(client: WhmcsClient, calls: int) -> None:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        client.permissions_list()
        times.append(time.perf_counter() - started)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(
        f"small read        median {1000 * statistics.median(times):6.2f} ms   p95 "
        f"{1000 * p95:6.2f} ms   {len(times) / sum(times):7.0f} calls/s"
    )


def paging(sim: FakeWhmcs, client: WhmcsClient, services: int) -> None:
    for page_size in (25, 100, 250, 1000):
        before = sim.count("GetClientsProducts")
        started = time.perf_counter()
        found = sum(1 for _ in client.client_products(page_size=page_size))
        took = time.perf_counter() - started
        pages = sim.count("GetClientsProducts") - before
        assert found == services
        print(
            f"all services      page {page_size:5d}: {pages:4d} pages  {took:6.2f} s  "
            f"{found / took:8.0f} services/s"
        )


def retry(sim: FakeWhmcs, client: WhmcsClient, calls: int) -> None:
    client.backoff = 0
    clean, recovered = [], []
    for _ in range(calls // 5):
        started = time.perf_counter()
        client.permissions_list()
        clean.append(time.perf_counter() - started)
        sim.inject("http500")
        started = time.perf_counter()
        client.permissions_list()
        recovered.append(time.perf_counter() - started)
    print(
        f"read after a 500  median {1000 * statistics.median(recovered):6.2f} ms "
        f"(clean {1000 * statistics.median(clean):.2f} ms), the failed attempt included"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="simulated server latency per request (s)"
    )
    args = parser.parse_args()
    sim = build(args.services)
    sim.latency = args.latency
    with BackgroundServer(sim.wsgi_app) as server:
        client = WhmcsClient(server.url, "whmcs-id", "whmcs-secret", timeout=10)
        print(
            f"FakeWhmcs on {server.url}, {args.services} services, latency "
            f"{args.latency * 1000:.0f} ms"
        )
        round_trips(client, args.calls)
        paging(sim, client, args.services)
        retry(sim, client, args.calls)


if __name__ == "__main__":
    main()
