"""The generated PHP forwarder: PHP literals, the files written, and real round trips with `php` against the bridge."""

import json
import shutil
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from puq_bridge.cli import main
from tests.adapter_support import (  # noqa: F401 (fixture)
    SECRET,
    ZIMBRA_PASSWORD,
    Recorder,
    fake,
    make_config,
    write_cli_config,
)
from whmcs_module.adapter import dispatch
from whmcs_module.context import AdapterContext
from whmcs_module.forwarder import php_string, php_value, write_forwarder
from whmcs_module.http import AdapterServer, make_app

PHP = shutil.which("php")
needs_php = pytest.mark.skipif(
    PHP is None, reason="php (php-cli) is not installed; the forwarder cannot be run"
)
HARNESS = Path(__file__).parent / "php" / "harness.php"
SERVICE_PASSWORD = "Service-Pass-321"
CLIENT_HASH = "$2y$10$clientpasswordhashvalue"


def run_php(code: str) -> str:
    done = subprocess.run([PHP, "-r", code], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    return done.stdout


TRICKY = [
    "plain",
    "it's",
    "back\\slash",
    "ends with \\",
    "\\'",
    "?> <?php echo 1; ?>",
    "line\nbreak",
    "zażółć gęślą jaźń",
    '$var {$x} "dq"',
    "",
]


@needs_php
def test_php_string_round_trips_through_php():
    code = "echo json_encode([" + ", ".join(php_string(s) for s in TRICKY) + "]);"
    assert json.loads(run_php(code)) == TRICKY


@needs_php
def test_php_value_round_trips_nested_data():
    value = {"a": [1, 2.5, True, False, None, "x'y"], "b": {"c": "d\\"}, "e": []}
    assert json.loads(run_php(f"echo json_encode({php_value(value)});")) == value


def test_php_value_refuses_what_it_cannot_express():
    with pytest.raises(TypeError):
        php_value(object())
    with pytest.raises(ValueError):
        php_value(float("nan"))


@pytest.mark.parametrize(
    "name", ["", "Puq", "1puq", "puq-zimbra", "puq;zimbra", "puq zimbra", "a" * 51, "puq\n"]
)
def test_bad_module_names_are_refused(name, tmp_path):
    with pytest.raises(ValueError, match="invalid module name"):
        write_forwarder(name, tmp_path, "http://127.0.0.1:8750", SECRET)
    assert not (tmp_path / "modules").exists()


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:8750", "http://x'y", ""])
def test_bad_bridge_urls_are_refused(url, tmp_path):
    with pytest.raises(ValueError, match="bridge URL"):
        write_forwarder("puqzimbra", tmp_path, url, SECRET)


def test_files_written_and_config_is_private(tmp_path):
    stale = tmp_path / "modules" / "servers" / "puqzimbra" / "puqzimbra.config.php"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    stale.chmod(0o644)
    paths = write_forwarder("puqzimbra", tmp_path, "http://127.0.0.1:8750/", SECRET)
    folder = tmp_path / "modules" / "servers" / "puqzimbra"
    addon = tmp_path / "modules" / "addons" / "puqzimbra"
    assert paths == [
        folder / "puqzimbra.php",
        folder / "templates" / "clientarea.tpl",
        addon / "puqzimbra.php",
        addon / "lang" / "english.php",
        addon / "lang" / "polish.php",
        stale,
    ]
    assert all(SECRET not in p.read_text() for p in paths[:-1])
    assert stat.S_IMODE(stale.stat().st_mode) == 0o600
    assert SECRET in stale.read_text() and SECRET not in paths[0].read_text()
    assert "{$puqbridge_html nofilter}" in paths[1].read_text()
    source = paths[0].read_text()
    for function in (
        "MetaData",
        "ConfigOptions",
        "TestConnection",
        "CreateAccount",
        "SuspendAccount",
        "UnsuspendAccount",
        "TerminateAccount",
        "ChangePassword",
        "ChangePackage",
        "ClientArea",
        "UsageUpdate",
        "AdminServicesTabFields",
        "AdminCustomButtonArray",
        "SyncUsage",
    ):
        assert f"function puqzimbra_{function}(" in source


@needs_php
def test_generated_files_are_valid_php_and_refuse_direct_access(tmp_path):
    for path in write_forwarder("puqzimbra", tmp_path, "http://127.0.0.1:8750", "s'e\\cret"):
        if path.suffix == ".php":
            assert (
                "No syntax errors"
                in subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True).stdout
            )
            assert (
                "cannot be accessed directly"
                in subprocess.run([PHP, str(path)], capture_output=True, text=True).stdout
            )


# --- the CLI -----------------------------------------------------------------------------------------------------


