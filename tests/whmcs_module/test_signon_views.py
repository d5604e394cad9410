"""The sign-on functions through ``dispatch`` against FakeZimbra over HTTP: the URL verifies against
the domain's key and opens the right page; refusals are translated, logged and sign nothing."""

import hashlib
import hmac
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from puq_bridge.usage.store import UsageStore
from puq_bridge.whmcs.params import ACTION_FIELDS
from tests.support.adapter import make_config
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD
from whmcs_module.adapter import dispatch
from whmcs_module.context import AdapterContext

SERVER_ID = 1
PASSWORD = "Service-Pass-321"


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as s:
        yield s


@pytest.fixture
def ctx(zimbra_server, store):
    _, url = zimbra_server
    entry = {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": url,
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
        "webmail_url": url + "/",
        "admin_url": url + "/zimbraAdmin/",
    }
    context = AdapterContext(make_config([entry]), store=store)
    yield context
    context.close()


def params(**extra):
    base = {
        "serviceid": 42,
        "serverid": SERVER_ID,
        "domain": "firma.pl",
        "username": "biuro",
        "password": PASSWORD,
        "serverhostname": "mail1.example.com",
        "status": "Active",
        "configoption3": "10",
        "configoption6": "domain",
        "service": {"status": "Active"},
        "clientsdetails": {"language": "english"},
    }
    base.update(extra)
    return base


def key_of(fake, domain):
    return fake.domains[domain]["attrs"]["zimbraPreAuthKey"]


def verifies(url, key):
    """True when the URL's preauth is Zimbra's HMAC of its own fields with ``key``."""
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    fields = [q["account"], "1", q["by"]] if q.get("admin") == "1" else [q["account"], q["by"]]
    data = "|".join([*fields, q["expires"], q["timestamp"]]).encode()
    return hmac.new(key.encode(), data, hashlib.sha1).hexdigest() == q["preauth"]


def follow(url):
    with requests.Session() as browser:
        return browser.get(url, timeout=5)


@pytest.fixture
def created(ctx, fake_zimbra):
    assert dispatch("CreateAccount", params(), ctx) == "success"
    fake_zimbra.add_account("jan@firma.pl")
    return fake_zimbra


def test_service_sso_signs_the_primary_mailbox_into_webmail(ctx, created, store):
    result = dispatch("ServiceSingleSignOn", params(), ctx)
    assert result["success"] is True and set(result) == {"success", "redirectTo"}
    url = result["redirectTo"]
    assert verifies(url, key_of(created, "firma.pl"))
    page = follow(url)
    assert urlsplit(page.url).path == "/zimbra/mail"
    assert 'data-zimbra="webmail" data-account="biuro@firma.pl"' in page.text
    assert created.preauth_log[-1]["ok"] is True
    [record] = store.signons(42)
    assert (record.mailbox, record.function) == ("biuro@firma.pl", "ServiceSingleSignOn")


def test_the_url_is_valid_for_minutes_only(ctx, created):
    url = dispatch("ServiceSingleSignOn", params(), ctx)["redirectTo"]
    created.clock = lambda: __import__("time").time() + 6 * 60
    assert follow(url).status_code == 400
    assert created.preauth_log[-1]["reason"] == "preauth timestamp is too old"


def test_a_domain_without_a_key_gets_one_on_its_first_sign_on(ctx, fake_zimbra):
    fake_zimbra.add_domain("stara.pl")
    fake_zimbra.add_account("biuro@stara.pl")
    result = dispatch("ServiceSingleSignOn", params(domain="stara.pl"), ctx)
    assert verifies(result["redirectTo"], key_of(fake_zimbra, "stara.pl"))


def test_mailbox_sign_on_opens_another_mailbox_of_the_domain(ctx, created, store):
    result = dispatch("MailboxSignOn", params(signon_mailbox="Jan@firma.pl"), ctx)
    page = follow(result["redirectTo"])
    assert 'data-account="jan@firma.pl"' in page.text
    assert [r.mailbox for r in store.signons(42)] == ["jan@firma.pl"]


