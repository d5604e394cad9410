"""Benchmark of the operator CLI: start-up, ``check`` over several slow Zimbra servers, ``services``
with usage.

    python bench/bench_cli.py [--zimbras 6] [--latency 0.2] [--services 50]

Prints figures, asserts nothing:

- start-up: wall time of ``puq-bridge --help`` in a fresh interpreter (median of 5) against a bare
  ``python -c pass``, and how many modules it loads (zeep/lxml must not be among them);
- ``check`` with ``--zimbras`` FakeZimbra servers that each wait ``--latency`` s before every reply:
  wall time, the per-server times the command reports, and their sum (what checking one after
  another would cost);
- ``services`` for a client with ``--services`` services, each with a usage snapshot in the store:
  wall time and the WHMCS requests sent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puq_bridge.simulators.server import BackgroundServer  # noqa: E402
from puq_bridge.simulators.whmcs.app import FakeWhmcs  # noqa: E402
from puq_bridge.simulators.zimbra.app import FakeZimbra  # noqa: E402
from puq_bridge.units import GB
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage  # noqa: E402
from tests.cli.support import ZimbraTarget, write_bridge  # noqa: E402

_STARTUP = (
    "import sys, time; t = time.perf_counter(); from puq_bridge.cli import main\n"
    "try:\n    main(['--help'], prog_name='puq-bridge')\nexcept SystemExit:\n    pass\n"
    "heavy = [m for m in sys.modules if m.split('.')[0] in ('zeep', 'lxml')]\n"
    "print(len(sys.modules), len(heavy), file=sys.stderr)"
)


def _wall(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, proc.stderr


def startup() -> None:
    bare = statistics.median(_wall([sys.executable, "-c", "pass"])[0] for _ in range(5))
    runs = [_wall([sys.executable, "-c", _STARTUP]) for _ in range(5)]
    modules, heavy = runs[-1][1].split()
    print(
        f"start-up          python -c pass {1000 * bare:6.0f} ms   puq-bridge --help "
        f"{1000 * statistics.median(r[0] for r in runs):6.0f} ms   {modules} modules, {heavy} "
        "from zeep/lxml"
    )


def check(zimbras: int, latency: float) -> None:
    whmcs = FakeWhmcs()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        wserver = stack.enter_context(BackgroundServer(whmcs.wsgi_app))
        targets = []
        for n in range(1, zimbras + 1):
            whmcs.add_server(f"mail{n}", f"mail{n}.example.com", f"192.0.2.{n}")
            sim = FakeZimbra("admin@example.com", f"zimbra-pass-{n}", host=f"mail{n}.example.com")
            sim.latency = latency
            server = stack.enter_context(BackgroundServer(sim.wsgi_app))
            targets.append(
                ZimbraTarget(f"mail{n}", server.url, "admin@example.com", f"zimbra-pass-{n}", n)
            )
        bridge = write_bridge(Path(tmp), wserver.url, "whmcs-secret", zimbras=targets, timeout=30)
        started = time.perf_counter()
        result = bridge.run("check", "--json")
        took = time.perf_counter() - started
        doc = json.loads(result.stdout)
    per_server = [c["elapsed_ms"] for c in doc["checks"] if c["kind"] == "zimbra"]
    print(
        f"check             {zimbras} Zimbra x {latency:.2f} s latency (2 requests each): wall "
        f"{took:5.2f} s   per server {min(per_server)}-{max(per_server)} ms   one after another "
        f"~{sum(per_server) / 1000:5.2f} s   exit {result.exit_code}"
    )


def services(count: int) -> None:
    whmcs = FakeWhmcs()
    client = whmcs.add_client("Jan", "Kowalski", "jan@example.pl")
    pid = whmcs.add_product("Private Zimbra mail server")
    ids = [whmcs.add_service(client, pid, f"d{i}.example.pl") for i in range(count)]
    with BackgroundServer(whmcs.wsgi_app) as server, tempfile.TemporaryDirectory() as tmp:
        bridge = write_bridge(Path(tmp), server.url, "whmcs-secret")
        now = dt.datetime.now(dt.timezone.utc)
        results = [
            ServiceResult(
                sid,
                f"d{i}.example.pl",
                "mail1",
                "updated",
                i * GB // 10,
                10 * GB,
                tuple(MailboxUsage(f"u{j}@d{i}.example.pl", GB // 100, GB) for j in range(20)),
            )
            for i, sid in enumerate(ids)
        ]
        with UsageStore(bridge.store_path) as store:
            store.record_run(now, now, results)
        started = time.perf_counter()
        result = bridge.run("services", "--client-id", str(client), "--json")
        took = time.perf_counter() - started
    print(
        f"services          {count} services with usage: wall {1000 * took:6.1f} ms   "
        f"WHMCS requests {len(whmcs.requests)}   exit {result.exit_code}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zimbras", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--services", type=int, default=50)
    args = parser.parse_args()
    startup()
    check(args.zimbras, args.latency)
    services(args.services)


if __name__ == "__main__":
    main()
