"""How long ``puq-bridge demo`` takes (acceptance: under 20 s; aim: under 5 s), step by step.

Run: ``python bench/bench_demo.py [RUNS]``. Prints the median time of each step and of the whole
run, and the requests each server answered. Figures, not assertions.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from puq_bridge.demo.run import run_demo  # noqa: E402


def main(runs: int = 5) -> None:
    """Run the demo ``runs`` times into temporary folders and print the figures."""
    t0 = time.perf_counter()
    # zeep's import cost, paid once per process, shown apart
    import puq_bridge.zimbra.client  # noqa: F401

    print(f"import zeep + ZimbraAdmin: {time.perf_counter() - t0:.2f} s")
    reports = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            report, _ = run_demo(out)
            reports.append(report)
    first = reports[0]
    print(
        f"{runs} runs; {first.counts['mailboxes']} mailboxes, {first.counts['services']} services, "
        f"{first.counts['sync_runs']} sync runs, {len(first.pages)} pages"
    )
    previous = [0.0] * runs
    for i, line in enumerate(first.steps):
        ends = [r.step_times[i] for r in reports]
        took = statistics.median(end - prev for end, prev in zip(ends, previous))
        previous = ends
        print(f"  {took:6.3f} s  {line[:90]}")
    print(
        f"total: median {statistics.median(r.duration_s for r in reports):.2f} s, "
        f"max {max(r.duration_s for r in reports):.2f} s"
    )
    print(
        "requests answered (one run): " + ", ".join(f"{k} {v}" for k, v in first.requests.items())
    )
    print("adapter calls: " + ", ".join(f"{k} {v}" for k, v in first.adapter_calls.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