@pytest.mark.parametrize(
    "mailbox",
    ["info@example.com", "jan@firma.pl.evil.com", "@firma.pl", "firma.pl", "nikt@firma.pl"],
)
def test_a_mailbox_outside_the_service_is_refused_and_nothing_signed(
    ctx, created, store, caplog, mailbox
):
    caplog.set_level(logging.WARNING)
    before = created.count("GetDomain")
    result = dispatch("MailboxSignOn", params(signon_mailbox=mailbox), ctx)
    assert result == {
        "success": False,
        "errorMsg": "This mailbox does not belong to this service; nothing was done.",
    }
    assert store.signons() == [] and created.preauth_log == []
    assert "MailboxSignOn refused (foreign_mailbox)" in caplog.text
    assert created.count("GetDomain") == before  # no key was read for it


def test_system_and_admin_accounts_are_not_signed_into(ctx, created, store):
    created.add_account("galsync@firma.pl", attrs={"zimbraIsSystemResource": "TRUE"})
    result = dispatch("MailboxSignOn", params(signon_mailbox="galsync@firma.pl"), ctx)
    assert result["success"] is False and store.signons() == []


def test_mailbox_sign_on_turned_off_by_the_product(ctx, created):
    off = params(signon_mailbox="jan@firma.pl", configoption8="off")
    result = dispatch("MailboxSignOn", off, ctx)
    assert result["errorMsg"] == "Logging in to other mailboxes from here is not part of this plan."


def test_refusals_are_in_the_clients_language(ctx, created):
    polish = params(signon_mailbox="info@example.com", clientsdetails={"language": "polish"})
    result = dispatch("MailboxSignOn", polish, ctx)
    foreign = "Ta skrzynka nie należy do tej usługi; nic nie zostało zrobione."
    assert result["errorMsg"] == foreign


@pytest.mark.parametrize("function", ["ServiceSingleSignOn", "MailboxSignOn", "AdminPanelSignOn"])
def test_a_suspended_service_signs_nobody_in(ctx, created, store, function):
    suspended = params(signon_mailbox="jan@firma.pl", service={"status": "Suspended"})
    result = dispatch(function, suspended, ctx)
    assert result["errorMsg"].startswith("This service is not active")
    # WHMCS still says Active, but the domain is locked on Zimbra
    assert dispatch("SuspendAccount", params(), ctx) == "success"
    again = dispatch(function, params(signon_mailbox="jan@firma.pl"), ctx)
    assert again["errorMsg"].startswith("This service is not active")
    assert store.signons() == []


def test_admin_panel_sign_on_opens_the_console_as_the_delegated_admin(ctx, created, store):
    result = dispatch("AdminPanelSignOn", params(), ctx)
    url = result["redirectTo"]
    assert parse_qs(urlsplit(url).query)["admin"] == ["1"]
    assert verifies(url, key_of(created, "firma.pl"))
    page = follow(url)
    assert urlsplit(page.url).path == "/zimbraAdmin"
    assert 'data-account="biuro@firma.pl" data-domains="firma.pl"' in page.text
    assert store.signons(42)[0].function == "AdminPanelSignOn"


def test_no_admin_panel_sign_on_for_a_private_server(ctx, fake_zimbra):
    assert dispatch("CreateAccount", params(configoption6="server"), ctx) == "success"
    result = dispatch("AdminPanelSignOn", params(configoption6="server"), ctx)
    assert result["errorMsg"].startswith("The admin panel of this service cannot be opened")


def test_no_key_and_no_right_to_make_one(ctx, fake_zimbra, store, caplog):
    fake_zimbra.add_domain("stara.pl")
    fake_zimbra.add_account("biuro@stara.pl")
    fake_zimbra.deny("ModifyDomain", attr="zimbraPreAuthKey")
    result = dispatch("ServiceSingleSignOn", params(domain="stara.pl"), ctx)
    assert result["errorMsg"].startswith("Logging in from here is not set up for this domain")
    assert "zmprov gdpak stara.pl" in caplog.text and store.signons() == []


