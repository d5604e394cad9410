"""The generated PHP forwarder: PHP literals, the files written, and real round trips with `php`
against the bridge."""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.adapter import (
    SECRET,
    ZIMBRA_PASSWORD,
    Recorder,
    make_config,
)
from tests.support.zimbra import add_sample_data
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
    "name",
    ["", "Puq", "1puq", "puq-zimbra", "puq_zimbra", "puq;zimbra", "puq zimbra", "a" * 51, "puq\n"],
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
    assert "{$puqbridge_html|replace:'__PUQ_CSRF_TOKEN__':$token nofilter}" in paths[1].read_text()
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
        "ServiceSingleSignOn",
        "AdminSingleSignOn",
        "MailboxSignOn",
        "AdminPanelSignOn",
        "ClientAreaAllowedFunctions",
        "ListAccounts",
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


# --- real round trips -----------------------------------------------------------------------------


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
            {"function": "TestConnection", "params": server_form(fake)},
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


def server_form(fake, **fields) -> dict:
    """TestConnection's params: WHMCS's server form filled in with the fake Zimbra's address."""
    host, port = fake.url.removeprefix("http://").rsplit(":", 1)
    return module_params(serverhostname=host, serverip=host, serverport=port, **fields)


@needs_php
def test_test_connection_checks_the_typed_password_although_an_entry_matches(
    bridge, fake, tmp_path
):
    # the bridge's [[zimbra]] entry mail1 serves server 3 with the right password; the admin's typo
    # in WHMCS's server form must not answer success
    folder = forwarder(tmp_path, bridge.url)
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "TestConnection", "params": server_form(fake)},
            {"function": "TestConnection", "params": server_form(fake, serverpassword="typo-77")},
            {"function": "TestConnection", "params": server_form(fake, serverusername="x@y.pl")},
        ],
        tmp_path,
    )
    good, typo, user = out["results"]
    assert good == {"success": True, "error": ""}
    assert typo["success"] is False and "authentication failed" in typo["error"]
    assert user["success"] is False and "typo-77" not in json.dumps(out["results"])


@needs_php
@pytest.mark.parametrize(
    "zero",
    [
        {"Carbon": "0000-00-00"},
        {"DateTime": "0000-00-00 00:00:00"},
        {"raw": "0000-00-00"},
        {"raw": "-0001-11-30"},
    ],
)
def test_zero_dates_of_free_and_one_time_services_are_sent_as_no_date(bridge, fake, tmp_path, zero):
    # WHMCS keeps 0000-00-00 as the due date of free and one-time services; PHP prints -0001-11-30
    folder = forwarder(tmp_path, bridge.url)
    model = {**MODEL, "nextduedate": zero, "regdate": zero, "billingcycle": "Free Account"}
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "CreateAccount", "params": module_params(), "model": model},
            {"function": "ClientArea", "params": module_params(), "model": model},
        ],
        tmp_path,
    )
    created, area = out["results"]
    assert created == "success"
    sent = json.loads(bridge.recorder.bodies[-1][1])["params"]["service"]
    assert "nextduedate" not in sent and "regdate" not in sent
    assert sent["billingcycle"] == "Free Account"
    html = area["vars"]["puqbridge_html"]
    assert "biuro@firma.pl" in html and "-0001" not in html and "unavailable" not in html


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
    assert area["templatefile"] == "templates/clientarea"
    # the client's language is Polish
    assert "chwilowo niedostępne" in area["vars"]["puqbridge_html"]
    assert fake.requests == [] and fake.domains == {}


@needs_php
def test_client_area_notice_speaks_the_clients_language(tmp_path):
    """With the bridge out of reach the PHP side answers alone, with the catalogs'
    notice.unavailable."""
    from puq_bridge.clientarea.render import Renderer

    folder = forwarder(tmp_path, f"http://127.0.0.1:{free_port()}", timeout=2)

    def client(language):
        return module_params(clientsdetails={"userid": 7, "language": language})

    languages = ["polish", "Polish", "english", "german", ""]
    out = run_module(
        folder,
        "puqzimbra",
        [{"function": "ClientArea", "params": client(lang)} for lang in languages]
        + [{"function": "ClientArea", "params": {**module_params(), "clientsdetails": None}}],
        tmp_path,
    )
    renderer = Renderer()
    polish, english = (
        '<div class="alert alert-warning">'
        f'{renderer.catalog(lang).text("notice.unavailable")}</div>'
        for lang in ("pl", "en")
    )
    shown = [result["vars"]["puqbridge_html"] for result in out["results"]]
    assert shown == [polish, polish, english, english, english, english]


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
def test_https_bridge_certificate_is_verified(tmp_path, self_signed):
    import ssl

    from pytest_httpserver import HTTPServer

    cert, key = self_signed
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


