"""The usage store, SQLite vs PostgreSQL, side by side in one run.

    python bench/bench_store.py [--requests 200] [--sync-rounds 2]
        [--servers 50 --domains 20 --mailboxes 50 --latency 0.01]

PostgreSQL is ``$PUQ_BENCH_POSTGRES_URL`` (a superuser's URL: the bench makes and drops databases of
its own there), else a throw-away server started here (``tests/pg_server.py``) with production's
durability: fsync and synchronous commits on. The SQLite file is in a temporary folder (WAL,
``synchronous = NORMAL``, as the store opens it). Printed:

1. ClientArea over the adapter's HTTP service (signed requests to the real waitress server; 1,000
   mailboxes, 90 days of history; the same code as ``bench_clientarea.py``) served from each store:
   p50/p99 with the page cache and with a render per request. Each request also records its
   signature in the store (replay protection).
2. The store calls alone, what each of those requests costs the store: ``latest`` + ``history`` (the
   page's reads) and ``claim_signature`` (the write), p50/p99.
3. Syncs (``--sync-rounds``, alternating) of ``bench_sync.py``'s standard world (50 servers x 20
   domains x 50 mailboxes, 10 ms per request), every service changed, with each store: wall time,
   CPU of this process, and the time spent in the store (reading the product settings, recording
   the run, pruning).

Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bench_clientarea as ca  # noqa: E402
import bench_sync  # noqa: E402

BENCH_ENV = "PUQ_BENCH_POSTGRES_URL"


def p50_p99(samples: list[float]) -> tuple[float, float]:
    """Median and 99th percentile, in milliseconds."""
    ordered = sorted(samples)
    return (
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )


class Postgres:
    """The PostgreSQL server of the run, and fresh databases on it."""

    def __init__(self):
        self.server = None
        self.admin = os.environ.get(BENCH_ENV)
        if not self.admin:
            from tests.support.pg_server import ThrowAwayServer, find_bin_dir

            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise SystemExit(f"no PostgreSQL: set {BENCH_ENV} or install postgresql")
            durable = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
            self.server = ThrowAwayServer(bin_dir, settings=durable)
            self.admin = self.server.start()
        self.made: list[str] = []

    def database(self, name: str) -> str:
        from tests.support.store import create_database

        url = create_database(self.admin, name)
        self.made.append(url)
        return url

    def close(self) -> None:
        from tests.support.store import drop_database

        for url in self.made:
            drop_database(self.admin, url)
        if self.server is not None:
            self.server.stop()


class Bridge:
    """One adapter service (waitress, signed requests) over a store at ``location``, filled like
    ``bench_clientarea.py``: 90 daily runs, the last with 1,000 mailboxes."""

    def __init__(self, location, sim, zimbra_url: str):
        import requests

        from puq_bridge.usage.model import DomainUsage
        from puq_bridge.usage.store import UsageStore
        from whmcs_module.context import AdapterContext
        from whmcs_module.http import AdapterServer, make_app

        config = ca.bridge_config(zimbra_url, sim.admin_user)
        self.store = UsageStore(location)
        self.ctx = AdapterContext(config, store=self.store)
        usage = DomainUsage.of(ca.DOMAIN, self.ctx.zimbra(config.zimbra[0]).domain_usage(ca.DOMAIN))
        ca.fill_store(self.store, usage, 42)
        self.server = AdapterServer(make_app(self.ctx, ca.SECRET)).start()
        self.session = requests.Session()
        self.url = f"{self.server.url}/whmcs/ClientArea"
        ca.timed_requests(self.session, self.url, ca.params(42), 5)  # warm-up

    def pages(self, count: int, cached: bool) -> list[float]:
        """``count`` signed ClientArea requests, each one's round trip."""
        self.ctx.render_cache.seconds = 60 if cached else 0
        return ca.timed_requests(self.session, self.url, ca.params(42), count)

    def reads(self, count: int) -> list[float]:
        """The page's store reads alone: ``latest`` + ``history``."""
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            self.store.latest(42), self.store.history(42)
            samples.append(time.perf_counter() - t0)
        return samples

    def claims(self, count: int) -> list[float]:
        """The request's store write alone: ``claim_signature``."""
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            self.store.claim_signature(secrets.token_hex(32), time.time() + 600, time.time())
            samples.append(time.perf_counter() - t0)
        return samples

    def close(self) -> None:
        self.session.close()
        self.server.stop()
        self.ctx.close()
        self.store.close()


CASES = {
    "page cache on": lambda bridge, n: bridge.pages(n, cached=True),
    "rendered each time": lambda bridge, n: bridge.pages(n, cached=False),
    "store: latest + history": lambda bridge, n: bridge.reads(n),
    "store: claim_signature": lambda bridge, n: bridge.claims(n),
}


