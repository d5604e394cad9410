"""The fake Zimbra's web side (``/service/preauth`` and its pages) and its grants, over HTTP.

Signatures here are computed in the test from Zimbra's documented rule, not with the bridge's code,
so the simulator is checked on its own.
"""

import hashlib
import hmac
import time
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from lxml import etree

KEY = "0f" * 32


def sign(account, ts, *, admin=False, key=KEY, by="name"):
    fields = [account, "1", by] if admin else [account, by]
    data = "|".join([*fields, "0", str(ts)]).encode()
    return hmac.new(key.encode(), data, hashlib.sha1).hexdigest()


def url_for(base, account, *, ts=None, admin=False, key=KEY, preauth=None, **extra):
    ts = int(time.time() * 1000) if ts is None else ts
    query = {"account": account, "by": "name", "timestamp": ts, "expires": 0}
    if admin:
        query["admin"] = 1
    query["preauth"] = preauth or sign(account, ts, admin=admin, key=key)
    query.update(extra)
    return f"{base}/service/preauth?{urlencode(query)}"


@pytest.fixture
def web(zimbra_server):
    fake, url = zimbra_server
    fake.domains["example.com"]["attrs"]["zimbraPreAuthKey"] = KEY
    with requests.Session() as browser:
        yield fake, url, browser


def test_a_good_preauth_sets_the_cookie_and_opens_webmail(web):
    fake, url, browser = web
    first = browser.get(url_for(url, "info@example.com"), allow_redirects=False, timeout=5)
    assert first.status_code == 302 and first.headers["Location"] == "/zimbra/mail"
    assert "ZM_AUTH_TOKEN" in first.cookies
    page = browser.get(url + "/zimbra/mail", timeout=5)
    assert 'data-zimbra="webmail" data-account="info@example.com"' in page.text
    assert fake.preauth_log[-1] == {
        "account": "info@example.com",
        "admin": False,
        "ok": True,
        "reason": "",
    }


def test_redirect_url_is_honoured(web):
    _, url, browser = web
    reply = browser.get(
        url_for(url, "info@example.com", redirectURL="/zimbra/h/"),
        allow_redirects=False,
        timeout=5,
    )
    assert reply.headers["Location"] == "/zimbra/h/"


def test_a_delegated_admin_reaches_the_console_and_sees_its_domains(web):
    fake, url, browser = web
    fake.accounts["info@example.com"]["attrs"]["zimbraIsDelegatedAdminAccount"] = "TRUE"
    fake.add_grant("domain", "example.com", "info@example.com", "domainAdminConsoleRights")
    reply = browser.get(url_for(url, "info@example.com", admin=True), timeout=5)
    assert urlsplit(reply.url).path == "/zimbraAdmin"
    assert 'data-zimbra="admin-console"' in reply.text
    assert 'data-domains="example.com"' in reply.text
    # the admin cookie does not open webmail, nor the webmail cookie the console
    assert 'data-zimbra="login"' in browser.get(url + "/zimbra/mail", timeout=5).text


def test_the_servers_own_admin_signs_in_with_its_domains_key(web):
    fake, url, browser = web
    reply = browser.get(url_for(url, "admin@example.com", admin=True), timeout=5)
    assert 'data-account="admin@example.com"' in reply.text


def _refused(browser, address):
    reply = browser.get(address, allow_redirects=False, timeout=5)
    assert reply.status_code == 400 and "HTTP ERROR 400" in reply.text
    assert "ZM_AUTH_TOKEN" not in reply.cookies and "ZM_ADMIN_AUTH_TOKEN" not in reply.cookies
    return etree.HTML(reply.text).findtext(".//pre").strip()


