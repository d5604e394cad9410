"""``puq_bridge.zimbra.preauth`` and the rights calls of ``ZimbraAdmin``, against FakeZimbra."""

import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from puq_bridge.errors import InvalidRequest, NoSuchDomain, NoSuchGrant, SignOnError, ZimbraFault
from puq_bridge.logs import MASK, mask_secrets
from puq_bridge.zimbra.preauth import DomainKeys, new_key, preauth_url, signature

# The worked example of Zimbra's store/docs/preauth.md (a fact about the algorithm).
DOC_KEY = "6b7ead4bd425836e8cf0079cd6c1a05acc127acd07c8ee4b61023e19250e929c"


def test_signature_matches_zimbras_documented_example():
    assert (
        signature(DOC_KEY, "john.doe@domain.com", 1135280708088)
        == "b248f6cfd027edd45c5369f8490125204772f844"
    )


def test_admin_signature_signs_the_admin_flag_and_differs():
    user = signature(DOC_KEY, "john.doe@domain.com", 1135280708088)
    admin = signature(DOC_KEY, "john.doe@domain.com", 1135280708088, admin=True)
    assert admin != user and re.fullmatch(r"[0-9a-f]{40}", admin)


def test_url_carries_the_fields_in_zimbras_names():
    url = preauth_url("https://mail.example.com/", "anna@firma.pl", DOC_KEY, 1700000000000)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "mail.example.com",
        "/service/preauth",
    )
    query = parse_qs(parts.query)
    assert query == {
        "account": ["anna@firma.pl"],
        "by": ["name"],
        "timestamp": ["1700000000000"],
        "expires": ["0"],
        "preauth": [signature(DOC_KEY, "anna@firma.pl", 1700000000000)],
    }
    admin = parse_qs(
        urlsplit(preauth_url("https://h:7071", "a@b.pl", DOC_KEY, 1, admin=True)).query
    )
    assert admin["admin"] == ["1"]


def test_new_keys_are_64_hex_digits_and_differ():
    keys = {new_key() for _ in range(5)}
    assert len(keys) == 5 and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)


def test_the_key_and_the_signature_are_masked_by_their_place():
    key = new_key()
    url = preauth_url("https://h", "a@b.pl", key, 1)
    text = f'<a n="zimbraPreAuthKey">{key}</a> {{"zimbraPreAuthKey": "{key}"}} {url}'
    masked = mask_secrets(text, [])
    assert key not in masked and signature(key, "a@b.pl", 1) not in masked
    assert masked.count(MASK) == 3


# --- DomainKeys against the simulator --------------------------------------------------------


def test_a_missing_key_is_made_once_and_then_read(zimbra_admin, fake_zimbra):
    keys = DomainKeys()
    state, key = keys.key_for(zimbra_admin, "example.com")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert fake_zimbra.domains["example.com"]["attrs"]["zimbraPreAuthKey"] == key
    assert (state.name, state.status) == ("example.com", "active")
    assert keys.key_for(zimbra_admin, "example.com")[1] == key
    assert fake_zimbra.count("ModifyDomain") == 1


def test_an_existing_key_is_kept(zimbra_admin, fake_zimbra):
    fake_zimbra.domains["example.org"]["attrs"]["zimbraPreAuthKey"] = DOC_KEY
    assert DomainKeys().key_for(zimbra_admin, "example.org")[1] == DOC_KEY
    assert fake_zimbra.count("ModifyDomain") == 0


