"""The sign-ons through real ``php`` running the generated forwarder against the adapter's HTTP
service (what ``serve`` runs) and FakeZimbra: the URL verifies against the key FakeZimbra holds and
FakeZimbra accepts it; a tampered mailbox is refused; the admin panel opens the console as the
delegated admin; the key is in no output, log or page."""

import hashlib
import hmac
import html
import json
import re
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from puq_bridge.whmcs.params import ACTION_FIELDS
from tests.support.adapter import SECRET, ZIMBRA_PASSWORD, Recorder, make_config
from tests.whmcs_module.test_forwarder import (
    HARNESS,
    MODEL,
    PHP,
    forwarder,
    module_params,
    needs_php,
)
from whmcs_module.context import AdapterContext
from whmcs_module.http import AdapterServer, make_app
from whmcs_module.signon_views import SIGNON_NOTICE

pytestmark = needs_php


@pytest.fixture
def bridge(fake, tmp_path, caplog):
    from puq_bridge.usage.store import UsageStore

    caplog.set_level("DEBUG")
    fake.add_domain("example.com")  # the bridge admin's own domain
    entry = {
        "name": "mail1",
        "whmcs_server": 3,
        "url": fake.url,
        "admin_user": "admin@example.com",
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
        "webmail_url": fake.url + "/",
        "admin_url": fake.url + "/zimbraAdmin/",
    }
    store = UsageStore(tmp_path / "usage.sqlite3")
    ctx = AdapterContext(make_config([entry]), store=store)
    recorder = Recorder(make_app(ctx, SECRET))
    with AdapterServer(recorder) as server:
        server.recorder, server.store = recorder, store
        yield server
    ctx.close()
    store.close()


def php_calls(folder, calls, tmp_path):
    """Run the calls; ``(results or None, log or None, stdout)`` (a redirect prints and exits)."""
    calls_file = tmp_path / "calls.json"
    calls_file.write_text(json.dumps(calls))
    done = subprocess.run(
        [PHP, str(HARNESS), str(folder), "puqzimbra", str(calls_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        return None, None, done.stdout
    return out["results"], out["log"], done.stdout


def verifies(url, key):
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    fields = [q["account"], "1", q["by"]] if q.get("admin") == "1" else [q["account"], q["by"]]
    data = "|".join([*fields, q["expires"], q["timestamp"]]).encode()
    return hmac.compare_digest(hmac.new(key.encode(), data, hashlib.sha1).hexdigest(), q["preauth"])


def redirect_of(page: str) -> str:
    return html.unescape(re.search(r'<a href="([^"]+)">Continue</a>', page).group(1))


def test_sign_ons_through_php(bridge, fake, tmp_path, caplog):
    folder = forwarder(tmp_path, bridge.url)
    results, log, out1 = php_calls(
        folder,
        [
            {"function": "CreateAccount", "params": module_params(), "model": MODEL},
            {"function": "ServiceSingleSignOn", "params": module_params(), "model": MODEL},
            {"function": "AdminSingleSignOn", "params": module_params()},
            {"function": "ClientAreaAllowedFunctions"},
            {"function": "ListAccounts", "params": module_params()},
            {"function": "ClientArea", "params": module_params(), "model": MODEL},
        ],
        tmp_path,
    )
    created, sso, staff, allowed, listed, area = results
    assert created == "success"
    key = fake.domains["firma.pl"]["attrs"]["zimbraPreAuthKey"]
    # ServiceSingleSignOn: WHMCS's array; the URL verifies and FakeZimbra accepts it
    assert sso["success"] is True and verifies(sso["redirectTo"], key)
    with requests.Session() as browser:
        page = browser.get(sso["redirectTo"], timeout=5)
    assert 'data-zimbra="webmail" data-account="biuro@firma.pl"' in page.text
    assert staff["success"] is True and "admin=1" in staff["redirectTo"]
    assert set(allowed.values()) == {"MailboxSignOn", "AdminPanelSignOn", *ACTION_FIELDS}
    assert listed["success"] is True and [a["domain"] for a in listed["accounts"]] == ["firma.pl"]
    # the module log keeps no working sign-on: its signature is in WHMCS's replace list
    signature = parse_qs(urlsplit(sso["redirectTo"]).query)["preauth"][0]
    assert signature in log[1]["replace"]

    # MailboxSignOn for another client's mailbox: refused, nothing signed
    fake.add_domain("inna.pl")
    fake.add_account("szef@inna.pl")
    tampered = {
        "function": "MailboxSignOn",
        "params": module_params(),
        "model": MODEL,
        "post": {"mailbox": "szef@inna.pl"},
    }
    results, _, _ = php_calls(folder, [tampered], tmp_path)
    assert results == ["Ta skrzynka nie należy do tej usługi; nic nie zostało zrobione."]
    assert [r.mailbox for r in bridge.store.signons(42)] == ["biuro@firma.pl"]

    # MailboxSignOn for a mailbox of the domain: the browser is sent on
    fake.add_account("jan@firma.pl")
    _, _, page = php_calls(folder, [{**tampered, "post": {"mailbox": "jan@firma.pl"}}], tmp_path)
    with requests.Session() as browser:
        landed = browser.get(redirect_of(page), timeout=5)
    assert 'data-account="jan@firma.pl"' in landed.text

    # AdminPanelSignOn: the admin console, as the delegated admin of firma.pl
    panel = {"function": "AdminPanelSignOn", "params": module_params(), "model": MODEL}
    _, _, page = php_calls(folder, [panel], tmp_path)
    with requests.Session() as browser:
        console = browser.get(redirect_of(page), timeout=5)
    assert urlsplit(console.url).path == "/zimbraAdmin"
    assert 'data-account="biuro@firma.pl" data-domains="firma.pl"' in console.text

    # the key: in no result, module log, page or bridge log
    everything = json.dumps([results, log, area]) + out1 + page + console.text + caplog.text
    assert key not in everything
    sent = b"".join(body for _, body in bridge.recorder.bodies)
    assert key.encode() not in sent


def test_sign_on_functions_keep_whmcss_shapes_when_the_bridge_is_down(tmp_path):
    from tests.whmcs_module.test_forwarder import free_port

    folder = forwarder(tmp_path, f"http://127.0.0.1:{free_port()}", timeout=2)
    results, _, _ = php_calls(
        folder,
        [
            {"function": "ServiceSingleSignOn", "params": {}},
            {"function": "AdminSingleSignOn", "params": {}},
            {"function": "ClientAreaAllowedFunctions"},
            {"function": "ListAccounts", "params": {}},
            {"function": "MailboxSignOn", "params": {}, "post": {"mailbox": "a@b.pl"}},
        ],
        tmp_path,
    )
    sso, staff, allowed, listed, mailbox = results
    # a client is not told where the bridge is (the module log has it); staff are
    assert sso == {"success": False, "errorMsg": SIGNON_NOTICE} and mailbox == SIGNON_NOTICE
    assert staff["success"] is False and "unreachable" in staff["errorMsg"]
    assert set(allowed.values()) == {"MailboxSignOn", "AdminPanelSignOn", *ACTION_FIELDS}
    assert listed["success"] is False and "unreachable" in listed["error"]