def test_cli_writes_the_module(tmp_path):
    config = write_cli_config(tmp_path, f'listen = "127.0.0.1:8751"\nsecret = "{SECRET}"')
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "whmcs-module",
            "--name",
            "puqzimbra",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / "modules" / "servers" / "puqzimbra" / "puqzimbra.config.php"
    assert str(written) in result.output
    assert "'http://127.0.0.1:8751'" in written.read_text()
    assert SECRET not in result.output


def test_cli_bridge_url_option_wins(tmp_path):
    config = write_cli_config(tmp_path, f'secret = "{SECRET}"')
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "whmcs-module",
            "--name",
            "m1",
            "--out",
            str(tmp_path),
            "--bridge-url",
            "https://bridge.example.com:8443",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        "'https://bridge.example.com:8443'"
        in (tmp_path / "modules/servers/m1/m1.config.php").read_text()
    )


@pytest.mark.parametrize(
    "adapter, args, expect, code",
    [
        ('listen = "127.0.0.1:8750"', ["--name", "ok"], "adapter.secret", 2),
        (f'secret = "{SECRET}"', ["--name", "Bad-Name"], "invalid module name", 2),
        (f'listen = "0.0.0.0:8750"\nsecret = "{SECRET}"', ["--name", "ok"], "--bridge-url", 2),
    ],
)
def test_cli_refuses_bad_input_in_one_line(tmp_path, adapter, args, expect, code):
    config = write_cli_config(tmp_path, adapter)
    result = CliRunner().invoke(
        main, ["--config", str(config), "whmcs-module", *args, "--out", str(tmp_path)]
    )
    assert result.exit_code == code
    assert expect in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "modules").exists()


# --- real round trips --------------------------------------------------------------------------------------------


@pytest.fixture
def bridge(fake, tmp_path):
    from puq_bridge.usage.store import UsageStore

    entry = {
        "name": "mail1",
        "whmcs_server": 3,
        "url": fake.url,
        "admin_user": "admin@example.com",
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }
    store = UsageStore(tmp_path / "usage.sqlite3")
    ctx = AdapterContext(make_config([entry]), store=store)
    recorder = Recorder(make_app(ctx, SECRET))
    with AdapterServer(recorder) as server:
        server.recorder = recorder
        yield server
    ctx.close()
    store.close()


def module_params(**extra):
    params = {
        "serviceid": 42,
        "userid": 7,
        "pid": 12,
        "serverid": 3,
        "domain": "firma.pl",
        "username": "biuro",
        "password": SERVICE_PASSWORD,
        "producttype": "other",
        "moduletype": "puqzimbra",
        "serverip": "127.0.0.1",
        "serverhostname": "mail1.example.com",
        "serverusername": "admin@example.com",
        "serverpassword": ZIMBRA_PASSWORD,
        "serversecure": "",
        "serverport": "",
        "serveraccesshash": "hash-xyz",
        "configoption1": "512",
        "configoption2": "10",
        "configoption3": "5",
        "configoption4": "",
        "configoption5": "locked",
        "configoption6": "domain",
        "customfields": {"Note": "x"},
        "configoptions": {},
        "clientsdetails": {
            "userid": 7,
            "firstname": "Jan",
            "email": "jan@firma.pl",
            "language": "polish",
            "currency_code": "PLN",
            "password": CLIENT_HASH,
        },
    }
    params.update(extra)
    return params


MODEL = {
    "regdate": "2026-01-15",
    "nextduedate": "2026-12-15",
    "billingcycle": "Monthly",
    "amount": "49.00",
    "paymentmethod": "banktransfer",
    "domainstatus": "Active",
    "dedicatedip": "192.0.2.10",
}


