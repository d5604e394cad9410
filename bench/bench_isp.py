"""The usage sync at ISP scale (issue 14): the read plan, flat memory, Zimbra's DoS filter.

    python bench/bench_isp.py [--case big|million|dos|all] [--latency 0.01]

Cases, each printed with its figures side by side (timings are never asserted in tests):

- ``big``: 50 servers x 2,000 domains x 5 mailboxes (500,000 mailboxes, 100,000 services), 10 ms
  per request on every simulator (in a child process). The sync with its read plan (run 1: the
  store knows nothing, each server is counted once; run 2: the store knows), next to today's
  per-domain plan (``read_plan = "domain"``, no request rate) run on ``--domain-servers`` servers
  (one round of ``concurrency``) and scaled linearly to all: usage requests, requests, wall time,
  CPU, and the growth of this process's peak RSS over run 1. WHMCS already holds each service's
  usage, so no run writes: the figures are the reads' (writes are only on change, as before).
- ``million``: one whole-server GetQuotaUsage reply of 1,000,000 mailboxes in 10,000 domains
  (~120 MB): the client's streamed parse grouped by domain (every domain kept for the store, as
  10,000 services would need) vs plain lxml (parse + the four attributes as tuples) on the same
  bytes, each in a fresh process: time and peak RSS growth.
- ``dos``: 10 servers x 100 domains x 5 mailboxes behind Zimbra's DoS filter (30 requests a second
  per client address, 503 without Retry-After, as Jetty sends), read per domain (1,000 reads):
  at the default request rate (20 a second) and unpaced. 503s seen, retries, rows lost (services
  without their exact usage) and writes from a failed read.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import SimulatorProcess  # noqa: E402

ADMIN, PASSWORD = "admin@example.com", "zimbra-secret"
IDENTIFIER, SECRET = "whmcs-id", "whmcs-secret"
MB, GB = 1024 * 1024, 1024**3


def _domain(server: int, domain: int) -> str:
    return f"d{domain:04d}.s{server:02d}.example.pl"


def _used(server: int, domain: int, box: int) -> int:
    return (box + 1) * (domain + 1) * 100_003 + server * 7


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu(usage=None) -> float:
    usage = usage or resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the child process: simulators ----------------------------------------------------------------


def _simulators(conn, spec: dict) -> None:
    """Build the world of ``spec`` and serve it; answer commands over ``conn``."""
    from bench_sync import _Waitress

    from puq_bridge.simulators.whmcs.app import FakeWhmcs
    from puq_bridge.simulators.zimbra.app import FakeZimbra
    from puq_bridge.units import bytes_to_mb

    whmcs = FakeWhmcs(IDENTIFIER, SECRET)
    client = whmcs.add_client("Jan", "Kowalski", "jan@example.pl")
    product = whmcs.add_product("Zimbra mail")
    zimbras, running, info = [], [], []
    boxes = spec["mailboxes"]
    for s in range(spec["servers"]):
        sim = FakeZimbra(ADMIN, PASSWORD, host=f"mail{s}.example.com")
        server_id = whmcs.add_server(f"mail{s}", f"mail{s}.example.com", "192.0.2.1")
        for d in range(spec["domains"]):
            name = _domain(s, d)
            sim.add_domain(name)
            for b in range(boxes):
                sim.add_account(f"user{b}@{name}", quota=GB, used=_used(s, d, b))
            used = sum(_used(s, d, b) for b in range(boxes))
            seeded = {"disk_usage": bytes_to_mb(used), "disk_limit": boxes * 1024}
            whmcs.add_service(
                client, product, name, server_id=server_id, **(seeded if spec["seed"] else {})
            )
        sim.latency = spec["latency"]
        if spec["dos"]:
            sim.dos_filter(spec["dos"])
        zimbras.append(sim)
        running.append(_Waitress(sim.wsgi_app, threads=spec["threads"]))
        info.append((f"mail{s}", server_id, running[-1].url))
    whmcs.latency = spec["latency"]
    running.append(_Waitress(whmcs.wsgi_app, threads=4 * spec["threads"]))
    conn.send({"whmcs_url": running[-1].url, "zimbras": info})
    while True:
        command = conn.recv()
        if command == "counts":
            counts = Counter(r["action"] for r in whmcs.requests)
            counts.update(r["op"] for sim in zimbras for r in sim.requests)
            conn.send(dict(counts))
        elif command == "refused":
            conn.send(sum(len(sim.refused) for sim in zimbras))
        elif command == "writes":
            conn.send(
                [
                    int(r["params"]["serviceid"])
                    for r in whmcs.requests
                    if r["action"] == "UpdateClientProduct"
                ]
            )
        elif command == "cpu":
            conn.send(_cpu())
        elif command == "reset":
            whmcs.requests.clear()
            for sim in zimbras:
                sim.requests.clear()
                sim.refused.clear()
            conn.send(None)
        else:
            for server in running:
                server.stop()
            conn.send(None)
            return


class World(SimulatorProcess):
    """This bench's simulators (``_simulators``'s ``spec``)."""

    def __init__(self, **spec):
        super().__init__(_simulators, spec)


# --- one sync -------------------------------------------------------------------------------------


def run_sync(world: World, store_path: Path, *, plan="auto", rate=20.0, only=None, **kw) -> dict:
    """One sync run against the world; wall, request counts, servers, results, CPU, peak RSS."""
    from dataclasses import replace

    import requests

    from puq_bridge.config import ZimbraConfig
    from puq_bridge.usage.store import UsageStore
    from puq_bridge.usage.sync import SyncEngine
    from puq_bridge.whmcs.client import WhmcsClient
    from puq_bridge.zimbra.client import ZimbraAdmin

    entries = [
        ZimbraConfig(name=n, whmcs_server=sid, url=url, admin_user=ADMIN, password=PASSWORD)
        for n, sid, url in world.info["zimbras"]
    ]
    entries = [
        replace(e, read_plan=plan, max_requests_per_second=rate, timeout=120) for e in entries
    ]
    clients = []

    def factory(entry):
        clients.append(ZimbraAdmin.from_config(entry, pool_size=8))
        return clients[-1]

    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=64))
    whmcs = WhmcsClient(world.info["whmcs_url"], IDENTIFIER, SECRET, session=session, timeout=120)
    world.ask("reset")
    with UsageStore(store_path) as store:
        engine = SyncEngine(whmcs, entries, factory, store=store, **kw)
        sim_cpu, cpu, rss = world.ask("cpu"), _cpu(), _peak_mb()
        t0 = time.perf_counter()
        report = engine.run(only_servers=only)
        wall = time.perf_counter() - t0
        cpu, sim_cpu = _cpu() - cpu, world.ask("cpu") - sim_cpu
        peak = _peak_mb()
    for c in clients:
        c.close()
    return {
        "wall": wall,
        "report": report,
        "counts": world.ask("counts"),
        "refused": world.ask("refused"),
        "writes": world.ask("writes"),
        "cpu": cpu,
        "sim_cpu": sim_cpu,
        "rss_growth": peak - rss,
        "peak": peak,
    }


def _row(label: str, values) -> None:
    print(f"{label:32}" + "".join(f"{v:>24}" for v in values))


# --- case: big ------------------------------------------------------------------------------------


def case_big(args) -> None:
    from puq_bridge.zimbra import soap

    soap.wsdl()  # zeep's WSDL is loaded once per process: not part of a run's memory
    servers, domains, boxes = args.servers, args.domains, args.mailboxes
    world = World(
        servers=servers,
        domains=domains,
        mailboxes=boxes,
        latency=args.latency,
        dos=None,
        seed=True,
        threads=8,
    )
    print(
        f"\n[big] {servers} servers x {domains:,} domains x {boxes} mailboxes = "
        f"{servers * domains * boxes:,} mailboxes, {servers * domains:,} services; "
        f"{args.latency * 1000:g} ms a request; simulators built in {world.built_s:.0f} s"
    )
    few = [n for n, _, _ in world.info["zimbras"][: args.domain_servers]]
    scale = servers / len(few)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "usage.sqlite3"
            base = _rss_now_mb()
            first = run_sync(world, store)
            first["rss_growth"] = first["peak"] - base
            second = run_sync(world, store)
            today = run_sync(world, Path(tmp) / "today.sqlite3", plan="domain", rate=None, only=few)
    finally:
        world.stop()

    def usage(run, factor=1.0):
        return round(run["counts"].get("GetQuotaUsage", 0) * factor)

    def total(run, factor=1.0):
        return round(sum(run["counts"].values()) * factor)

    _row("", ["plan, run 1", "plan, run 2", f"per-domain x{scale:g}"])
    _row("usage requests", [f"{usage(first):,}", f"{usage(second):,}", f"{usage(today, scale):,}"])
    _row("requests, total", [f"{total(first):,}", f"{total(second):,}", f"{total(today, scale):,}"])
    _row(
        "wall time (s)",
        [f"{first['wall']:.1f}", f"{second['wall']:.1f}", f"{today['wall'] * scale:.1f}"],
    )
    _row(
        "CPU s, sync / simulators",
        [f"{r['cpu']:.1f} / {r['sim_cpu']:.1f}" for r in (first, second)]
        + [f"{today['cpu'] * scale:.0f} / {today['sim_cpu'] * scale:.0f}"],
    )
    _row("peak RSS growth (MB)", [f"{first['rss_growth']:.0f}", "", ""])
    plans = Counter(s.plan for s in first["report"].servers)
    print(
        f"run 1: plans {dict(plans)}, totals {first['report'].totals}; run 2 totals "
        f"{second['report'].totals}; one server's why: {first['report'].servers[0].why!r}"
    )
    ratio = usage(today, scale) / max(usage(second), 1)
    print(
        f"usage requests: {usage(second):,} (= servers x pages) vs {usage(today, scale):,} per "
        f"domain: {ratio:.0f}x fewer (goal >= 100x); peak RSS growth over run 1 "
        f"{first['rss_growth']:.0f} MB (goal < 300 MB), process peak {first['peak']:.0f} MB; "
        f"per-domain measured on {len(few)} servers in {today['wall']:.1f} s and scaled x{scale:g}"
    )


# --- case: million --------------------------------------------------------------------------------


def million_body(path: Path, domains: int, boxes: int) -> int:
    """Write a whole-server GetQuotaUsage reply of ``domains`` x ``boxes`` rows to ``path``."""
    from puq_bridge.simulators.zimbra.wire import ADMIN_NS, SOAP11

    total = domains * boxes
    with open(path, "wb") as out:
        out.write(
            f'<soap:Envelope xmlns:soap="{SOAP11}"><soap:Header><context xmlns="urn:zimbra"/>'
            f'</soap:Header><soap:Body><GetQuotaUsageResponse xmlns="{ADMIN_NS}" more="0" '
            f'searchTotal="{total}">'.encode()
        )
        for d in range(domains):
            rows = "".join(
                f'<account limit="{GB}" id="{d:08x}-{b:04x}-4000-8000-{d * boxes + b:012x}" '
                f'name="user{b:03d}@d{d:05d}.example.pl" used="{_used(0, d, b)}"/>'
                for b in range(boxes)
            )
            out.write(rows.encode())
        out.write(b"</GetQuotaUsageResponse></soap:Body></soap:Envelope>")
    return path.stat().st_size


def _parse_child(kind: str, path: str, domains: int, conn) -> None:
    """Parse the reply at ``path`` the ``kind`` way; send back time, rows and RSS growth."""
    with open(path, "rb") as f:
        body = f.read()
    from lxml import etree

    from puq_bridge.usage.plan import DomainRows
    from puq_bridge.zimbra.models import SystemAccounts
    from puq_bridge.zimbra.soap import QuotaReader

    base = _rss_now_mb()
    t0 = time.perf_counter()
    if kind == "lxml":
        doc = etree.fromstring(body, etree.XMLParser(huge_tree=True))
        reply = doc.find("{*}Body")[0]
        rows = [
            (a.get("name"), int(a.get("used")), int(a.get("limit")), a.get("id")) for a in reply
        ]
        count = len(rows)
    else:
        wanted = [f"d{d:05d}.example.pl" for d in range(domains)]
        grouped = DomainRows(wanted, SystemAccounts())
        reader = QuotaReader("bench", grouped.add)
        for i in range(0, len(body), 64 * 1024):
            reader.feed(body[i : i + 64 * 1024])
        reader.close()
        tables = [grouped.of(d) for d in wanted]
        count = sum(len(t) for t in tables)
    elapsed = time.perf_counter() - t0
    conn.send({"time": elapsed, "rows": count, "growth": _peak_mb() - base})


def case_million(args) -> None:
    domains, boxes = 10_000, 100
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reply.xml"
        size = million_body(path, domains, boxes)
        results = {}
        for kind in ("lxml", "stream") * 3:  # alternating, best of three
            parent, child = ctx.Pipe()
            process = ctx.Process(target=_parse_child, args=(kind, str(path), domains, child))
            process.start()
            got = parent.recv()
            process.join()
            best = results.get(kind)
            if best is None or got["time"] < best["time"]:
                results[kind] = got
    lx, st = results["lxml"], results["stream"]
    print(
        f"\n[million] one GetQuotaUsage reply: {domains * boxes:,} mailboxes in {domains:,} "
        f"domains, {size / 1e6:.0f} MB; each parse in a fresh process, best of three"
    )
    _row("", ["plain lxml", "streamed + grouped"])
    _row("parse time (s)", [f"{lx['time']:.2f}", f"{st['time']:.2f}"])
    _row("peak RSS growth (MB)", [f"{lx['growth']:.0f}", f"{st['growth']:.0f}"])
    _row("rows", [f"{lx['rows']:,}", f"{st['rows']:,}"])
    print(
        f"streamed / lxml = {st['time'] / lx['time']:.2f}x (goal <= 1.5x); RSS growth "
        f"{st['growth']:.0f} MB (goal < 300 MB) with every mailbox kept for the store"
    )


# --- case: dos ------------------------------------------------------------------------------------


def case_dos(args) -> None:
    servers, domains, boxes = 10, 100, 5
    print(
        f"\n[dos] {servers} servers x {domains} domains x {boxes} mailboxes behind Zimbra's DoS "
        f"filter (30 requests/s per client address, 503 without Retry-After), read per domain"
    )
    variants = [("rate 20/s (default)", 20.0, "domain"), ("unpaced", None, "domain")]
    variants.append(("rate 20/s, auto plan", 20.0, "auto"))
    _row("", [v[0] for v in variants])
    outcome = []
    for _label, rate, plan in variants:
        world = World(
            servers=servers,
            domains=domains,
            mailboxes=boxes,
            latency=args.latency,
            dos=30,
            seed=False,
            threads=8,
        )
        try:
            with tempfile.TemporaryDirectory() as tmp:
                run = run_sync(world, Path(tmp) / "usage.sqlite3", plan=plan, rate=rate)
        finally:
            world.stop()
        report = run["report"]
        expected = {
            _domain(s, d): sum(_used(s, d, b) for b in range(boxes))
            for s in range(servers)
            for d in range(domains)
        }
        lost = [r for r in report.results if r.used_bytes != expected[r.domain]]
        failed = {r.service_id for r in report.results if r.status == "failed"}
        outcome.append(
            (
                run["refused"],
                sum(s.retries for s in report.servers),
                sum(s.throttled for s in report.servers),
                len(lost),
                len(failed & set(run["writes"])),
                run["wall"],
                run["counts"].get("GetQuotaUsage", 0),
            )
        )
    _row("503s seen (by the servers)", [f"{o[0]:,}" for o in outcome])
    _row("503s met / retries (client)", [f"{o[2]:,} / {o[1]:,}" for o in outcome])
    _row("services not exact (rows lost)", [f"{o[3]:,}" for o in outcome])
    _row("writes from a failed read", [f"{o[4]:,}" for o in outcome])
    _row("usage requests", [f"{o[6]:,}" for o in outcome])
    _row("wall time (s)", [f"{o[5]:.1f}" for o in outcome])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=["big", "million", "dos", "all"], default="all")
    parser.add_argument("--latency", type=float, default=0.010)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--domains", type=int, default=2000)
    parser.add_argument("--mailboxes", type=int, default=5)
    parser.add_argument("--domain-servers", type=int, default=8)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    if args.case in ("million", "all"):
        case_million(args)
    if args.case in ("dos", "all"):
        case_dos(args)
    if args.case in ("big", "all"):
        case_big(args)
    load = os.getloadavg()
    print(
        f"\nall in {time.perf_counter() - started:.0f} s; load average after: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


if __name__ == "__main__":
    main()
