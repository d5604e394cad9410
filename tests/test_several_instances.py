"""End to end: two ``serve`` processes and two ``sync-usage`` runs on one PostgreSQL store, as
behind a load balancer with cron on two hosts. A request replayed to the other instance is refused,
both instances show the same history, and two overlapping syncs end 0 and 3."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.zimbra.app import FakeZimbra
from tests.support.adapter import SECRET, signed

MB = 1024 * 1024
GB = 1024 * MB
ADMIN, ZIMBRA_PASSWORD = "admin@example.com", "zimbra-e2e-secret"
CLI = "import sys; from puq_bridge.cli import main; sys.exit(main())"


class Gate:
    """A WSGI wrapper holding every GetQuotaUsage until :attr:`release` is set (and saying when one
    arrived)."""

    def __init__(self, app):
        self.app = app
        self.arrived, self.release = threading.Event(), threading.Event()

    def __call__(self, environ, start_response):
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if b"GetQuotaUsageRequest" in body:
            self.arrived.set()
            self.release.wait(30)
        return self.app(environ, start_response)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def site(tmp_path, postgres_db, whmcs_server):
    """WHMCS with one service on one Zimbra (behind a Gate), and a config whose store is the
    PostgreSQL database."""
    whmcs, whmcs_url = whmcs_server
    zimbra = FakeZimbra(ADMIN, ZIMBRA_PASSWORD, host="mail1.example.com")
    zimbra.add_domain("firma.pl")
    zimbra.add_account("biuro@firma.pl", quota=GB, used=300 * MB)
    zimbra.add_account("sklep@firma.pl", quota=GB, used=20 * MB)
    gate = Gate(zimbra.wsgi_app)
    gate.release.set()
    server = BackgroundServer(gate).start()
    client = whmcs.add_client("Jan", "Kowalski", "jan@example.pl")
    product = whmcs.add_product("Private Zimbra mail server")
    server_id = whmcs.add_server("mail1", "mail1.example.com", "192.0.2.1")
    service_id = whmcs.add_service(client, product, "firma.pl", server_id=server_id)
    parts = urlsplit(postgres_db)
    bare = postgres_db.replace(f":{parts.password}@", "@")
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'[whmcs]\nurl = "{whmcs_url}"\nidentifier = "whmcs-id"\nsecret_env = "T_WHMCS"\n'
        "timeout = 5\n\n"
        f'[[zimbra]]\nname = "mail1"\nwhmcs_server = {server_id}\nurl = "{server.url}"\n'
        f'admin_user = "{ADMIN}"\npassword_env = "T_ZIMBRA"\ntimeout = 30\n\n'
        f'[store]\nurl = "{bare}"\npassword_env = "T_DB"\n\n'
        f'[adapter]\nsecret_env = "T_ADAPTER"\n'
    )
    env = {
        **os.environ,
        "T_WHMCS": "whmcs-secret",
        "T_ZIMBRA": ZIMBRA_PASSWORD,
        "T_DB": parts.password,
        "T_ADAPTER": SECRET,
    }
    yield {
        "config": config,
        "env": env,
        "zimbra": zimbra,
        "gate": gate,
        "whmcs": whmcs,
        "service_id": service_id,
        "server_id": server_id,
    }
    server.stop()


def start_serve(site, port):
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLI,
            "--config",
            str(site["config"]),
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        env=site["env"],
        stderr=subprocess.PIPE,
        text=True,
    )


def sync(site):
    return subprocess.Popen(
        [sys.executable, "-c", CLI, "--config", str(site["config"]), "sync-usage", "--json"],
        env=site["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_healthy(url, process):
    deadline = time.monotonic() + 30
    while True:
        try:
            reply = requests.get(url + "/healthz", timeout=2)
            if reply.status_code == 200:
                return reply.json()
        except requests.ConnectionError:
            pass
        assert process.poll() is None, process.communicate(timeout=5)[1]
        assert time.monotonic() < deadline, "serve did not become healthy"
        time.sleep(0.05)


@pytest.fixture
def instances(site):
    """Two serve processes on the same config (the same PostgreSQL store); their base URLs."""
    ports = [free_port(), free_port()]
    processes = [start_serve(site, port) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, process in zip(urls, processes):
            assert wait_healthy(url, process) == {"status": "ok"}
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            _, stderr = process.communicate(timeout=15)
            assert SECRET not in stderr and site["env"]["T_DB"] not in stderr


def call(url, function, params, body_headers=None):
    body, headers = body_headers or signed(params)
    return requests.post(f"{url}/whmcs/{function}", data=body, headers=headers, timeout=30)


def service_params(site):
    return {
        "serviceid": site["service_id"],
        "serverid": site["server_id"],
        "domain": "firma.pl",
        "username": "biuro",
        "password": "Service-Pass-321",
        "serverhostname": "mail1.example.com",
        "configoption1": "512",
        "configoption2": "20",
        "configoption5": "locked",
        "configoption6": "domain",
        "service": {"regdate": "2026-01-15", "nextduedate": "2026-12-15", "status": "Active"},
        "clientsdetails": {"language": "english"},
    }


def test_two_instances_and_two_syncs_on_one_postgresql(site, instances):
    a, b = instances
    zimbra = site["zimbra"]
    status = lambda: zimbra.domains["firma.pl"]["attrs"].get("zimbraDomainStatus")  # noqa: E731

    # A captured, signed SuspendAccount: accepted once by A, refused by B (no second suspension).
    captured = signed(service_params(site))
    assert call(a, "SuspendAccount", None, captured).json() == {"result": "success"}
    assert status() == "locked"
    assert call(a, "UnsuspendAccount", service_params(site)).json() == {"result": "success"}
    replayed = call(b, "SuspendAccount", None, captured)
    assert replayed.status_code == 401 and "already used" in replayed.json()["error"]
    assert status() == "active"

    # Two overlapping cron runs (two hosts): the first holds the lock while Zimbra answers slowly.
    gate = site["gate"]
    gate.release.clear()
    first = sync(site)
    assert gate.arrived.wait(30), first.communicate(timeout=5)
    second = sync(site)
    out, err = second.communicate(timeout=60)
    gate.release.set()
    first_out, first_err = first.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 3), (first_err, err)
    # under --json the refusal is one document on stdout, like every exit
    refusal = json.loads(out)
    assert refusal["exit_code"] == 3
    held = "another sync-usage run holds the lock (advisory lock in postgresql://"
    assert held in refusal["error"]
    assert json.loads(first_out)["totals"]["updated"] == 1
    assert site["whmcs"].count("UpdateClientProduct") == 1

    # Both instances serve the page from the same stored history (no live read of Zimbra).
    reads = zimbra.count("GetQuotaUsage")
    pages = [call(url, "ClientArea", service_params(site)).json()["result"] for url in (a, b)]
    assert zimbra.count("GetQuotaUsage") == reads
    html = [page["vars"]["puqbridge_html"] for page in pages]
    assert html[0] == html[1]
    assert (
        f'data-sort-keys="29.297 {300 * MB} {GB}"' in html[0]
    )  # biuro@firma.pl, as the sync stored it
    assert "0.3 GB of 2.0 GB (15.6%)" in html[0]
