"""Benchmark of the usage sync against the simulators, next to its bound and to a naive per-mailbox
sync.

    python bench/bench_sync.py [--servers 50] [--domains 20] [--mailboxes 50] [--latency 0.01]
    [--concurrency 8]

The simulators (one FakeWhmcs, one FakeZimbra per server, each with the same fixed per-request
latency) run in a child process, so the wall time, the CPU and the memory measured here are the
sync's own. Printed side by side:

- the sync, first run (every service changed) and second run (nothing changed): wall time, requests
  per kind, and peak memory as the growth of this process's max RSS
  (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) over the run;
- the bound of the read plan the sync chooses here (each server holds only the bridge's domains,
  so it is read whole): one AuthRequest, one system-account SearchDirectory and, on the first run,
  one GetMailboxStats (the account count the store learns) per server + one GetQuotaUsage per page
  (``ceil(accounts / page_rows)``) + one write per changed service (+ the GetClientsProducts
  pages), and the wall time that takes at the configured concurrency if every request cost exactly
  the latency, a server's requests kept to its request rate (``[[zimbra]]
  max_requests_per_second``, default 20 within any second);
- the same second run with today's per-domain plan (``read_plan = "domain"``, no request rate), as
  before the read plan: one GetQuotaUsage per domain;
- CPU per request of both processes and the CPU floor, max(sync CPU, simulators' CPU, their sum /
  CPUs): each process holds one interpreter lock, so no schedule of the run finishes sooner than
  that;
- a naive sync like the old PHP modules: per server, sequentially, GetAllAccounts per domain then
  one GetMailbox per mailbox, then one write per service. It is run on ``--naive-servers`` servers
  and extrapolated linearly to all.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ADMIN, PASSWORD = "admin@example.com", "zimbra-secret"
IDENTIFIER, SECRET = "whmcs-id", "whmcs-secret"
LIST_PAGE = 1000  # GetClientsProducts rows per request (puq_bridge.usage.sync.LIST_PAGE)
MB = 1024 * 1024


def _domain(server: int, domain: int) -> str:
    return f"d{domain:02d}.s{server:02d}.example.pl"


# --- the child process: simulators ----------------------------------------------------------------


class _Waitress:
    """A simulator served by waitress: unlike werkzeug's server it keeps connections alive, as
    Zimbra's Jetty and WHMCS's web server do, so the figures are not dominated by a new TCP
    connection and thread per request."""

    def __init__(self, app, threads: int):
        from waitress.server import create_server

        self.server = create_server(
            app,
            host="127.0.0.1",
            port=0,
            threads=threads,
            connection_limit=1000,
            channel_timeout=600,
        )
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # its sockets closed under the loop by stop()
            if not self.stopping:
                raise

    def stop(self) -> None:
        self.stopping = True
        self.server.close()


def _simulators(
    conn, servers: int, domains: int, mailboxes: int, latency: float, threads: int
) -> None:
    """Build and serve the world, then answer ``counts`` / ``cpu`` / ``reset`` / ``stop`` over
    ``conn``."""
    from puq_bridge.simulators.whmcs.app import FakeWhmcs
    from puq_bridge.simulators.zimbra.app import FakeZimbra

    whmcs = FakeWhmcs(IDENTIFIER, SECRET)
    client = whmcs.add_client("Jan", "Kowalski", "jan@example.pl")
    product = whmcs.add_product("Private Zimbra mail server")
    zimbras, running, info = [], [], []
    for s in range(servers):
        sim = FakeZimbra(ADMIN, PASSWORD, host=f"mail{s}.example.com")
        server_id = whmcs.add_server(f"mail{s}", f"mail{s}.example.com", "192.0.2.1")
        for d in range(domains):
            name = _domain(s, d)
            sim.add_domain(name)
            for b in range(mailboxes):
                sim.add_account(
                    f"user{b}@{name}", quota=1024 * MB, used=(b + 1) * (d + 1) * 1_000_003
                )
            whmcs.add_service(client, product, name, server_id=server_id)
        sim.latency = latency
        zimbras.append(sim)
        running.append(_Waitress(sim.wsgi_app, threads=threads))
        info.append((f"mail{s}", server_id, running[-1].url))
    whmcs.latency = latency
    running.append(_Waitress(whmcs.wsgi_app, threads=4 * threads))
    conn.send({"whmcs_url": running[-1].url, "zimbras": info})
    while True:
        command = conn.recv()
        if command == "counts":
            counts = Counter(r["action"] for r in whmcs.requests)
            counts.update(r["op"] for sim in zimbras for r in sim.requests)
            conn.send(dict(counts))
        elif command == "cpu":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send(usage.ru_utime + usage.ru_stime)
        elif command == "reset":
            whmcs.requests.clear()
            for sim in zimbras:
                sim.requests.clear()
            conn.send(None)
        elif command == "forget":  # WHMCS back to no usage: the next run writes every service again
            for service in whmcs.services.values():
                service["diskusage"] = service["disklimit"] = "0"
            conn.send(None)
        else:
            for server in running:
                server.stop()
            conn.send(None)
            return


class SimulatorProcess:
    """Simulators served in a child process (``target(conn, *args)`` sends its ``info`` once ready,
    then answers commands), seen from here."""

    def __init__(self, target, *args):
        ctx = mp.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=target, daemon=True, args=(child_conn, *args))
        started = time.perf_counter()
        self.process.start()
        self.info = self.conn.recv()
        self.built_s = time.perf_counter() - started

    def ask(self, command: str):
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self.process.join(timeout=30)


class World(SimulatorProcess):
    """This bench's world: ``--servers`` FakeZimbras and one FakeWhmcs."""

    def __init__(self, args):
        super().__init__(
            _simulators,
            args.servers,
            args.domains,
            args.mailboxes,
            args.latency,
            args.per_server + 4,
        )


