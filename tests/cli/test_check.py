"""``puq-bridge check`` against FakeWhmcs and several FakeZimbra servers on loopback."""

import json
import threading

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from puq_bridge.simulators.zimbra.app import FakeZimbra

from .support import ZimbraTarget, write_bridge

ZIMBRA_PASSWORDS = {
    "mail1": "zimbra-pass-one",
    "mail2": "zimbra-pass-two",
    "mail3": "zimbra-pass-three",
}
VERSIONS = {"mail1": "10.0.8_GA", "mail2": "9.0.0_GA", "mail3": "8.8.15_GA"}


@pytest.fixture
def whmcs():
    sim = FakeWhmcs()
    for n in (1, 2, 3):
        sim.add_server(f"mail{n}", f"mail{n}.example.com", f"192.0.2.{n}")
    with BackgroundServer(sim.wsgi_app) as server:
        sim.url = server.url
        yield sim


@pytest.fixture
def zimbras():
    """Three Zimbra servers by name: (simulator, running BackgroundServer)."""
    running = {}
    for name, password in ZIMBRA_PASSWORDS.items():
        sim = FakeZimbra(
            "admin@example.com", password, host=f"{name}.example.com", version=VERSIONS[name]
        )
        running[name] = (sim, BackgroundServer(sim.wsgi_app).start())
    yield running
    for _, server in running.values():
        server.stop()


def targets(zimbras, **passwords):
    return [
        ZimbraTarget(
            name,
            server.url,
            "admin@example.com",
            passwords.get(name, ZIMBRA_PASSWORDS[name]),
            whmcs_server=n,
        )
        for n, (name, (_, server)) in enumerate(zimbras.items(), start=1)
    ]


def lines_by_name(stdout):
    return {
        line.split()[1]: line
        for line in stdout.splitlines()
        if line.split()[0] in ("whmcs", "zimbra")
    }


def test_everything_answers(tmp_path, whmcs, zimbras):
    bridge = write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=targets(zimbras))
    result = bridge.run("check")
    assert result.exit_code == 0, result.output
    lines = lines_by_name(result.stdout)
    assert list(lines) == ["whmcs", "mail1", "mail2", "mail3"]
    assert "ok  API answered, 3 server(s) known" in lines["whmcs"]
    for name, version in VERSIONS.items():
        assert f"ok  {version}" in lines[name] and f" on {name}.example.com  (" in lines[name]
    assert whmcs.count("GetServers") == 1 and len(whmcs.requests) == 1
    for sim, _ in zimbras.values():
        assert [r["op"] for r in sim.requests] == ["Auth", "GetVersionInfo"]


def test_one_zimbra_down_the_others_still_reported(tmp_path, whmcs, zimbras):
    bridge = write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=targets(zimbras), timeout=1)
    zimbras["mail2"][1].stop()
    result = bridge.run("check")
    assert result.exit_code == 1
    lines = lines_by_name(result.stdout)
    assert " FAILED  Zimbra mail2 " in lines["mail2"]
    assert "ok  10.0.8_GA" in lines["mail1"] and "ok  8.8.15_GA" in lines["mail3"]
    assert " ok " in lines["whmcs"]
    assert len(result.stdout.splitlines()) == 4


def test_trickling_servers_fail_at_their_deadline_and_the_check_ends(
    tmp_path, whmcs, zimbras, bounded
):
    """Replies sent a byte at a time never trip a per-read timeout; each request's deadline ends
    them."""
    sim = zimbras["mail2"][0]
    sim.trickle_seconds = whmcs.trickle_seconds = 0.05
    sim.inject("trickle", on="GetVersionInfo")
    whmcs.inject("trickle", times=3)
    bridge = write_bridge(
        tmp_path, whmcs.url, "whmcs-secret", zimbras=targets(zimbras), timeout=0.2
    )
    result = bounded(bridge.run, "check")
    assert result.exit_code == 1
    lines = lines_by_name(result.stdout)
    assert "FAILED  Zimbra mail2 GetVersionInfo: no complete reply from " in lines["mail2"]
    assert "within the 0.6 s deadline for a request" in lines["mail2"]
    assert "FAILED  WHMCS GetServers: no complete reply from " in lines["whmcs"]
    assert "ok  10.0.8_GA" in lines["mail1"] and "ok  8.8.15_GA" in lines["mail3"]