# --- what WHMCS itself expects of a module --------------------------------------------------------


MODULE_TEST = Path(__file__).parent / "php" / "module_test.php"


def run_module_test(folder: Path, name: str = "puqzimbra") -> dict:
    done = subprocess.run(
        [PHP, str(MODULE_TEST), str(folder), name], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@needs_php
@pytest.mark.parametrize("state", ["bridge up", "bridge unreachable", "no settings file"])
def test_the_module_passes_whmcs_own_module_test(bridge, tmp_path, state):
    url = bridge.url if state == "bridge up" else f"http://127.0.0.1:{free_port()}"
    folder = forwarder(tmp_path, url, timeout=2)
    if state == "no settings file":
        (folder / "puqzimbra.config.php").unlink()
    out = run_module_test(folder)
    assert out["config_options"] is True
    assert {"ClientArea", "TestConnection", "CreateAccount", "MetaData"} <= set(out["checks"])
    wrong = {f: c for f, c in out["checks"].items() if c["expected"] != c["actual"]}
    assert wrong == {}


@needs_php
def test_static_functions_are_literal_arrays_that_never_ask_the_bridge(bridge, tmp_path):
    folder = forwarder(tmp_path, bridge.url)
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "MetaData"},
            {"function": "ConfigOptions"},
            {"function": "ConfigOptions", "params": module_params()},
            {"function": "AdminCustomButtonArray", "params": module_params()},
        ],
        tmp_path,
    )
    assert out["results"] == [
        dispatch("MetaData", {}, None),
        dispatch("ConfigOptions", {}, None),
        dispatch("ConfigOptions", {}, None),
        {"Sync usage now": "SyncUsage"},
    ]
    # no round trip, no module-log line: WHMCS's module and product pages never wait for the bridge
    assert bridge.recorder.bodies == [] and out["log"] == []


@needs_php
@pytest.mark.parametrize(
    "damage, why",
    [
        ("missing", "is missing"),
        ("not an array", "is not a settings file of this module"),
        ("no secret", "is not a settings file of this module"),
        ("syntax error", "cannot be read"),
    ],
)
def test_a_missing_or_broken_settings_file_gives_each_function_a_readable_error(
    tmp_path, damage, why
):
    folder = forwarder(tmp_path, f"http://127.0.0.1:{free_port()}")
    config = folder / "puqzimbra.config.php"
    if damage == "missing":
        config.unlink()
    elif damage == "not an array":
        config.write_text("<?php return 'http://127.0.0.1:8750';\n")
    elif damage == "no secret":
        config.write_text("<?php return ['url' => 'http://127.0.0.1:8750'];\n")
    else:
        config.write_text("<?php return ['url' => ;\n")
    out = run_module(
        folder,
        "puqzimbra",
        [
            {"function": "CreateAccount", "params": module_params()},
            {"function": "TestConnection", "params": module_params()},
            {"function": "ClientArea", "params": module_params()},
            {"function": "AdminServicesTabFields", "params": module_params()},
            {"function": "MetaData"},
        ],
        tmp_path,
    )
    created, test, area, fields, meta = out["results"]
    assert created.startswith(f"puq-bridge module settings {config} {why}")
    assert "puq-bridge whmcs-module --name puqzimbra" in created
    assert test == {"success": False, "error": created}
    assert area["templatefile"] == "templates/clientarea"
    assert "alert-warning" in area["vars"]["puqbridge_html"]  # the notice, in the client's language
    assert list(fields) == ["puq-bridge"]
    assert meta == dispatch("MetaData", {}, None)
    assert [e["action"] for e in out["log"]] == [
        "CreateAccount",
        "TestConnection",
        "ClientArea",
        "AdminServicesTabFields",
    ]


