"""ListAccounts against FakeZimbra: the server's client domains, with status and usage, for WHMCS's
Server Sync tool; the bridge's own admin domain, the server's domain and alias domains left out."""

import re

import pytest

from tests.support.adapter import make_config
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD
from whmcs_module.adapter import dispatch
from whmcs_module.context import AdapterContext


@pytest.fixture
def ctx(zimbra_server):
    _, url = zimbra_server
    entry = {
        "name": "mail1",
        "whmcs_server": 1,
        "url": url,
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }
    context = AdapterContext(make_config([entry]))
    yield context
    context.close()


SERVER = {"serverid": 1, "serverhostname": "mail1.example.com", "serverip": "192.0.2.5"}


def test_list_accounts_lists_the_client_domains_with_usage(ctx, fake_zimbra):
    fake_zimbra.add_domain("mail1.example.com")  # the installer's own domain
    fake_zimbra.add_domain("alias.pl", {"zimbraDomainType": "alias"})
    fake_zimbra.add_domain("zamkniety.pl", {"zimbraDomainStatus": "locked"})
    assert dispatch("CreateAccount", {**SERVER, "domain": "firma.pl", "password": "Pass-1234"}, ctx)
    result = dispatch("ListAccounts", SERVER, ctx)
    assert result["success"] is True
    by_domain = {a["domain"]: a for a in result["accounts"]}
    assert set(by_domain) == {"example.org", "empty.net", "zamkniety.pl", "firma.pl"}
    org = by_domain["example.org"]
    assert org["uniqueIdentifier"] == "example.org" and org["status"] == "Active"
    assert (org["diskusage"], org["mailboxes"], org["primaryip"]) == (150, 1, "192.0.2.5")
    assert by_domain["zamkniety.pl"]["status"] == "Suspended"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_domain["firma.pl"]["created"])
    assert by_domain["empty.net"]["created"] == "" and by_domain["empty.net"]["diskusage"] == 0
    for account in result["accounts"]:
        assert {"email", "username", "product"} <= set(account)
    assert fake_zimbra.count("GetQuotaUsage") == 1  # one whole-server read, not one per domain


def test_list_accounts_failure_is_the_array_form(ctx, fake_zimbra):
    fake_zimbra.inject("http500", on="GetAllDomains")
    result = dispatch("ListAccounts", SERVER, ctx)
    assert result["success"] is False and "GetAllDomains" in result["error"]
