"""The addon's functions in the adapter: their own signed path (401/404/405/413 as for the server
module), what the generated PHP sends (only the page's own parameters; the action once), actions
that are refused, and failures that become a readable box."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.adapter import SECRET, ZIMBRA_PASSWORD, Recorder, make_config, signed
from whmcs_module.addon import dispatch_addon
from whmcs_module.context import AdapterContext
from whmcs_module.forwarder import write_forwarder
from whmcs_module.http import AdapterServer, make_app
from whmcs_module.signing import HEADER, sign

PHP = shutil.which("php")
HARNESS = Path(__file__).parent / "php" / "addon_harness.php"
FORM_TOKEN = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
MAX_BODY = 4096


@pytest.fixture
def ctx(fake, tmp_path):
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
    context = AdapterContext(make_config([entry], max_body=MAX_BODY), store=store)
    yield context
    context.addon.jobs.wait(10)
    context.close()
    store.close()


@pytest.fixture
def bridge(ctx):
    recorder = Recorder(make_app(ctx, SECRET, max_body=MAX_BODY))
    with AdapterServer(recorder, max_body=MAX_BODY) as server:
        server.recorder = recorder
        yield server


def post(bridge, path, params=None, **kw):
    body, headers = signed(params or {})
    return requests.post(bridge.url + path, data=body, headers=headers, timeout=10, **kw)


def test_output_answers_the_page(bridge):
    reply = post(bridge, "/whmcs/addon/Output", {"module": "puqzimbra", "lang": "pl"})
    assert reply.status_code == 200
    html = reply.json()["result"]["html"]
    assert 'data-puq="addon"' in html and 'lang="pl"' in html
    sidebar = post(bridge, "/whmcs/addon/Sidebar", {"module": "puqzimbra"}).json()["result"]
    assert 'data-puq="addon-sidebar"' in sidebar["html"]


@pytest.mark.parametrize(
    "path",
    [
        "/whmcs/addon/CreateAccount",  # a server-module function is not an addon function
        "/whmcs/addon/NoSuch",
        "/whmcs/Output",  # nor the other way round
        "/whmcs/addon/",
        "/whmcs/addon/addon/Output",
    ],
)
def test_addon_and_server_functions_cannot_be_confused(bridge, fake, path):
    assert post(bridge, path, {"domain": "x.pl"}).status_code == 404
    assert fake.requests == []


def test_the_addon_path_keeps_the_adapters_rules(bridge):
    url = bridge.url + "/whmcs/addon/Output"
    assert requests.post(url, data=b"{}", timeout=5).status_code == 401
    forged = {HEADER: sign("not-the-secret", b"{}")}
    assert requests.post(url, data=b"{}", headers=forged, timeout=5).status_code == 401
    assert requests.get(url, timeout=5).status_code == 405
    big = b"{" + b" " * MAX_BODY + b"}"
    assert requests.post(url, data=big, headers={HEADER: sign(SECRET, big)}).status_code == 413
    assert bridge.recorder.bodies[-1][0] == "/whmcs/addon/Output"


def test_refused_actions_say_why_and_start_nothing(ctx):
    def act(action):
        return dispatch_addon("Output", {"module": "m", "action": action}, ctx)["html"]

    unknown = {"name": "sync", "server": "mail9", "token_ok": True}
    assert "not a server in the bridge" in act(unknown)
    assert "nothing to do" in act({"name": "test", "server": "", "token_ok": True})
    assert "security token" in act({"name": "sync", "server": "mail1", "token_ok": False})
    assert ctx.addon.jobs.jobs() == []


def test_a_sync_without_whmcs_fails_in_the_job_and_the_page_says_so(ctx):
    html = dispatch_addon(
        "Output", {"module": "m", "action": {"name": "sync", "token_ok": True}}, ctx
    )["html"]
    assert "Sync of all servers started" in html
    ctx.addon.jobs.wait(10)
    (job,) = ctx.addon.jobs.jobs()
    assert job.state == "failed" and "needs the WHMCS API" in job.error
    html = dispatch_addon("Output", {"module": "m"}, ctx)["html"]
    assert "needs the WHMCS API" in html


def test_a_broken_store_is_a_readable_box(ctx):
    ctx.store.close()
    ctx.store.path.write_bytes(b"this is not a database" * 100)
    html = dispatch_addon("Output", {"module": "m", "lang": "pl"}, ctx)["html"]
    assert html.startswith('<div class="alert alert-danger"') and 'data-puq="addon-error"' in html
    assert "puq-bridge nie mógł przygotować tej strony." in html and "usage store" in html


def test_an_unknown_function_is_a_box_not_an_exception(ctx):
    assert "unknown addon function" in dispatch_addon("Nope", {}, ctx)["html"]


@pytest.mark.skipif(PHP is None, reason="php (php-cli) is not installed")
def test_the_php_sends_only_the_pages_own_parameters_and_the_action_once(bridge, tmp_path):
    write_forwarder("puqzimbra", tmp_path, bridge.url, SECRET)
    calls = [
        {
            "function": "output",
            "method": "POST",
            "get": {"puq_near": "2", "evil": "<x>", "module": "other", "token": "t"},
            "post": {"puq_action": "test", "puq_server": "mail1", "token": FORM_TOKEN, "x": "1"},
        },
        {"function": "sidebar", "method": "POST", "post": {"puq_action": "test"}},
    ]
    (tmp_path / "calls.json").write_text(json.dumps(calls))
    done = subprocess.run(
        [PHP, str(HARNESS), str(tmp_path / "modules"), "puqzimbra", str(tmp_path / "calls.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    page, sidebar = json.loads(done.stdout)["results"]
    assert "Test of mail1 started." in page and 'data-puq="addon-sidebar"' in sidebar
    (out_path, out_body), (side_path, side_body) = bridge.recorder.bodies[-2:]
    assert (out_path, side_path) == ("/whmcs/addon/Output", "/whmcs/addon/Sidebar")
    sent = json.loads(out_body)["params"]
    assert sent["query"] == {"puq_near": "2"}
    assert sent["action"] == {"name": "test", "server": "mail1", "token_ok": True}
    assert sent["module"] == "puqzimbra" and sent["token"] == FORM_TOKEN
    assert sent["modulelink"] == "addonmodules.php?module=puqzimbra" and sent["admin_id"] == 1
    assert "action" not in json.loads(side_body)["params"]
    assert SECRET not in out_body.decode() + side_body.decode()