@pytest.mark.parametrize(
    "case, message, reason",
    [
        ("bad signature", "authentication failed for [info@example.com]", "preauth mismatch"),
        ("stale", "authentication failed for [info@example.com]", "preauth timestamp is too old"),
        ("future", "authentication failed for [info@example.com]", "preauth timestamp is too old"),
        ("other key", "authentication failed for [info@example.com]", "preauth mismatch"),
        ("unknown account", "authentication failed for [who@example.com]", "account not found"),
        ("unknown domain", "authentication failed for [a@nowhere.pl]", "account not found"),
        (
            "domain without key",
            "invalid request: domain is not configured for preauth",
            "no preauth key",
        ),
        ("locked domain", "account is not active: office@example.org", "status locked"),
        ("not an admin", "permission denied: not an admin account", "not an admin"),
        ("missing field", "invalid request: missing required param: preauth", "missing param"),
    ],
)
def test_bad_preauths_get_an_error_page_and_no_cookie(web, case, message, reason):
    fake, url, browser = web
    now = int(time.time() * 1000)
    address = {
        "bad signature": url_for(url, "info@example.com", preauth="0" * 40),
        "stale": url_for(url, "info@example.com", ts=now - 301_000),
        "future": url_for(url, "info@example.com", ts=now + 301_000),
        "other key": url_for(url, "info@example.com", key="ab" * 32),
        "unknown account": url_for(url, "who@example.com"),
        "unknown domain": url_for(url, "a@nowhere.pl"),
        "domain without key": url_for(url, "office@example.org"),
        "locked domain": url_for(url, "office@example.org"),
        "not an admin": url_for(url, "info@example.com", admin=True),
        "missing field": f"{url}/service/preauth?account=a@example.com&timestamp={now}&expires=0",
    }[case]
    if case == "locked domain":
        fake.domains["example.org"]["attrs"].update(
            {"zimbraPreAuthKey": KEY, "zimbraDomainStatus": "locked"}
        )
    assert _refused(browser, address) == message
    assert fake.preauth_log[-1]["ok"] is False and fake.preauth_log[-1]["reason"] == reason


def test_within_five_minutes_is_accepted(web):
    _, url, browser = web
    ts = int(time.time() * 1000) - 290_000
    assert browser.get(url_for(url, "info@example.com", ts=ts), timeout=5).status_code == 200


def test_pages_without_a_session_ask_to_sign_in(web):
    _, url, browser = web
    assert 'data-zimbra="login"' in browser.get(url + "/zimbraAdmin/", timeout=5).text
    browser.cookies.set("ZM_AUTH_TOKEN", "forged")
    assert 'data-zimbra="login"' in browser.get(url + "/zimbra/mail", timeout=5).text
    assert browser.get(url + "/nothing-here", timeout=5).status_code == 404


def test_the_soap_endpoint_still_refuses_get(web):
    _, url, browser = web
    assert browser.get(url + "/service/admin/soap", timeout=5).status_code == 405


def test_max_accounts_is_zimbras_receiver_fault(zimbra_admin, fake_zimbra):
    from puq_bridge.errors import TooManyAccounts

    fake_zimbra.domains["example.com"]["attrs"]["zimbraDomainMaxAccounts"] = "4"
    with pytest.raises(TooManyAccounts, match=r"number of accounts reached the limit: "):
        zimbra_admin.create_account("fifth@example.com", "long-password")
    assert "fifth@example.com" not in fake_zimbra.accounts


def test_max_accounts_fault_envelope_blames_the_server(zimbra_server):
    fake, url = zimbra_server
    fake.domains["example.com"]["attrs"]["zimbraDomainMaxAccounts"] = "4"
    envelope = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>'
        '<context xmlns="urn:zimbra"><authToken>{}</authToken></context></soap:Header><soap:Body>'
        '<CreateAccountRequest xmlns="urn:zimbraAdmin" name="six@example.com" password="abcdefgh"/>'
        "</soap:Body></soap:Envelope>"
    )
    token = fake._issue_token()
    reply = requests.post(url + "/service/admin/soap", data=envelope.format(token), timeout=5)
    assert reply.status_code == 500 and "<faultcode>soap:Server</faultcode>" in reply.text
    assert "account.TOO_MANY_ACCOUNTS" in reply.text


def test_denied_operations_answer_perm_denied(zimbra_admin, fake_zimbra):
    from puq_bridge.errors import PermissionDenied

    fake_zimbra.accounts["info@example.com"]["attrs"]["zimbraIsDelegatedAdminAccount"] = "TRUE"
    fake_zimbra.deny("GrantRight")
    with pytest.raises(PermissionDenied, match="permission denied"):
        zimbra_admin.grant_right(
            "domain", "example.com", "domainAdminConsoleRights", grantee="info@example.com"
        )
    assert fake_zimbra.grants == []


def test_an_account_is_found_by_its_alias_as_on_zimbra(zimbra_admin, fake_zimbra, zimbra_server):
    fake_zimbra.add_alias("kontakt@example.com", "info@example.com")
    assert zimbra_admin.get_account("kontakt@example.com").name == "info@example.com"
    fake, url = zimbra_server
    fake.domains["example.com"]["attrs"]["zimbraPreAuthKey"] = KEY
    with requests.Session() as browser:
        page = browser.get(url_for(url, "kontakt@example.com"), timeout=5)
    assert 'data-account="info@example.com"' in page.text
