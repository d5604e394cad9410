"""``puq_bridge.signon``: where the URLs point, and a SignOn used directly on FakeZimbra."""

from urllib.parse import parse_qs, urlsplit

import pytest

from puq_bridge.config import ZimbraConfig
from puq_bridge.errors import SignOnError
from puq_bridge.signon import Origins, SignOn
from puq_bridge.whmcs.params import ServiceTarget
from puq_bridge.zimbra.preauth import DomainKeys


def entry(**extra):
    values = dict(
        name="mail1",
        whmcs_server=1,
        url="https://10.0.0.5:7071",
        admin_user="admin@example.com",
        password="x" * 8,
        verify=True,
        timeout=5,
    )
    values.update(extra)
    return ZimbraConfig(**values)


def test_origins_follow_the_addresses_the_tabs_show():
    assert Origins.of(entry(), "mail1.example.com") == Origins(
        "https://mail1.example.com", "https://mail1.example.com:7071"
    )
    shown = entry(
        webmail_url="https://poczta.example.pl/zimbra/", admin_url="https://adm.example.pl:9071/x/"
    )
    assert Origins.of(shown, "ignored") == Origins(
        "https://poczta.example.pl", "https://adm.example.pl:9071"
    )
    assert Origins.of(entry()).webmail == "https://10.0.0.5"


def test_the_timestamp_is_the_clocks_and_the_account_the_primary(zimbra_admin, fake_zimbra):
    signon = SignOn(
        zimbra_admin, Origins("https://w", "https://a"), keys=DomainKeys(), clock=lambda: 1700.5
    )
    url = signon.webmail(ServiceTarget(9, "example.com", "info@example.com"), function="t")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://w/service/preauth?")
    assert (query["account"], query["timestamp"], query["expires"]) == (
        ["info@example.com"],
        ["1700500"],
        ["0"],
    )


def test_a_private_server_may_sign_into_any_domain_of_its_server(zimbra_admin):
    signon = SignOn(zimbra_admin, Origins("https://w", "https://a"), keys=DomainKeys())
    target = ServiceTarget(9, "example.com", "info@example.com")
    url = signon.webmail(target, function="t", tenancy="server", mailbox="office@example.org")
    assert parse_qs(urlsplit(url).query)["account"] == ["office@example.org"]
    with pytest.raises(SignOnError) as caught:
        signon.webmail(target, function="t", tenancy="domain", mailbox="office@example.org")
    assert caught.value.reason == "foreign_mailbox"
