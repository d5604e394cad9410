"""Benchmark of the client-area render alone (no WHMCS, no store, no Zimbra): a domain of 1,000
mailboxes.

    python bench/bench_render.py [--mailboxes 1000] [--days 90] [--repeat 30]

Prints, per output (both tabs as WHMCS's ClientArea, the standalone page) and language: the first
render of a fresh Renderer (templates compiled, catalogs loaded), then the median and worst of
``--repeat`` warm renders, and the size of the HTML. The data are built once beforehand, so only the
render is timed. A last line splits a warm ClientArea render into its parts: the view model
(sorting, the mailbox table and bars formatted in Python), the chart geometry, and the templates
(the rest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puq_bridge.clientarea.chart import build_chart  # noqa: E402
from puq_bridge.clientarea.facts import ServiceFacts
from puq_bridge.clientarea.render import Renderer  # noqa: E402
from puq_bridge.clientarea.view import build_view
from puq_bridge.units import GB, MB
from puq_bridge.usage.records import DailyPoint, Snapshot  # noqa: E402
from puq_bridge.zimbra.models import MailboxUsage  # noqa: E402

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)


def sample(mailboxes: int, days: int) -> tuple[ServiceFacts, Snapshot, list[DailyPoint]]:
    """Facts, a snapshot of ``mailboxes`` mailboxes (every tenth unlimited) and ``days`` of
    history."""
    facts = ServiceFacts(
        42,
        "firma.pl",
        "Active",
        dt.date(2026, 1, 15),
        dt.date(2026, 12, 15),
        "Monthly",
        Decimal("49.00"),
        "PLN",
        "Bank Transfer",
        "mail1.example.com",
        "192.0.2.10",
        "https://mail1.example.com/",
        "https://mail1.example.com:7071/zimbraAdmin/",
        500 * GB,
        "polish",
    )
    boxes = tuple(
        MailboxUsage(f"user{i:04d}@firma.pl", (i * 7919) % 2048 * MB, 0 if i % 10 == 0 else 2 * GB)
        for i in range(mailboxes)
    )
    snap = Snapshot(
        42,
        "firma.pl",
        "mail1",
        NOW - dt.timedelta(hours=2),
        sum(m.used_bytes for m in boxes),
        500 * GB,
        boxes,
    )
    first = NOW.date() - dt.timedelta(days=days - 1)
    history = [
        DailyPoint(first + dt.timedelta(days=i), snap.used_bytes * (i + 1) // days, 500 * GB)
        for i in range(days)
    ]
    return facts, snap, history


def measure(kind: str, lang: str, data, repeat: int) -> tuple[float, list[float], int]:
    """(first render s, warm render times s, HTML bytes) for one output kind and language."""
    renderer = Renderer()
    render = getattr(renderer, kind)
    start = time.perf_counter()
    html = render(*data, lang=lang, now=NOW)
    first = time.perf_counter() - start
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        render(*data, lang=lang, now=NOW)
        warm.append(time.perf_counter() - start)
    return first, warm, len(html.encode("utf-8"))


def median_ms(action, repeat: int) -> float:
    """The median time of ``repeat`` calls of ``action`` in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def breakdown(data, repeat: int) -> str:
    """Where a warm Polish ClientArea render goes: view model, chart, templates."""
    renderer = Renderer()
    fmt = renderer.catalog("pl")
    total = median_ms(lambda: renderer.client_area(*data, lang="pl", now=NOW), repeat)
    view = median_ms(
        lambda: build_view(*data, now=NOW, fmt=fmt, bars_limit=renderer.bars_limit), repeat
    )
    chart = median_ms(lambda: build_chart(data[2], fmt), repeat)
    return (
        f"client_area pl split: view model {view:.1f} ms, chart {chart:.1f} ms, "
        f"templates {total - view - chart:.1f} ms (of {total:.1f} ms)"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the options, time the renders, print one line per output and language."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    data = sample(args.mailboxes, args.days)
    print(
        f"render of {args.mailboxes} mailboxes, {args.days} days of history, {args.repeat} warm "
        "renders each"
    )
    print(
        f"{'output':<12} {'lang':<4} {'first ms':>9} {'median ms':>10} {'max ms':>8} {'HTML kB':>8}"
    )
    for kind in ("client_area", "page"):
        for lang in ("pl", "en"):
            first, warm, size = measure(kind, lang, data, args.repeat)
            print(
                f"{kind:<12} {lang:<4} {first * 1000:9.1f} {statistics.median(warm) * 1000:10.1f} "
                f"{max(warm) * 1000:8.1f} {size / 1024:8.1f}"
            )
    print(breakdown(data, args.repeat))


if __name__ == "__main__":
    main()
