"""Benchmark: reading a GetQuotaUsage reply of 20,000 mailboxes (the usage sync's hot path).

Prints, measured side by side in one run (best of ``--repeat``):

1. parsing the same reply bytes: our client's parser
   (``puq_bridge.zimbra.client.parse_quota_usage``) vs plain lxml (parse + read the four attributes
   into tuples) — the goal is at most 1.5x — and, for scale, zeep's object builder;
2. a full request + parse against the same FakeZimbra served on loopback:
   ``ZimbraAdmin.quota_usage`` vs the ``python-zimbra`` package (``pip install '.[bench]'``) doing
   the same GetQuotaUsage.

Run: ``python bench/bench_quota_parse.py [--accounts 20000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puq_bridge.simulators.server import BackgroundServer  # noqa: E402
from puq_bridge.simulators.zimbra.app import FakeZimbra, populate  # noqa: E402
from puq_bridge.simulators.zimbra.wire import quota_usage_envelope  # noqa: E402
from puq_bridge.zimbra import soap as zimbra_soap  # noqa: E402
from puq_bridge.zimbra.client import ZimbraAdmin, parse_quota_usage  # noqa: E402

ADMIN, PASSWORD, DOMAIN = "admin@example.com", "bench-secret", "big.example"


def best(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Fastest wall time of ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def plain_lxml(body: bytes) -> list[tuple[str, int, int, str]]:
    """The least work that gets the same numbers out of the reply."""
    doc = etree.fromstring(body)
    response = doc.find("{*}Body")[0]
    return [(a.get("name"), int(a.get("used")), int(a.get("limit")), a.get("id")) for a in response]


def zeep_objects(body: bytes):
    """The same reply through zeep's object builder (what the hot path avoids)."""
    return zimbra_soap.deserialize("bench", "GetQuotaUsage", etree.fromstring(body))


def python_zimbra(url: str, count: int) -> Callable[[], int]:
    """A GetQuotaUsage request + parse with the python-zimbra package (authenticated once, like
    ours)."""
    from pythonzimbra.communication import Communication
    from pythonzimbra.tools import auth

    endpoint = url + "/service/admin/soap"
    token = auth.authenticate(endpoint, ADMIN, PASSWORD, admin_auth=True, raise_on_error=True)
    comm = Communication(endpoint, timeout=60)

    def run() -> int:
        request = comm.gen_request(request_type="xml", token=token)
        request.add_request(
            "GetQuotaUsageRequest", {"domain": DOMAIN, "allServers": "1"}, "urn:zimbraAdmin"
        )
        response = comm.send_request(request)
        accounts = response.get_response()["GetQuotaUsageResponse"]["account"]
        assert len(accounts) == count, len(accounts)
        return len(accounts)

    return run


def parse_section(count: int, repeat: int) -> None:
    body = quota_usage_envelope(count, domain=DOMAIN)
    t_plain, rows = best(lambda: plain_lxml(body), repeat)
    t_ours, usage = best(lambda: parse_quota_usage(body), repeat)
    t_zeep, _ = best(lambda: zeep_objects(body), max(1, repeat // 2))
    assert len(rows) == len(usage.accounts) == count
    assert [(m.name, m.used_bytes, m.limit_bytes, m.id) for m in usage.accounts] == rows
    print(f"GetQuotaUsage reply: {count} accounts, {len(body) / 1e6:.1f} MB, best of {repeat}")
    print(f"  plain lxml                 {t_plain * 1000:8.1f} ms")
    print(
        f"  puq-bridge parser          {t_ours * 1000:8.1f} ms   ratio {t_ours / t_plain:.2f}x "
        "plain lxml (goal <= 1.5x)"
    )
    print(
        f"  zeep object builder        {t_zeep * 1000:8.1f} ms   ratio {t_zeep / t_plain:.2f}x "
        "plain lxml"
    )


def request_section(count: int, repeat: int) -> None:
    sim = FakeZimbra(ADMIN, PASSWORD)
    populate(sim, DOMAIN, count)
    with BackgroundServer(sim.wsgi_app) as server:
        admin = ZimbraAdmin(server.url, ADMIN, PASSWORD, name="bench", timeout=60)
        started = time.perf_counter()
        admin.authenticate()
        t_auth = time.perf_counter() - started
        t_ours, usage = best(lambda: admin.quota_usage(DOMAIN), repeat)
        assert len(usage.accounts) == count
        try:
            theirs = python_zimbra(server.url, count)
        except ImportError:
            theirs = None
        t_theirs = best(theirs, repeat)[0] if theirs else None
        t_server, _ = best(
            lambda: sim.op_quota_usage(
                etree.fromstring(
                    f'<GetQuotaUsageRequest xmlns="urn:zimbraAdmin" domain="{DOMAIN}"/>'
                )
            ),
            repeat,
        )
    print(
        f"Full GetQuotaUsage request + parse against FakeZimbra on loopback ({count} accounts, "
        f"best of {repeat})"
    )
    print(
        f"  (the simulator itself needs {t_server * 1000:.1f} ms to build the reply; our Auth took "
        f"{t_auth * 1000:.1f} ms, once)"
    )
    print(f"  puq-bridge ZimbraAdmin     {t_ours * 1000:8.1f} ms")
    if t_theirs is None:
        print("  python-zimbra              not installed (pip install '.[bench]')")
    else:
        print(
            f"  python-zimbra 2.4          {t_theirs * 1000:8.1f} ms   "
            f"({t_theirs / t_ours:.1f}x ours)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    parse_section(args.accounts, args.repeat)
    print()
    request_section(args.accounts, args.repeat)


if __name__ == "__main__":
    main()
