"""The adapter's HTTP service on a real waitress server: signatures, limits, status codes, logs."""

import io
import json
import logging
import socket
import time

import pytest
import requests
from werkzeug.test import Client, EnvironBuilder

from tests.support.adapter import (
    SECRET,
    WHMCS_SECRET,
    ZIMBRA_PASSWORD,
    make_config,
    post,
    signed,
)
from whmcs_module.context import AdapterContext
from whmcs_module.http import AdapterServer, make_app
from whmcs_module.signing import HEADER, sign

MAX_BODY = 4096
SERVICE_PASSWORD = "Service-Pass-321"


@pytest.fixture
def ctx(fake):
    entry = {
        "name": "mail1",
        "whmcs_server": 3,
        "url": fake.url,
        "admin_user": "admin@example.com",
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }
    context = AdapterContext(make_config([entry], max_body=MAX_BODY))
    yield context
    context.close()


@pytest.fixture
def bridge(ctx):
    with AdapterServer(make_app(ctx, SECRET, max_body=MAX_BODY), max_body=MAX_BODY) as server:
        yield server


def create_params(**extra):
    params = {
        "serviceid": 42,
        "serverid": 3,
        "domain": "firma.pl",
        "username": "biuro",
        "password": SERVICE_PASSWORD,
        "configoption1": "512",
        "configoption2": "10",
    }
    params.update(extra)
    return params


# --- the service ----------------------------------------------------------------------------------


def test_signed_request_runs_the_function(bridge, fake):
    reply = post(bridge, "CreateAccount", create_params())
    assert reply.status_code == 200
    assert reply.json() == {"result": "success"}
    assert "biuro@firma.pl" in fake.accounts
    assert reply.headers["Content-Type"].startswith("application/json")


def test_metadata_and_config_options(bridge):
    meta = post(bridge, "MetaData").json()["result"]
    assert meta["APIVersion"] == "1.1" and meta["RequiresServer"] is True
    options = post(bridge, "ConfigOptions").json()["result"]
    assert list(options)[0] == "Default mailbox quota (MB)"
    assert options["Suspension policy"]["Type"] == "dropdown"


def _bad_signatures():
    body, _ = signed(create_params())
    now = int(time.time())
    return body, {
        "missing": {},
        "forged": {HEADER: sign("not-the-secret", body, now)},
        "stale": {HEADER: sign(SECRET, body, now - 301)},
        "future": {HEADER: sign(SECRET, body, now + 301)},
        "other body": {HEADER: sign(SECRET, b'{"params": {}}', now)},
        "garbage": {HEADER: "t=abc"},
    }


@pytest.mark.parametrize("case", ["missing", "forged", "stale", "future", "other body", "garbage"])
def test_bad_signature_is_401_and_does_nothing(bridge, fake, case):
    body, headers = _bad_signatures()
    reply = post(bridge, "CreateAccount", body=body, headers=headers[case])
    assert reply.status_code == 401
    assert "result" not in reply.json()
    assert fake.requests == []


def test_replayed_request_is_401_and_does_nothing(bridge, fake):
    body, headers = signed(create_params(domain="replay.pl"))
    assert post(bridge, "CreateAccount", body=body, headers=headers).status_code == 200
    seen = len(fake.requests)
    fake.domains.clear()
    reply = post(bridge, "CreateAccount", body=body, headers=headers)
    assert reply.status_code == 401 and "already used" in reply.json()["error"]
    assert len(fake.requests) == seen and "replay.pl" not in fake.domains


def test_oversized_body_is_413_before_reading(bridge, fake):
    params = create_params(padding="x" * MAX_BODY)
    reply = post(bridge, "CreateAccount", params)
    assert reply.status_code == 413
    assert fake.requests == []


def test_declared_length_over_the_limit_is_refused_without_sending_the_body(bridge):
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=5) as sock:
        sock.sendall(
            b"POST /whmcs/MetaData HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert (
        reply.split(b"\r\n")[0].endswith(b"413 Request Entity Too Large") or b" 413 " in reply[:20]
    )