# --- the runs -------------------------------------------------------------------------------------


def _entries(world: World, read_plan: str = "auto", rate: float | None = 20.0):
    from puq_bridge.config import ZimbraConfig

    return [
        ZimbraConfig(
            name=name,
            whmcs_server=sid,
            url=url,
            admin_user=ADMIN,
            password=PASSWORD,
            timeout=60,
            read_plan=read_plan,
            max_requests_per_second=rate,
        )
        for name, sid, url in world.info["zimbras"]
    ]


def _zimbra(entry):
    from puq_bridge.zimbra.client import ZimbraAdmin

    return ZimbraAdmin(
        entry.url,
        entry.admin_user,
        entry.password,
        name=entry.name,
        timeout=60,
        max_requests_per_second=entry.max_requests_per_second,
    )


def _whmcs(world: World):
    import requests

    from puq_bridge.whmcs.client import WhmcsClient

    session = requests.Session()  # enough pooled connections for the parallel writes
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64))
    return WhmcsClient(world.info["whmcs_url"], IDENTIFIER, SECRET, session=session, timeout=60)


def run_engine(
    world: World,
    args,
    store_location,
    read_plan: str = "auto",
    rate: float | None = 20.0,
    page_rows: int | None = None,
) -> dict:
    """One sync run with the store at ``store_location`` (a SQLite path, a PostgreSQL URL or
    backend), ``page_rows`` rows a whole-server page (default: the config's); returns wall time,
    request counts, totals, CPU, the servers' plans and the max-RSS growth."""
    from puq_bridge.config import DEFAULT_PAGE_ROWS
    from puq_bridge.usage.store import UsageStore
    from puq_bridge.usage.sync import SyncEngine

    world.ask("reset")
    clients = []

    def factory(entry):
        clients.append(_zimbra(entry))
        return clients[-1]

    with UsageStore(store_location) as store:
        engine = SyncEngine(
            _whmcs(world),
            _entries(world, read_plan, rate),
            factory,
            store=store,
            concurrency=args.concurrency,
            per_server_concurrency=args.per_server,
            page_rows=page_rows or DEFAULT_PAGE_ROWS,
        )
        before, sim_cpu = resource.getrusage(resource.RUSAGE_SELF), world.ask("cpu")
        t0 = time.perf_counter()
        report = engine.run()
        wall = time.perf_counter() - t0
        after, sim_cpu = resource.getrusage(resource.RUSAGE_SELF), world.ask("cpu") - sim_cpu
    for client in clients:
        client.close()
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "wall": wall,
        "counts": world.ask("counts"),
        "totals": report.totals,
        "plans": Counter(s.plan for s in report.servers),
        "cpu": cpu,
        "sim_cpu": sim_cpu,
        "rss_mb": (after.ru_maxrss - before.ru_maxrss) / 1024,
        "rss_total_mb": after.ru_maxrss / 1024,
    }