def test_an_unreachable_zimbra_is_a_clear_message(ctx, created):
    created.inject("http500", on="GetAccount")
    result = dispatch("ServiceSingleSignOn", params(), ctx)
    assert result["errorMsg"].startswith("The mail server could not be reached")


def test_staff_sign_on_opens_the_console_as_the_bridges_admin(ctx, fake_zimbra, store):
    result = dispatch("AdminSingleSignOn", {"serverid": SERVER_ID}, ctx)
    assert verifies(result["redirectTo"], key_of(fake_zimbra, "example.com"))
    page = follow(result["redirectTo"])
    assert f'data-zimbra="admin-console" data-account="{ZIMBRA_ADMIN}"' in page.text
    assert store.signons()[0].service_id is None


def test_staff_see_the_precise_cause(ctx, fake_zimbra):
    fake_zimbra.deny("ModifyDomain", attr="zimbraPreAuthKey")
    result = dispatch("AdminSingleSignOn", {"serverid": SERVER_ID}, ctx)
    assert result["success"] is False and "zmprov gdpak example.com" in result["errorMsg"]


def test_the_key_is_in_no_result_log_or_page(ctx, created, caplog):
    caplog.set_level(logging.DEBUG)
    outputs = [
        dispatch(f, params(signon_mailbox="jan@firma.pl"), ctx)
        for f in ("ServiceSingleSignOn", "MailboxSignOn", "AdminPanelSignOn", "ClientArea")
    ]
    outputs.append(dispatch("MetaData", {}, ctx))
    key = key_of(created, "firma.pl")
    text = json.dumps(outputs) + caplog.text
    assert key not in text
    for output in outputs[:3]:
        assert output["redirectTo"] not in caplog.text  # a working URL is never logged


def test_client_area_allowed_functions_and_metadata_labels(ctx):
    assert set(dispatch("ClientAreaAllowedFunctions", {}, ctx).values()) == {
        "MailboxSignOn",
        "AdminPanelSignOn",
        *ACTION_FIELDS,  # the self-service forms
    }
    meta = dispatch("MetaData", {}, ctx)
    assert meta["ServiceSingleSignOnLabel"] == "Log in to webmail"
    assert meta["AdminSingleSignOnLabel"]
    assert meta["ListAccountsUniqueIdentifierField"] == "domain"


def test_the_service_page_offers_the_sign_ons_of_an_active_service(ctx, created):
    page = dispatch("ClientArea", params(configoption2="10"), ctx)["vars"]["puqbridge_html"]
    assert 'data-puq="webmail-signon"' in page and 'data-puq="admin-signon"' in page
    assert 'value="jan@firma.pl"' in page and "2 of 10 mailboxes" in page
    off = dispatch("ClientArea", params(configoption8="off"), ctx)["vars"]["puqbridge_html"]
    assert 'data-puq="mailbox-signon"' not in off and 'data-puq="webmail-signon"' in off
    bad = dispatch("ClientArea", params(configoption8="maybe"), ctx)["vars"]["puqbridge_html"]
    assert 'data-puq="mailbox-signon"' not in bad and 'data-puq="facts"' in bad
    suspended = dispatch("ClientArea", params(service={"status": "Suspended"}), ctx)
    assert 'data-puq="webmail-signon"' not in suspended["vars"]["puqbridge_html"]


def test_an_alias_signs_in_its_own_mailbox_and_never_another_clients(ctx, created, store):
    created.add_alias("kontakt@firma.pl", "jan@firma.pl")
    created.add_alias("stare@firma.pl", "info@example.com")  # left over, another client's mailbox
    ours = dispatch("MailboxSignOn", params(signon_mailbox="kontakt@firma.pl"), ctx)
    assert 'data-account="jan@firma.pl"' in follow(ours["redirectTo"]).text
    theirs = dispatch("MailboxSignOn", params(signon_mailbox="stare@firma.pl"), ctx)
    assert theirs["success"] is False and "does not belong" in theirs["errorMsg"]
    assert [r.mailbox for r in store.signons()] == ["jan@firma.pl"]