def run_module(folder: Path, name: str, calls: list[dict], tmp_path: Path) -> dict:
    calls_file = tmp_path / "calls.json"
    calls_file.write_text(json.dumps(calls))
    done = subprocess.run(
        [PHP, str(HARNESS), str(folder), name, str(calls_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def forwarder(tmp_path, url, secret=SECRET, timeout=5) -> Path:
    write_forwarder("puqzimbra", tmp_path / "whmcs", url, secret, timeout=timeout)
    return tmp_path / "whmcs" / "modules" / "servers" / "puqzimbra"


@needs_php
def test_round_trip_through_php(bridge, fake, tmp_path):
    folder = forwarder(tmp_path, bridge.url)
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "TestConnection", "params": module_params()},
            {"function": "CreateAccount", "params": module_params(), "model": MODEL},
            {"function": "CreateAccount", "params": module_params(), "model": MODEL},
            {"function": "SuspendAccount", "params": module_params()},
            {"function": "ClientArea", "params": module_params(), "model": MODEL},
            {"function": "ClientArea", "params": module_params()},
            {"function": "MetaData"},
            {"function": "AdminCustomButtonArray", "params": module_params()},
        ],
        tmp_path,
    )
    test, created, again, suspended, area, area_no_model, meta, buttons = out["results"]
    assert test == {"success": True, "error": ""}
    assert created == again == suspended == "success"
    assert fake.accounts["biuro@firma.pl"]["attrs"]["zimbraMailQuota"] == str(512 * 1048576)
    assert fake.domains["firma.pl"]["attrs"]["zimbraDomainStatus"] == "locked"
    assert area["templatefile"] == "templates/clientarea"
    html = area["vars"]["puqbridge_html"]
    assert "biuro@firma.pl" in html and "49" in html and "mail1.example.com" in html
    assert "biuro@firma.pl" in area_no_model["vars"]["puqbridge_html"]
    assert meta == dispatch("MetaData", {}, None) and buttons == {"Sync usage now": "SyncUsage"}

    sent = [json.loads(body)["params"] for path, body in bridge.recorder.bodies]
    assert all("model" not in p and "serveraccesshash" not in p for p in sent)
    assert all("password" not in p.get("clientsdetails", {}) for p in sent)
    assert sent[1]["service"] == {
        k: MODEL[v]
        for k, v in {
            "regdate": "regdate",
            "nextduedate": "nextduedate",
            "billingcycle": "billingcycle",
            "amount": "amount",
            "paymentmethod": "paymentmethod",
            "status": "domainstatus",
            "dedicatedip": "dedicatedip",
        }.items()
    }
    assert (
        sent[5]["service"] == {}
        and sent[1]["customfields"] == {"Note": "x"}
        and sent[1]["configoptions"] == {}
    )

    assert [entry["action"] for entry in out["log"]][:3] == [
        "TestConnection",
        "CreateAccount",
        "CreateAccount",
    ]
    logged = json.dumps([{k: v for k, v in e.items() if k != "replace"} for e in out["log"]])
    for secret in (SECRET, SERVICE_PASSWORD, ZIMBRA_PASSWORD, CLIENT_HASH):
        assert secret not in logged
    assert {SECRET, SERVICE_PASSWORD, ZIMBRA_PASSWORD} <= set(out["log"][1]["replace"])


@needs_php
def test_forged_secret_gets_a_readable_error_and_changes_nothing(bridge, fake, tmp_path):
    folder = forwarder(tmp_path, bridge.url, secret="not-the-shared-secret")
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "CreateAccount", "params": module_params()},
            {"function": "TestConnection", "params": module_params()},
            {"function": "ClientArea", "params": module_params()},
        ],
        tmp_path,
    )
    created, test, area = out["results"]
    assert created == "puq-bridge answered HTTP 401: signature does not match"
    assert test == {"success": False, "error": created}
    assert "temporarily unavailable" in area and "<div" in area
    assert fake.requests == [] and fake.domains == {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_php
def test_unreachable_bridge_gives_readable_errors_and_fallbacks(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    folder = forwarder(tmp_path, url, timeout=2)
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "CreateAccount", "params": module_params()},
            {"function": "TestConnection", "params": module_params()},
            {"function": "MetaData"},
            {"function": "ConfigOptions"},
            {"function": "AdminServicesTabFields", "params": module_params()},
        ],
        tmp_path,
    )
    created, test, meta, options, fields = out["results"]
    assert (
        created.startswith(f"puq-bridge is unreachable at {url}: ") and "refused" in created.lower()
    )
    assert test["success"] is False and test["error"] == created
    assert meta == dispatch("MetaData", {}, None)
    assert options == dispatch("ConfigOptions", {}, None)
    assert list(fields) == ["puq-bridge"]


@needs_php
def test_non_json_reply_is_a_readable_error(tmp_path, httpserver):
    httpserver.expect_request("/whmcs/CreateAccount").respond_with_data(
        "<html>502</html>", status=200
    )
    folder = forwarder(tmp_path, httpserver.url_for("/").rstrip("/"))
    out = run_module(
        folder, "puqzimbra", [{"function": "CreateAccount", "params": module_params()}], tmp_path
    )
    assert out["results"] == ["puq-bridge answered something that is not its JSON reply"]


@needs_php
@pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed (needed to make a test cert)"
)
def test_https_bridge_certificate_is_verified(tmp_path):
    import ssl

    from pytest_httpserver import HTTPServer

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/whmcs/CreateAccount").respond_with_json({"result": "success"})
    server.start()
    try:
        folder = forwarder(tmp_path, f"https://127.0.0.1:{server.port}")
        out = run_module(
            folder,
            "puqzimbra",
            [{"function": "CreateAccount", "params": module_params()}],
            tmp_path,
        )
    finally:
        server.clear()
        server.stop()
    (created,) = out["results"]
    assert created.startswith("puq-bridge is unreachable at https://127.0.0.1:")
    assert "certificate" in created.lower() or "crypto" in created.lower()
    assert server.log == []