def run_naive(world: World, args) -> dict:
    """The per-mailbox sync on ``--naive-servers`` servers, sequentially, like the old PHP
    modules."""
    import datetime as dt

    from puq_bridge.units import bytes_to_mb

    world.ask("reset")
    whmcs = _whmcs(world)
    entries = _entries(world)[: args.naive_servers]
    services = {s.domain: s for s in whmcs.client_products()}
    t0 = time.perf_counter()
    for entry in entries:
        zimbra = _zimbra(entry)
        zimbra.authenticate()
        sizes = {}
        for d in range(args.domains):
            domain = _domain(int(entry.name.removeprefix("mail")), d)
            sizes[domain] = sum(zimbra.mailbox_size(a.id) for a in zimbra.all_accounts(domain))
        for domain, used in sizes.items():
            whmcs.update_usage(
                services[domain].id,
                disk_usage_mb=bytes_to_mb(used),
                disk_limit_mb=0,
                last_update=dt.datetime.now(dt.timezone.utc),
            )
        zimbra.close()
    wall = time.perf_counter() - t0
    counts = world.ask("counts")
    counts.pop(
        "GetClientsProducts", None
    )  # the listing above is not part of the timed per-server work
    return {"wall": wall, "counts": counts}


# --- the bound and the printout -------------------------------------------------------------------


def bound(args, first_run: bool = True) -> dict:
    """Requests and wall time of the whole-server plan if every request took exactly the latency,
    at the configured concurrency, each server's requests spaced by the request rate."""
    services = args.servers * args.domains
    pages = max(1, math.ceil(services / LIST_PAGE))
    usage_pages = max(1, math.ceil(args.domains * args.mailboxes / args.page_rows))
    # Auth, the system-account query, the account count on a first run, then the pages: in a row
    chain = 2 + int(first_run) + usage_pages
    # the request rate lets `rate` requests go within a second, then one more per 1 / rate
    paced = max(0.0, (chain - args.rate) / args.rate) if args.rate else 0.0
    per_server = chain * args.latency + paced
    t_read = math.ceil(args.servers / args.concurrency) * per_server
    t_write = math.ceil(services / args.concurrency) * args.latency if first_run else 0.0
    wall = pages * args.latency + max(t_read, t_write + per_server)
    counts = {
        "GetClientsProducts": pages,
        "Auth": args.servers,
        "SearchDirectory": args.servers,
        "GetMailboxStats": args.servers if first_run else 0,
        "GetQuotaUsage": args.servers * usage_pages,
        "UpdateClientProduct": services if first_run else 0,
    }
    return {"wall": wall, "counts": counts, "t_read": t_read, "t_write": t_write}


def _kind(name: str) -> str:
    return name.removesuffix("Request")


def per_request(run: dict, key: str) -> float:
    """CPU milliseconds per request of a run (``key``: ``cpu`` for the sync process, ``sim_cpu`` for
    the simulators)."""
    return 1000 * run[key] / max(sum(run["counts"].values()), 1)


def cpu_floor(run: dict) -> float:
    """The shortest wall time the run's CPU allows: each process holds one interpreter lock, and
    both share the machine's CPUs."""
    return max(run["cpu"], run["sim_cpu"], (run["cpu"] + run["sim_cpu"]) / (os.cpu_count() or 1))


