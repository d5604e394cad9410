"""CPU per HTTP POST on loopback, by client stack: what one request costs the sync before any SOAP
or JSON work.

    python bench/bench_http_post.py [--requests 2000]

FakeWhmcs runs on waitress in a child process (no latency), so only this process's CPU is measured,
with ``time.thread_time`` over sequential requests on one kept-alive connection. Printed per stack,
best of 3:

- ``Session.post`` — what WhmcsClient and ZimbraAdmin used to send with (the environment
  re-read per request);
- ``Poster.post`` — ``puq_bridge.http.Poster`` over a plain session (no deadline can cut it);
- ``Poster.post, pooled_session`` — what the clients send with now: a ``DeadlineAdapter`` whose
  pools tell the request's deadline watch which connection it holds (the cost of the deadline);
- ``urllib3`` and ``http.client`` — the layers under requests, for the floor a different transport
  could reach.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BODY = (
    b"action=GetClientsProducts&identifier=whmcs-id&secret=whmcs-secret"
    b"&responsetype=json&limitnum=1"
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _serve(conn) -> None:
    from waitress.server import create_server

    from puq_bridge.simulators.whmcs.app import FakeWhmcs

    server = create_server(
        FakeWhmcs("whmcs-id", "whmcs-secret").wsgi_app, host="127.0.0.1", port=0, threads=4
    )
    conn.send(server.effective_port)
    server.run()


def cpu_per_request(send, n: int) -> float:
    """Best-of-3 CPU milliseconds of ``send()`` (after a warm-up)."""
    for _ in range(50):
        send()
    best = float("inf")
    for _ in range(3):
        t0 = time.thread_time()
        for _ in range(n):
            send()
        best = min(best, (time.thread_time() - t0) / n)
    return best * 1000


def stacks(port: int) -> dict:
    """name -> a function sending one POST and reading the whole reply."""
    import requests
    import urllib3

    from puq_bridge.http import Poster, pooled_session

    url = f"http://127.0.0.1:{port}/includes/api.php"
    session, pool = requests.Session(), urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1)
    poster = Poster(requests.Session(), url, FORM)
    watched = Poster(pooled_session(), url, FORM)
    plain = http.client.HTTPConnection("127.0.0.1", port)

    def raw() -> bytes:
        plain.request("POST", "/includes/api.php", body=BODY, headers=FORM)
        return plain.getresponse().read()

    return {
        "requests Session.post": lambda: (
            session.post(url, data=BODY, headers=FORM, timeout=30).content
        ),
        "Poster.post": lambda: poster.post(BODY, timeout=30, verify=True).content,
        "Poster.post, pooled_session": lambda: watched.post(BODY, timeout=30, verify=True).content,
        "urllib3 pool.urlopen": lambda: (
            pool.urlopen("POST", "/includes/api.php", body=BODY, headers=FORM).data
        ),
        "http.client": raw,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    child = ctx.Process(target=_serve, args=(there,), daemon=True)
    child.start()
    try:
        port = here.recv()
        print(
            f"CPU per POST of {len(BODY)} bytes on loopback, {args.requests} sequential "
            "requests, best of 3:"
        )
        for name, send in stacks(port).items():
            print(f"  {name:24} {cpu_per_request(send, args.requests):.3f} ms")
    finally:
        child.terminate()
        child.join(timeout=5)


if __name__ == "__main__":
    main()