def test_wrong_zimbra_password_is_reported_without_the_password(tmp_path, whmcs, zimbras):
    bridge = write_bridge(
        tmp_path, whmcs.url, "whmcs-secret", zimbras=targets(zimbras, mail3="not-the-password")
    )
    result = bridge.run("check")
    assert result.exit_code == 1
    line = lines_by_name(result.stdout)["mail3"]
    assert "FAILED" in line and "account.AUTH_FAILED" in line
    assert "not-the-password" not in result.output
    for password in ZIMBRA_PASSWORDS.values():
        assert password not in result.output


def test_whmcs_refusing_the_credential_fails_the_check_but_zimbra_is_still_checked(
    tmp_path, whmcs, zimbras
):
    bridge = write_bridge(tmp_path, whmcs.url, "wrong-whmcs-secret", zimbras=targets(zimbras))
    result = bridge.run("check")
    assert result.exit_code == 1
    lines = lines_by_name(result.stdout)
    assert "FAILED  WHMCS GetServers: Authentication Failed" in lines["whmcs"]
    assert all(" ok " in lines[name] for name in ZIMBRA_PASSWORDS)
    assert "wrong-whmcs-secret" not in result.output


def test_json_document(tmp_path, whmcs, zimbras):
    zimbras["mail1"][1].stop()
    bridge = write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=targets(zimbras), timeout=1)
    result = bridge.run("check", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["whmcs"]["ok"] is True and checks["whmcs"]["facts"]["servers"] == 3
    assert checks["mail1"]["ok"] is False and checks["mail1"]["error"].startswith("Zimbra mail1 ")
    facts = checks["mail2"]["facts"]
    assert facts["version"].startswith("9.0.0_GA") and facts["host"] == "mail2.example.com"
    assert set(facts) == {"version", "release", "host"}
    assert all(isinstance(c["elapsed_ms"], int) for c in doc["checks"])
    for secret in [*ZIMBRA_PASSWORDS.values(), "whmcs-secret"]:
        assert secret not in result.stdout


def test_zimbra_servers_are_checked_at_the_same_time(tmp_path, whmcs, zimbras):
    """Each server holds its first request until all three have one: a one-at-a-time check cannot
    pass."""
    barrier = threading.Barrier(len(zimbras), timeout=1.5)
    gated = {}
    for name, (sim, server) in zimbras.items():
        server.stop()
        gated[name] = BackgroundServer(_held_until_all_arrive(sim.wsgi_app, barrier)).start()
    try:
        entries = [
            ZimbraTarget(name, s.url, "admin@example.com", ZIMBRA_PASSWORDS[name], whmcs_server=n)
            for n, (name, s) in enumerate(gated.items(), start=1)
        ]
        bridge = write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=entries, timeout=3)
        result = bridge.run("check")
    finally:
        for server in gated.values():
            server.stop()
    assert result.exit_code == 0, result.output
    assert not barrier.broken


def _held_until_all_arrive(app, barrier):
    first = threading.Event()

    def wrapped(environ, start_response):
        if not first.is_set():
            first.set()
            barrier.wait()
        return app(environ, start_response)

    return wrapped


def test_no_zimbra_configured(tmp_path, whmcs):
    bridge = write_bridge(tmp_path, whmcs.url, "whmcs-secret")
    result = bridge.run("check")
    assert result.exit_code == 0, result.output
    assert "(no [[zimbra]] servers configured)" in result.stdout


def test_zimbra_entry_without_a_matching_whmcs_server_is_pointed_out(tmp_path, whmcs, zimbras):
    entries = targets(zimbras)
    entries[1].whmcs_server = "elsewhere.example.com"
    entries[2].whmcs_server = "MAIL3.example.com"
    bridge = write_bridge(tmp_path, whmcs.url, "whmcs-secret", zimbras=entries)
    result = bridge.run("check")
    # mail2 answers, but serves no WHMCS server: a typo in whmcs_server fails the check
    assert result.exit_code == 1, result.output
    lines = lines_by_name(result.stdout)
    assert "no WHMCS server matches whmcs_server of mail2" in lines["whmcs"]
    assert "FAILED" in lines["mail2"] and "matches no server WHMCS lists" in lines["mail2"]
    assert "FAILED" not in lines["mail3"]  # hostnames match whatever their case