def show(args, first: dict, second: dict, limit: dict, naive: dict, today: dict) -> None:
    scale = args.servers / max(args.naive_servers, 1)
    limit2 = bound(args, first_run=False)
    runs = (first, second, limit, limit2, today, naive)
    kinds = sorted({_kind(k) for d in runs for k in d["counts"]})
    cols = ["sync run 1", "sync run 2", "bound 1", "bound 2", "per-domain 2", f"naive x{scale:g}"]
    print(
        f"\n{args.servers} servers x {args.domains} domains x {args.mailboxes} mailboxes = "
        f"{args.servers * args.domains * args.mailboxes:,} mailboxes, "
        f"{args.servers * args.domains:,} services; latency {args.latency * 1000:g} ms per request "
        f"on every simulator; concurrency {args.concurrency}, per server {args.per_server}"
    )
    print(f"{'':24}" + "".join(f"{c:>16}" for c in cols))

    def count(d, kind, factor=1):
        return round(sum(v for k, v in d["counts"].items() if _kind(k) == kind) * factor)

    def row(label, values):
        print(f"{label:24}" + "".join(f"{v:>16}" for v in values))

    row("wall time (s)", [f"{d['wall']:.2f}" for d in runs[:-1]] + [f"{naive['wall'] * scale:.1f}"])
    row(
        "requests, total",
        [f"{sum(d['counts'].values()):,}" for d in runs[:-1]]
        + [f"{sum(naive['counts'].values()) * scale:,.0f}"],
    )
    for kind in kinds:
        row(
            f"  {kind}",
            [f"{count(d, kind):,}" for d in runs[:-1]] + [f"{count(naive, kind, scale):,}"],
        )
    measured = (first, second, today)

    def line(label, values):
        row(label, values[:2] + ["", ""] + values[2:] + [""])

    line("max RSS growth (MB)", [f"{d['rss_mb']:.1f}" for d in measured])
    line("CPU s, sync process", [f"{d['cpu']:.2f}" for d in measured])
    line("CPU s, simulators", [f"{d['sim_cpu']:.2f}" for d in measured])
    line("CPU ms/request, sync", [f"{per_request(d, 'cpu'):.2f}" for d in measured])
    line("CPU ms/request, sims", [f"{per_request(d, 'sim_cpu'):.2f}" for d in measured])
    line("CPU floor (s)", [f"{cpu_floor(d):.2f}" for d in measured])
    print(f"\nrun 1 totals {first['totals']}; run 2 totals {second['totals']}")
    print(
        f"plans: run 1 {dict(first['plans'])}, run 2 {dict(second['plans'])}, "
        f"per-domain {dict(today['plans'])}"
    )
    usage = {k: count(d, "GetQuotaUsage") for k, d in (("1", first), ("2", second))}
    print(
        f"usage requests: run 1 {usage['1']}, run 2 {usage['2']} <= servers + pages = "
        f"{count(limit, 'GetQuotaUsage') + args.servers}: "
        f"{max(usage.values()) <= count(limit, 'GetQuotaUsage') + args.servers}; "
        f"per-domain plan {count(today, 'GetQuotaUsage')} "
        f"({count(today, 'GetQuotaUsage') / max(usage['2'], 1):.0f}x run 2's)"
    )
    print(
        f"bound: read path {limit['t_read']:.2f} s, write path {limit['t_write']:.2f} s "
        f"(+ {math.ceil(args.servers * args.domains / LIST_PAGE)} listing page(s)); "
        f"run 1 / bound = {first['wall'] / limit['wall']:.2f}x, run 2 / bound = "
        f"{second['wall'] / limit2['wall']:.2f}x (goal <= 1.5x); per-domain run 2 took "
        f"{today['wall']:.2f} s"
    )
    print(
        f"CPU: run 1 spent {first['cpu']:.2f} CPU-s in this process (one interpreter lock) and "
        f"{first['sim_cpu']:.2f} in the simulators, on {os.cpu_count()} CPU(s); the bound assumes "
        "requests cost no CPU, so when this CPU time exceeds it the wall time follows the CPU, "
        "not the latency. CPU floor = max(sync CPU, simulators' CPU, their sum / CPUs): no "
        f"schedule finishes sooner (run 1: {cpu_floor(first):.2f} s = "
        f"{cpu_floor(first) / limit['wall']:.2f}x the bound)"
    )
    print(
        "requests run 1 == bound: "
        f"{sum(first['counts'].values()) == sum(limit['counts'].values())}; "
        f"process max RSS after run 1 {first['rss_total_mb']:.0f} MB (goal: growth < 150 MB)"
    )
    if not args.naive_servers:
        return
    print(
        f"naive: measured on {args.naive_servers} server(s) in {naive['wall']:.1f} s and "
        f"extrapolated x{scale:g} (sequential per server, so it scales linearly); sync run 1 is "
        f"{naive['wall'] * scale / first['wall']:.0f}x faster"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--mailboxes", type=int, default=50)
    parser.add_argument(
        "--latency", type=float, default=0.010, help="seconds per request on every simulator"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--per-server", type=int, default=4)
    parser.add_argument("--naive-servers", type=int, default=1, help="0 skips the naive sync")
    parser.add_argument(
        "--rate", type=float, default=20.0, help="[[zimbra]] max_requests_per_second (0: none)"
    )
    parser.add_argument("--page-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    # imports zeep outside the timed runs, as any long-running process would
    import puq_bridge.zimbra.client  # noqa: F401

    t0 = time.perf_counter()
    world = World(args)
    print(f"simulators ready in {time.perf_counter() - t0:.1f} s (child process)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "usage.sqlite3"
            rate, rows = args.rate or None, args.page_rows
            first = run_engine(world, args, store, rate=rate, page_rows=rows)
            second = run_engine(world, args, store, rate=rate, page_rows=rows)
            today = run_engine(world, args, store, read_plan="domain", rate=None, page_rows=rows)
        naive = run_naive(world, args) if args.naive_servers else {"wall": 0.0, "counts": {}}
    finally:
        world.stop()
    show(args, first, second, bound(args), naive, today)


if __name__ == "__main__":
    main()