# --- UsageUpdate: tblhosting through WHMCS's database layer ---------------------------------------

ZERO_TIME = "0000-00-00 00:00:00"


def hosting(hid, server, pid, domain, status="Active", diskusage=0, disklimit=0) -> dict:
    """A tblhosting row as WHMCS's database holds it (what UsageUpdate uses, and two it leaves)."""
    return {
        "id": hid,
        "userid": 7,
        "server": server,
        "packageid": pid,
        "domain": domain,
        "domainstatus": status,
        "diskusage": diskusage,
        "disklimit": disklimit,
        "bwusage": 7,
        "lastupdate": ZERO_TIME,
    }


def whmcs_db(*rows) -> dict:
    return {
        "tblproducts": [{"id": 12, "servertype": "puqzimbra"}, {"id": 13, "servertype": "cpanel"}],
        "tblhosting": list(rows),
    }


def cron_params() -> dict:
    """What WHMCS's cron passes UsageUpdate: the server's fields only."""
    return {
        "serverid": 3,
        "serverip": "127.0.0.1",
        "serverhostname": "mail1.example.com",
        "serverusername": "admin@example.com",
        "serverpassword": ZIMBRA_PASSWORD,
        "serveraccesshash": "",
        "serversecure": "on",
    }


def run_with_db(folder, calls, db, tmp_path, failing=()) -> dict:
    return run_module(
        folder, "puqzimbra", {"calls": calls, "db": db, "failing": list(failing)}, tmp_path
    )


@needs_php
def test_usage_update_reads_tblhosting_asks_once_and_writes_back_in_one_pass(
    bridge, fake, tmp_path
):
    add_sample_data(fake)  # example.com, example.org
    fake.add_domain("empty.pl")  # its mailboxes were deleted: usage drops to 0
    db = whmcs_db(
        hosting(42, 3, 12, "example.com", diskusage=10),
        hosting(43, 3, 12, "example.org", "Suspended", 150, 200),
        hosting(44, 3, 12, "empty.pl", diskusage=99, disklimit=99),
        hosting(45, 3, 13, "other.pl"),  # another module's product on this server
        hosting(46, 4, 12, "example.com"),  # another server
        hosting(47, 3, 12, "gone.pl", diskusage=5),  # no such domain on Zimbra: its read fails
        hosting(48, 3, 12, "old.pl", "Terminated", 5, 5),
    )
    folder = forwarder(tmp_path, bridge.url)
    out = run_with_db(folder, [{"function": "UsageUpdate", "params": cron_params()}], db, tmp_path)
    (result,) = out["results"]
    assert result.startswith("usage update of mail1: 1 of 4 services not synced (service 47: ")
    rows = {r["id"]: r for r in out["db"]["tblhosting"]}
    figures = {hid: (r["diskusage"], r["disklimit"]) for hid, r in rows.items()}
    assert figures == {
        42: (305 + 1000, 0),  # info 300 MiB, sales 5 MiB (no quota: unlimited), locked 1000 MiB
        43: (150, 200),
        44: (0, 0),  # a drop to 0 lands
        45: (0, 0),
        46: (0, 0),
        47: (5, 0),  # not read: kept
        48: (5, 5),
    }
    updated = {hid for hid, r in rows.items() if r["lastupdate"] != ZERO_TIME}
    assert updated == {42, 43, 44}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[42]["lastupdate"])
    assert {r["bwusage"] for r in rows.values()} == {7}
    # one select, one signed call with the server's services of this module, one pass of updates
    assert [q["kind"] for q in out["queries"]] == ["select", "update", "update", "update"]
    assert [path for path, _ in bridge.recorder.bodies] == ["/whmcs/UsageUpdate"]
    sent = json.loads(bridge.recorder.bodies[0][1])["params"]["services"]
    assert [(s["id"], s["domain"], s["status"]) for s in sent] == [
        (42, "example.com", "Active"),
        (43, "example.org", "Suspended"),
        (44, "empty.pl", "Active"),
        (47, "gone.pl", "Active"),
        (48, "old.pl", "Terminated"),
    ]
    assert [e["action"] for e in out["log"]] == ["UsageUpdate"]
    assert ZIMBRA_PASSWORD not in json.dumps(out["log"][0]["request"])