def test_concurrent_first_sign_ons_make_one_key(zimbra_admin, fake_zimbra):
    keys, found = DomainKeys(), []
    threads = [
        threading.Thread(target=lambda: found.append(keys.key_for(zimbra_admin, "empty.net")[1]))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1 and fake_zimbra.count("ModifyDomain") == 1


def test_no_key_and_no_right_to_make_one_is_a_clear_refusal(zimbra_admin, fake_zimbra):
    fake_zimbra.deny("ModifyDomain", attr="zimbraPreAuthKey")
    with pytest.raises(SignOnError) as caught:
        DomainKeys().key_for(zimbra_admin, "example.com")
    assert caught.value.reason == "no_key"
    assert "zmprov gdpak example.com" in str(caught.value)
    assert "zimbraPreAuthKey" not in fake_zimbra.domains["example.com"]["attrs"]


def test_not_creating_reports_the_missing_key(zimbra_admin):
    with pytest.raises(SignOnError, match="has no preauth key") as caught:
        DomainKeys().key_for(zimbra_admin, "example.com", create=False)
    assert caught.value.reason == "no_key"


def test_an_unknown_domain_is_no_such_domain(zimbra_admin):
    with pytest.raises(NoSuchDomain):
        DomainKeys().key_for(zimbra_admin, "nowhere.pl")


def test_the_url_opens_webmail_on_the_simulator(zimbra_server, zimbra_admin):
    _, url = zimbra_server
    _, key = DomainKeys().key_for(zimbra_admin, "example.com")
    with requests.Session() as browser:
        reply = browser.get(
            preauth_url(url, "info@example.com", key, int(time.time() * 1000)), timeout=5
        )
    assert reply.status_code == 200 and urlsplit(reply.url).path == "/zimbra/mail"
    assert 'data-zimbra="webmail" data-account="info@example.com"' in reply.text


# --- GrantRight, RevokeRight, GetGrants ------------------------------------------------------


def _delegated(fake_zimbra, name="info@example.com"):
    fake_zimbra.accounts[name]["attrs"]["zimbraIsDelegatedAdminAccount"] = "TRUE"
    return name


def test_grant_list_and_revoke(zimbra_admin, fake_zimbra):
    who = _delegated(fake_zimbra)
    zimbra_admin.grant_right("domain", "example.com", "domainAdminConsoleRights", grantee=who)
    zimbra_admin.grant_right("global", None, "domainAdminZimletRights", grantee=who)
    zimbra_admin.grant_right("global", None, "domainAdminZimletRights", grantee=who)  # no-op
    grants = zimbra_admin.grants(grantee=who)
    assert sorted((g.target_type, g.target_name, g.right) for g in grants) == [
        ("domain", "example.com", "domainAdminConsoleRights"),
        ("global", "globalacltarget", "domainAdminZimletRights"),
    ]
    on_domain = zimbra_admin.grants(target_type="domain", target="example.com")
    assert [(g.grantee_name, g.grantee_type) for g in on_domain] == [(who, "usr")]
    zimbra_admin.revoke_right("global", None, "domainAdminZimletRights", grantee=who)
    assert [g.right for g in zimbra_admin.grants(grantee=who)] == ["domainAdminConsoleRights"]
    with pytest.raises(NoSuchGrant, match="no such grant"):
        zimbra_admin.revoke_right("global", None, "domainAdminZimletRights", grantee=who)


def test_an_admin_right_needs_a_delegated_admin(zimbra_admin):
    with pytest.raises(InvalidRequest, match="grantee must be an admin account"):
        zimbra_admin.grant_right(
            "domain", "example.com", "domainAdminConsoleRights", grantee="info@example.com"
        )


@pytest.mark.parametrize(
    "target_type, target, right, code",
    [
        ("domain", "example.com", "noSuchRight", "account.NO_SUCH_RIGHT"),
        ("domain", "nowhere.pl", "domainAdminConsoleRights", "account.NO_SUCH_DOMAIN"),
        ("domain", "example.com", "domainAdminZimletRights", "service.INVALID_REQUEST"),
    ],
)
def test_bad_grants_get_zimbras_faults(zimbra_admin, fake_zimbra, target_type, target, right, code):
    who = _delegated(fake_zimbra)
    with pytest.raises(ZimbraFault) as caught:
        zimbra_admin.grant_right(target_type, target, right, grantee=who)
    assert caught.value.code == code
    assert fake_zimbra.grants_of(who) == []


def test_deleting_the_account_or_the_domain_drops_its_grants(zimbra_admin, fake_zimbra):
    who = _delegated(fake_zimbra)
    zimbra_admin.grant_right("global", None, "domainAdminZimletRights", grantee=who)
    zimbra_admin.grant_right("domain", "example.org", "domainAdminConsoleRights", grantee=who)
    zimbra_admin.delete_account(fake_zimbra.accounts["office@example.org"]["id"])
    zimbra_admin.delete_domain(fake_zimbra.domains["example.org"]["id"])
    assert [g["right"] for g in fake_zimbra.grants_of(who)] == ["domainAdminZimletRights"]
    zimbra_admin.delete_account(fake_zimbra.accounts[who]["id"])
    assert fake_zimbra.grants == []