class CountingStream(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.asked = 0

    def read(self, size=-1):
        self.asked += size if size and size > 0 else 10**9
        return super().read(size)


def test_app_itself_checks_length_and_caps_the_read(ctx):
    app = make_app(ctx, SECRET, max_body=100)
    client = Client(app)
    body, headers = signed({"domain": "x" * 200})
    assert client.post("/whmcs/MetaData", data=body, headers=headers).status_code == 413

    body, headers = signed({})
    stream = CountingStream(body + b"x" * 10_000)
    environ = EnvironBuilder(path="/whmcs/MetaData", method="POST", headers=headers).get_environ()
    environ.update({"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))})
    statuses = []
    reply = b"".join(app(environ, lambda status, headers: statuses.append(status)))
    assert statuses == ["200 OK"] and json.loads(reply)["result"]["APIVersion"] == "1.1"
    assert stream.asked == len(body)


@pytest.mark.parametrize(
    "path, status",
    [("/whmcs/NoSuchFunction", 404), ("/other", 404), ("/whmcs/../etc", 404), ("/whmcs/", 404)],
)
def test_unknown_paths_are_404(bridge, path, status):
    body, headers = signed({})
    reply = requests.post(bridge.url + path, data=body, headers=headers, timeout=5)
    assert reply.status_code == status


def test_unknown_function_needs_a_signature_first(bridge):
    reply = requests.post(bridge.url + "/whmcs/NoSuchFunction", data=b"{}", timeout=5)
    assert reply.status_code == 401


def test_get_is_405(bridge):
    reply = requests.get(bridge.url + "/whmcs/MetaData", timeout=5)
    assert reply.status_code == 405 and reply.headers["Allow"] == "POST"


@pytest.mark.parametrize("body", [b"not json", b'{"params": [1, 2]}', b"[1]", b"\xff\xfe"])
def test_bad_json_is_400(bridge, body):
    headers = {HEADER: sign(SECRET, body)}
    reply = post(bridge, "MetaData", body=body, headers=headers)
    assert reply.status_code == 400 and reply.json()["error"]


def test_bad_params_give_a_readable_result_not_an_error_status(bridge, fake):
    reply = post(bridge, "CreateAccount", create_params(domain="not a domain"))
    assert reply.status_code == 200
    assert reply.json()["result"] == "invalid domain name 'not a domain'"
    assert fake.requests == []


def test_no_secret_in_replies_or_logs(bridge, fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.inject("http500", on="CreateAccount")
    replies = [
        post(bridge, "CreateAccount", create_params()),
        post(
            bridge,
            "TestConnection",
            create_params(
                serverid=99,
                serverhostname="127.0.0.1",
                serverport=str(fake.url.rsplit(":", 1)[1]),
                serverusername="admin@example.com",
                serverpassword="wrong-password-555",
            ),
        ),
        post(bridge, "ChangePassword", create_params(username="nobody")),
    ]
    text = " ".join(r.text for r in replies) + caplog.text
    for secret in (SECRET, WHMCS_SECRET, ZIMBRA_PASSWORD, SERVICE_PASSWORD, "wrong-password-555"):
        assert secret not in text
    assert "v1=" not in caplog.text and '"params"' not in caplog.text
    assert replies[1].json()["result"]["success"] is False


def test_access_log_names_path_status_and_duration(bridge, caplog):
    caplog.set_level(logging.INFO, logger="whmcs_module.http.access")
    post(bridge, "MetaData")
    requests.get(bridge.url + "/whmcs/MetaData", timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "whmcs_module.http.access"]
    assert any(
        line.startswith("POST /whmcs/MetaData 200 ") and line.endswith(" ms") for line in lines
    )
    assert any(line.startswith("GET /whmcs/MetaData 405 ") for line in lines)


def test_stopped_server_refuses_connections(ctx):
    server = AdapterServer(make_app(ctx, SECRET)).start()
    url = server.url
    assert requests.post(url + "/whmcs/MetaData", timeout=5).status_code == 401
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(url + "/whmcs/MetaData", timeout=2)


# --- several instances on one store: shared replay protection, /healthz ---------------------------


@pytest.fixture
def two_bridges(fake, store_location):
    """Two adapter services (two instances behind a load balancer), each with its own store object
    on one database."""
    from puq_bridge.usage.store import UsageStore

    entry = {
        "name": "mail1",
        "whmcs_server": 3,
        "url": fake.url,
        "admin_user": "admin@example.com",
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }
    stores = [UsageStore(store_location), UsageStore(store_location)]
    contexts = [AdapterContext(make_config([entry]), store=s) for s in stores]
    servers = [AdapterServer(make_app(c, SECRET)).start() for c in contexts]
    yield servers
    for server, context, store in zip(servers, contexts, stores):
        server.stop()
        context.close()
        store.close()


def test_a_request_replayed_to_another_instance_is_401_and_does_nothing(two_bridges, fake):
    a, b = two_bridges
    post(a, "CreateAccount", create_params(domain="replay.pl"))
    body, headers = signed(create_params(domain="replay.pl"))
    assert post(a, "SuspendAccount", body=body, headers=headers).status_code == 200
    assert fake.domains["replay.pl"]["attrs"]["zimbraDomainStatus"] == "locked"
    post(a, "UnsuspendAccount", create_params(domain="replay.pl"))
    seen = len(fake.requests)
    replayed = post(b, "SuspendAccount", body=body, headers=headers)
    assert replayed.status_code == 401 and "already used" in replayed.json()["error"]
    assert len(fake.requests) == seen
    assert fake.domains["replay.pl"]["attrs"]["zimbraDomainStatus"] == "active"


def test_a_request_captured_before_a_restart_is_refused_after_it(fake, store_location):
    from puq_bridge.usage.store import UsageStore

    context = AdapterContext(make_config())
    body, headers = signed({})
    for attempt, expected in ((1, 200), (2, 401)):  # one process, then its restart
        with UsageStore(store_location) as store:
            app = make_app(AdapterContext(context.config, store=store), SECRET)
            with AdapterServer(app) as server:
                assert post(server, "MetaData", body=body, headers=headers).status_code == expected


def test_healthz_is_unsigned_and_says_only_ok(two_bridges):
    reply = requests.get(two_bridges[0].url + "/healthz", timeout=5)
    assert reply.status_code == 200 and reply.json() == {"status": "ok"}
    assert requests.head(two_bridges[0].url + "/healthz", timeout=5).status_code == 200
    refused = requests.post(two_bridges[0].url + "/healthz", timeout=5)
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"


def test_healthz_without_a_store(bridge):
    assert requests.get(bridge.url + "/healthz", timeout=5).json() == {"status": "ok"}


def test_a_postgresql_store_that_stops_answering_is_503_everywhere(fake, postgres_url, caplog):
    """The database goes away under a running instance: /healthz is 503 (so the load balancer takes
    the instance out), a signed call is 503 and runs nothing (a replay could not be told from a
    first use), the reply says nothing of the cause; the log names it."""
    from puq_bridge.usage.backends.postgres import PostgresBackend
    from puq_bridge.usage.store import UsageStore
    from tests.support.store import create_database, drop_database

    url = create_database(postgres_url, "puq_gone")
    store = UsageStore(PostgresBackend(url, timeout=0.5))
    context = AdapterContext(make_config(), store=store)
    try:
        with AdapterServer(make_app(context, SECRET)) as server:
            assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
            drop_database(postgres_url, url)
            health = requests.get(server.url + "/healthz", timeout=10)
            assert health.status_code == 503 and health.json() == {"status": "unavailable"}
            body, headers = signed(create_params(domain="never.pl"))
            reply = post(server, "CreateAccount", body=body, headers=headers)
            assert reply.status_code == 503 and "never.pl" not in fake.domains
            assert reply.json() == {"error": "usage store unavailable; nothing done"}
    finally:
        store.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "health check: unavailable: usage store postgresql://postgres@127.0.0.1:" in logged
    assert "does not exist" in logged
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in logged and password not in health.text + reply.text


# --- under pressure: limits, odd bodies, the log ------------------------------------------------


def test_a_body_of_exactly_max_body_bytes_is_served_and_one_more_is_413(bridge):
    def body_of(size):
        head = b'{"params": {}, "pad": "'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    for size, status in ((MAX_BODY, 200), (MAX_BODY + 1, 413)):
        body = body_of(size)
        assert len(body) == size
        headers = {HEADER: sign(SECRET, body, int(time.time()))}
        assert post(bridge, "MetaData", body=body, headers=headers).status_code == status, size


def test_deeply_nested_json_is_400_not_500(bridge):
    body = b'{"params": ' + b"[" * 1500 + b"]" * 1500 + b"}"
    headers = {HEADER: sign(SECRET, body, int(time.time()))}
    reply = post(bridge, "MetaData", body=body, headers=headers)
    assert reply.status_code == 400 and "nested" in reply.json()["error"]


def test_a_newline_in_the_path_forges_no_log_line(bridge, caplog):
    caplog.set_level(logging.INFO, logger="whmcs_module.http.access")
    requests.post(bridge.url + "/whmcs/Meta%0aPOST /whmcs/CreateAccount 200 1.0 ms", timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "whmcs_module.http.access"]
    assert lines and all("\n" not in line for line in lines)
    assert any("\\n" in line for line in lines)


def test_many_slow_clients_do_not_lock_whmcs_out(bridge):
    """120 connections that trickle their headers and never finish (a scan, a broken proxy):
    waitress's default limit of 100 would queue WHMCS's calls behind them."""
    idle = []
    try:
        for _ in range(120):
            sock = socket.create_connection(("127.0.0.1", bridge.port), timeout=5)
            sock.sendall(b"POST /whmcs/MetaData HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        assert post(bridge, "MetaData", {}).status_code == 200
    finally:
        for sock in idle:
            sock.close()