@needs_php
def test_usage_update_failures_are_readable_and_write_nothing(tmp_path, bridge):
    db = whmcs_db(hosting(42, 3, 12, "example.com", diskusage=10))
    calls = [{"function": "UsageUpdate", "params": cron_params()}]
    up = forwarder(tmp_path / "up", bridge.url)
    (locked,) = run_with_db(up, calls, db, tmp_path, failing=["tblhosting"])["results"]
    assert locked.startswith("UsageUpdate: reading the services of server 3 from tblhosting")
    (no_db,) = run_module(up, "puqzimbra", calls, tmp_path)["results"]
    assert no_db.startswith("UsageUpdate needs WHMCS's database layer")
    (no_server,) = run_with_db(up, [{"function": "UsageUpdate", "params": {}}], db, tmp_path)[
        "results"
    ]
    assert no_server == "UsageUpdate: WHMCS gave no server id"
    nothing = run_with_db(up, calls, whmcs_db(), tmp_path)
    assert nothing["results"] == ["success"]
    assert bridge.recorder.bodies == []

    down = forwarder(tmp_path / "down", f"http://127.0.0.1:{free_port()}", timeout=2)
    out = run_with_db(down, calls, db, tmp_path)
    assert out["results"][0].startswith("puq-bridge is unreachable at ")
    assert out["db"]["tblhosting"] == db["tblhosting"]


@needs_php
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs root and runuser to run PHP as another user than the settings file's owner",
)
def test_a_settings_file_php_cannot_read_is_named_with_the_user_php_runs_as():
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        folder = forwarder(root, "http://127.0.0.1:9")
        shutil.copy(HARNESS, root / "harness.php")
        calls = root / "calls.json"
        calls.write_text(json.dumps([{"function": "CreateAccount", "params": module_params()}]))
        for path in [root / "whmcs", *(root / "whmcs").rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
            elif path.name != "puqzimbra.config.php":
                path.chmod(0o644)
        run = [PHP, str(root / "harness.php"), str(folder), "puqzimbra", str(calls)]
        done = subprocess.run(
            ["runuser", "-u", "nobody", "--", *run], capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 0, done.stdout + done.stderr
    (created,) = json.loads(done.stdout)["results"]
    assert created == (
        f"puq-bridge module settings {folder}/puqzimbra.config.php is not readable by the user PHP "
        "runs as (nobody): make that user its owner and keep mode 0600"
    )


@needs_php
def test_an_answer_of_the_wrong_type_is_a_readable_failure_in_the_right_type(tmp_path, httpserver):
    # a bridge of another version: WHMCS still gets the type it needs
    httpserver.expect_request("/whmcs/ClientArea").respond_with_json({"result": "<p>old</p>"})
    httpserver.expect_request("/whmcs/CreateAccount").respond_with_json({"result": ["x"]})
    folder = forwarder(tmp_path, httpserver.url_for("/").rstrip("/"))
    calls = [
        {"function": "ClientArea", "params": module_params()},
        {"function": "CreateAccount", "params": module_params()},
    ]
    area, created = run_module(folder, "puqzimbra", calls, tmp_path)["results"]
    assert "alert-warning" in area["vars"]["puqbridge_html"]  # the notice, in the client's language
    assert created == (
        "puq-bridge answered CreateAccount with an array, not a string: "
        "regenerate this module for the running bridge"
    )


def test_a_value_without_its_php_filter_fails_generation():
    """The forwarder's templates escape for PHP, not HTML: a bare value that could end a PHP string
    or comment is refused; a literal from the filters, an int and a plain word pass."""
    from whmcs_module.forwarder import _environment

    env = _environment()
    for value in ("x'; system('id'); //", "a*/b", "line\nbreak", "$secret", True, None):
        with pytest.raises(TypeError, match="not a PHP literal"):
            env.from_string("<?php $x = {{ v }};").render(v=value)
    assert env.from_string("{{ v | php_string }}").render(v="it's") == "'it\\'s'"
    assert env.from_string("{{ n }} {{ w }}").render(n=30, w="puq-bridge 0.1.0") == (
        "30 puq-bridge 0.1.0"
    )