def clientarea(bridges: dict[str, Bridge], count: int, rounds: int = 10) -> dict[str, dict]:
    """Every case on every store, in alternating rounds (so a busy moment of the machine hits both
    alike)."""
    samples = {name: {case: [] for case in CASES} for name in bridges}
    for case, measure in CASES.items():
        for _ in range(rounds):
            for name, bridge in bridges.items():
                samples[name][case] += measure(bridge, max(1, count // rounds))
    return {
        name: {case: p50_p99(s) for case, s in cases.items()} for name, cases in samples.items()
    }


class StoreTimer:
    """Wraps the store calls a sync makes, adding up their wall time."""

    CALLS = ("service_settings", "record_run", "prune")

    def __init__(self):
        self.spent = 0.0

    def install(self) -> None:
        from puq_bridge.usage.store import UsageStore

        self.saved = {name: getattr(UsageStore, name) for name in self.CALLS}
        for name, method in self.saved.items():
            setattr(UsageStore, name, self._timed(method))

    def _timed(self, method):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - t0

        return timed

    def remove(self) -> None:
        from puq_bridge.usage.store import UsageStore

        for name, method in self.saved.items():
            setattr(UsageStore, name, method)


def sync(world, args, location) -> dict:
    """One sync with every service changed; bench_sync's figures plus the store's time."""
    world.ask("forget")
    timer = StoreTimer()
    timer.install()
    try:
        run = bench_sync.run_engine(world, args, location)
    finally:
        timer.remove()
    run["store_s"] = timer.spent
    return run


def show_clientarea(results: dict[str, dict]) -> None:
    names = list(results)
    print(f"\n{'ClientArea, 1,000 mailboxes (ms)':38}" + "".join(f"{n:>26}" for n in names))
    for case in results[names[0]]:
        cells = "".join(f"{'p50 %.2f / p99 %.2f' % results[n][case]:>26}" for n in names)
        print(f"  {case:36}{cells}")


def show_sync(args, results: dict[str, list[dict]]) -> None:
    names = list(results)
    print(
        f"\nsync: {args.servers} servers x {args.domains} domains x {args.mailboxes} mailboxes "
        f"({args.servers * args.domains:,} services, every one changed), "
        f"{args.latency * 1000:g} ms per request; {args.sync_rounds} alternating runs per store"
    )
    print(f"{'':38}" + "".join(f"{n:>26}" for n in names))
    rows = [
        ("wall time (s)", "wall", "{:.2f}"),
        ("CPU s, sync process", "cpu", "{:.2f}"),
        ("in the store (s)", "store_s", "{:.3f}"),
        ("requests", None, "{:,}"),
    ]
    for label, key, fmt in rows:
        values = [
            " / ".join(
                fmt.format(sum(r["counts"].values()) if key is None else r[key]) for r in runs
            )
            for runs in results.values()
        ]
        print(f"  {label:36}" + "".join(f"{v:>26}" for v in values))
    totals = {name: {str(r["totals"]) for r in runs} for name, runs in results.items()}
    print("  totals: " + "; ".join(f"{n} {', '.join(t)}" for n, t in totals.items()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--mailboxes", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.010)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--per-server", type=int, default=4)
    parser.add_argument("--sync-rounds", type=int, default=2, help="sync runs per store")
    args = parser.parse_args(argv)

    import puq_bridge.zimbra  # noqa: F401  (zeep imported outside the timed parts)
    from puq_bridge.simulators.server import BackgroundServer
    from puq_bridge.simulators.zimbra.app import FakeZimbra, populate

    postgres = Postgres()
    try:
        where = "throw-away, fsync on" if postgres.server else f"${BENCH_ENV}"
        print(f"PostgreSQL: {where}; {args.requests} signed requests per case")
        sim = FakeZimbra()
        populate(sim, ca.DOMAIN, ca.MAILBOXES)
        with tempfile.TemporaryDirectory() as tmp, BackgroundServer(sim.wsgi_app) as zimbra:
            bridges = {
                "SQLite": Bridge(Path(tmp) / "usage.sqlite3", sim, zimbra.url),
                "PostgreSQL": Bridge(postgres.database("bench_clientarea"), sim, zimbra.url),
            }
            try:
                pages = clientarea(bridges, args.requests)
            finally:
                for bridge in bridges.values():
                    bridge.close()
        show_clientarea(pages)

        world = bench_sync.World(args)
        runs = {"SQLite": [], "PostgreSQL": []}
        try:
            with tempfile.TemporaryDirectory() as tmp:
                locations = {
                    "SQLite": Path(tmp) / "usage.sqlite3",
                    "PostgreSQL": postgres.database("bench_sync"),
                }
                for _ in range(args.sync_rounds):  # alternating, as the ClientArea rounds
                    for name, location in locations.items():
                        runs[name].append(sync(world, args, location))
        finally:
            world.stop()
        show_sync(args, runs)
    finally:
        postgres.close()


if __name__ == "__main__":
    main()
