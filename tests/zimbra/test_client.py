"""ZimbraAdmin against the FakeZimbra simulator on loopback: operations, token life cycle, faults,
TLS, errors."""

import logging
import ssl
import threading
from pathlib import Path

import pytest
from lxml import etree

from puq_bridge import errors
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.zimbra.app import FakeZimbra
from puq_bridge.simulators.zimbra.wire import SOAP11
from puq_bridge.zimbra.client import ZimbraAdmin, parse_quota_usage
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD, GiB, MiB, password_is
from tests.zimbra.support import Wiretap

# CI and developers have ../shared beside the clone.
CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "zimbra-captures"


def admin_for(url: str, **kwargs) -> ZimbraAdmin:
    kwargs.setdefault("timeout", (1.0, 2.0))
    return ZimbraAdmin(
        url,
        kwargs.pop("user", ZIMBRA_ADMIN),
        kwargs.pop("password", ZIMBRA_PASSWORD),
        name="mail1",
        **kwargs,
    )


# --- operations -----------------------------------------------------------------------------------


def test_version_info(zimbra_admin):
    info = zimbra_admin.version_info()
    assert (
        info.version.startswith("10.0.8_GA") and info.host == "mail1.example.com" and info.platform
    )


def test_get_account_by_name_and_id_applies_cos(zimbra_admin, fake_zimbra):
    by_name = zimbra_admin.get_account(
        "locked@example.com", attrs=["zimbraMailQuota", "zimbraAccountStatus"]
    )
    assert by_name.attrs == {"zimbraMailQuota": str(GiB), "zimbraAccountStatus": "locked"}
    by_id = zimbra_admin.get_account(id=fake_zimbra.accounts["info@example.com"]["id"])
    assert by_id.name == "info@example.com" and by_id.attrs["zimbraMailHost"] == "mail1.example.com"


def test_get_account_needs_exactly_one_of_name_and_id(zimbra_admin):
    with pytest.raises(ValueError, match="exactly one of name or id"):
        zimbra_admin.get_account("a@example.com", id="x")
    with pytest.raises(ValueError):
        zimbra_admin.get_domain()


def test_account_info(zimbra_admin, fake_zimbra):
    info = zimbra_admin.account_info("info@example.com")
    assert info.id == fake_zimbra.accounts["info@example.com"]["id"]
    assert info.mail_host == "mail1.example.com"
    assert info.public_mail_url == "https://mail1.example.com"
    assert info.admin_soap_url.endswith(":7071/service/admin/soap/")


def test_account_life_cycle(zimbra_admin, fake_zimbra):
    created = zimbra_admin.create_account(
        "new@example.com", "Secr3t!pw", {"zimbraMailQuota": str(GiB)}
    )
    assert created.name == "new@example.com" and created.attrs["zimbraAccountStatus"] == "active"
    assert fake_zimbra.accounts["new@example.com"]["attrs"]["zimbraMailQuota"] == str(GiB)

    modified = zimbra_admin.modify_account(
        created.id, {"zimbraAccountStatus": "locked", "zimbraMailQuota": ""}
    )
    assert (
        modified.attrs["zimbraAccountStatus"] == "locked"
        and "zimbraMailQuota" not in modified.attrs
    )

    assert zimbra_admin.set_password(created.id, "An0ther!pw") is None
    assert password_is(zimbra_admin.url, "new@example.com", "An0ther!pw")
    fake_zimbra.password_message = "password will expire in 90 days"
    assert zimbra_admin.set_password(created.id, "Th1rd!pw") == "password will expire in 90 days"

    zimbra_admin.delete_account(created.id)
    assert "new@example.com" not in fake_zimbra.accounts
    with pytest.raises(errors.NoSuchAccount):
        zimbra_admin.delete_account(created.id)


def test_search_accounts_pages_through_the_domain(zimbra_admin, fake_zimbra):
    found = list(
        zimbra_admin.search_accounts("example.com", attrs=["zimbraAccountStatus"], page_size=3)
    )
    assert [a.name for a in found] == [
        "empty@example.com",
        "info@example.com",
        "locked@example.com",
        "sales@example.com",
    ]
    assert found[2].attrs == {"zimbraAccountStatus": "locked"}
    assert fake_zimbra.count("SearchDirectory") == 2
    assert [r["attrs"]["offset"] for r in fake_zimbra.requests if r["op"] == "SearchDirectory"] == [
        "0",
        "3",
    ]


def test_search_accounts_of_an_empty_domain(zimbra_admin):
    assert list(zimbra_admin.search_accounts("empty.net")) == []


def _add_directory(sim):
    sim.add_distribution_list("team@example.com", members=["info@example.com"])
    sim.add_resource("room1@example.com", display_name="Room 1")
    sim.add_alias("hello@example.com", "office@example.org")


def test_search_directory_finds_lists_and_resources_that_search_accounts_leaves_out(
    zimbra_admin, fake_zimbra
):
    _add_directory(fake_zimbra)
    assert len(list(zimbra_admin.search_accounts("example.com"))) == 4
    found = list(zimbra_admin.search_directory("example.com", page_size=2))
    assert [(e.kind, e.name) for e in found] == [
        ("account", "empty@example.com"),
        ("account", "info@example.com"),
        ("account", "locked@example.com"),
        ("calresource", "room1@example.com"),
        ("account", "sales@example.com"),
        ("dl", "team@example.com"),
    ]
    assert found[3].id == fake_zimbra.resources["room1@example.com"]["id"]
    assert found[3].attrs["zimbraCalResType"] == "Location" and found[5].target is None
    searches = [r["attrs"] for r in fake_zimbra.requests if r["op"] == "SearchDirectory"][1:]
    assert [s["offset"] for s in searches] == ["0", "2", "4"]
    assert {s["types"] for s in searches} == {"accounts,resources,distributionlists"}


def test_search_directory_of_aliases_names_their_targets(zimbra_admin, fake_zimbra):
    _add_directory(fake_zimbra)
    [alias] = zimbra_admin.search_directory(
        "example.com", ["aliases"], attrs=["zimbraAliasTargetId"]
    )
    assert (alias.kind, alias.name, alias.target) == (
        "alias",
        "hello@example.com",
        "office@example.org",
    )
    assert alias.attrs == {"zimbraAliasTargetId": fake_zimbra.accounts["office@example.org"]["id"]}
    assert (
        list(zimbra_admin.search_directory("empty.net", ["accounts", "aliases"], page_size=0)) == []
    )


def test_system_accounts_are_asked_once_and_kept_for_their_ttl(zimbra_admin, fake_zimbra):
    made = fake_zimbra.add_system_accounts("example.com") + fake_zimbra.add_system_accounts(
        "example.org", spam=False
    )
    system = zimbra_admin.system_accounts()
    assert system.names == {name.lower() for name in made}
    assert system.ids == {fake_zimbra.accounts[name]["id"] for name in made}
    assert zimbra_admin.system_accounts() is system
    [search] = [r["attrs"] for r in fake_zimbra.requests if r["op"] == "SearchDirectory"]
    assert "domain" not in search and search["maxResults"] == "0" and search["limit"] == "0"
    assert search["query"] == "(|(zimbraIsSystemAccount=TRUE)(zimbraIsSystemResource=TRUE))"
    assert search["attrs"] == "zimbraIsSystemAccount,zimbraIsSystemResource"
    usage = zimbra_admin.domain_usage("example.com")
    assert {m.name for m in usage if system.covers(m)} == set(made[:4])
    zimbra_admin.system_accounts_ttl = 0
    zimbra_admin.system_accounts()
    assert fake_zimbra.count("SearchDirectory") == 2


def test_dynamic_groups_are_found_as_lists(zimbra_admin, fake_zimbra):
    fake_zimbra.add_distribution_list("team@example.com")
    fake_zimbra.add_dynamic_group("everyone@example.com")
    lists = list(zimbra_admin.search_directory("example.com", ["distributionlists"]))
    assert [e.name for e in lists] == ["team@example.com"]
    both = list(
        zimbra_admin.search_directory("example.com", ["distributionlists", "dynamicgroups"])
    )
    assert [(e.kind, e.name) for e in both] == [
        ("dl", "everyone@example.com"),
        ("dl", "team@example.com"),
    ]


def test_a_search_past_the_servers_cap_still_gets_everything(zimbra_admin, fake_zimbra):
    fake_zimbra.search_max_results = 2
    names = [a.name for a in zimbra_admin.search_accounts("example.com", page_size=1)]
    assert len(names) == 4 == fake_zimbra.count("SearchDirectory")
    searches = [r["attrs"] for r in fake_zimbra.requests if r["op"] == "SearchDirectory"]
    assert {s["maxResults"] for s in searches} == {"0"}


@pytest.mark.parametrize("types", [["accounts", "groups"], [], ["account"]])
def test_search_directory_refuses_unknown_types_before_asking(types, zimbra_admin, fake_zimbra):
    with pytest.raises(ValueError, match="unknown type"):
        list(zimbra_admin.search_directory("example.com", types))
    assert fake_zimbra.count("SearchDirectory") == 0


@pytest.mark.parametrize(
    "method, table, name, code",
    [
        (
            "delete_distribution_list",
            "lists",
            "team@example.com",
            "account.NO_SUCH_DISTRIBUTION_LIST",
        ),
        (
            "delete_calendar_resource",
            "resources",
            "room1@example.com",
            "account.NO_SUCH_CALENDAR_RESOURCE",
        ),
    ],
)
def test_delete_list_and_resource(method, table, name, code, zimbra_admin, fake_zimbra):
    _add_directory(fake_zimbra)
    entry_id = getattr(fake_zimbra, table)[name]["id"]
    getattr(zimbra_admin, method)(entry_id)
    assert name not in getattr(fake_zimbra, table)
    with pytest.raises(errors.ZimbraFault) as caught:
        getattr(zimbra_admin, method)(entry_id)
    assert caught.value.code == code and entry_id in str(caught.value)


def test_all_accounts_and_count(zimbra_admin):
    assert sorted(a.name for a in zimbra_admin.all_accounts("example.org")) == [
        "office@example.org"
    ]
    assert zimbra_admin.all_accounts("empty.net") == []
    assert zimbra_admin.count_accounts("example.com") == 4  # over two classes of service
    assert zimbra_admin.count_accounts("empty.net") == 0


def test_domain_life_cycle(zimbra_admin, fake_zimbra):
    created = zimbra_admin.create_domain("new.example", {"zimbraDomainMaxAccounts": "5"})
    assert created.status == "active" and created.attrs["zimbraDomainMaxAccounts"] == "5"
    assert zimbra_admin.get_domain("new.example").id == created.id
    assert zimbra_admin.get_domain(id=created.id, attrs=["zimbraDomainStatus"]).attrs == {
        "zimbraDomainStatus": "active"
    }
    assert (
        zimbra_admin.modify_domain(created.id, {"zimbraDomainStatus": "locked"}).status == "locked"
    )
    assert fake_zimbra.domains["new.example"]["attrs"]["zimbraDomainStatus"] == "locked"
    assert {d.name for d in zimbra_admin.all_domains()} == {
        "example.com",
        "example.org",
        "empty.net",
        "new.example",
    }
    zimbra_admin.delete_domain(created.id)
    assert "new.example" not in fake_zimbra.domains


def test_get_cos(zimbra_admin, fake_zimbra):
    basic = zimbra_admin.get_cos("basic")
    assert basic.attrs["zimbraMailQuota"] == str(GiB)
    assert zimbra_admin.get_cos(id=fake_zimbra.coses["default"]["id"]).name == "default"


def test_mailbox_size_and_stats(zimbra_admin, fake_zimbra):
    assert zimbra_admin.mailbox_size(fake_zimbra.accounts["info@example.com"]["id"]) == 300 * MiB
    assert zimbra_admin.mailbox_stats() == (5, (300 + 5 + 1000 + 150) * MiB)


# --- quota usage ----------------------------------------------------------------------------------


def test_quota_usage_of_a_domain_with_unlimited_and_capped_quotas(zimbra_admin, fake_zimbra):
    usage = zimbra_admin.quota_usage("example.com")
    assert (usage.total, usage.more) == (4, False)
    by_name = {m.name: m for m in usage.accounts}
    assert [m.name for m in usage.accounts][
        0
    ] == "locked@example.com"  # sorted by used, largest first
    assert by_name["sales@example.com"].limit_bytes == 0 and by_name["sales@example.com"].unlimited
    assert (
        by_name["info@example.com"].used_bytes == 300 * MiB
        and by_name["info@example.com"].limit_bytes == GiB
    )
    assert by_name["locked@example.com"].limit_bytes == GiB  # from its class of service
    assert by_name["empty@example.com"].used_bytes == 0
    assert by_name["info@example.com"].id == fake_zimbra.accounts["info@example.com"]["id"]
    assert (
        zimbra_admin.quota_usage("example.org").accounts[0].limit_bytes == 200 * MiB
    )  # domain quota caps it
    sent = fake_zimbra.requests[-1]["attrs"]
    assert sent["domain"] == "example.org" and sent["allServers"] == "true" and sent["limit"] == "0"


def test_quota_usage_of_the_whole_server(zimbra_admin):
    usage = zimbra_admin.quota_usage(None, all_servers=False)
    assert usage.total == 5 and len(usage.accounts) == 5


def test_quota_usage_pages(zimbra_admin):
    first = zimbra_admin.quota_usage("example.com", limit=3)
    rest = zimbra_admin.quota_usage("example.com", limit=3, offset=3)
    assert (len(first.accounts), first.more, first.total) == (3, True, 4)
    assert (len(rest.accounts), rest.more, rest.total) == (1, False, 4)
    assert {m.name for m in first.accounts + rest.accounts} == {
        "info@example.com",
        "sales@example.com",
        "empty@example.com",
        "locked@example.com",
    }


def test_domain_usage_in_one_request_or_in_pages(zimbra_admin, fake_zimbra):
    whole = zimbra_admin.domain_usage("example.com")
    assert fake_zimbra.count("GetQuotaUsage") == 1
    paged = zimbra_admin.domain_usage("example.com", page_size=3)
    assert fake_zimbra.count("GetQuotaUsage") == 3
    assert sorted(whole, key=lambda m: m.name) == sorted(paged, key=lambda m: m.name)
    assert len(paged) == 4


def test_quota_usage_parses_a_real_capture_like_the_server_sent_it():
    capture = CAPTURES / "nucleus-be_zimbra" / "GetQuotaUsageResponse.xml"
    if not capture.exists():
        pytest.skip("reference captures not available")
    usage = parse_quota_usage(capture.read_bytes())
    assert (usage.total, usage.more, len(usage.accounts)) == (14, False, 14)
    assert usage.accounts[0].name == "info@chris.be"
    assert (usage.accounts[0].used_bytes, usage.accounts[0].limit_bytes) == (3746822, 52428800)
    assert sum(m.unlimited for m in usage.accounts) == 3
    assert min(m.limit_bytes for m in usage.accounts if not m.unlimited) == 100
    assert max(len(m.name) for m in usage.accounts) > 400


# --- faults the server raises ---------------------------------------------------------------------


def _too_many(admin, sim):
    sim.domains["example.com"]["attrs"]["zimbraDomainMaxAccounts"] = "4"
    admin.create_account("fifth@example.com", "Secr3t!pw")


SCENARIOS = {
    "no such account": (lambda z, s: z.get_account("nobody@example.com"), errors.NoSuchAccount),
    "account exists": (
        lambda z, s: z.create_account("info@example.com", "Secr3t!pw"),
        errors.AccountExists,
    ),
    "no such domain": (lambda z, s: z.quota_usage("nowhere.example"), errors.NoSuchDomain),
    "domain exists": (lambda z, s: z.create_domain("example.com"), errors.DomainExists),
    "domain not empty": (
        lambda z, s: z.delete_domain(s.domains["example.com"]["id"]),
        errors.DomainNotEmpty,
    ),
    "no such cos": (lambda z, s: z.get_cos("gold"), errors.NoSuchCos),
    "too many accounts": (_too_many, errors.TooManyAccounts),
    "invalid password": (
        lambda z, s: z.create_account("new@example.com", "abc"),
        errors.InvalidPassword,
    ),
    "invalid request": (
        lambda z, s: z.quota_usage("example.com", sort_by="size"),
        errors.InvalidRequest,
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_server_faults_raise_their_exception(name, zimbra_admin, fake_zimbra):
    action, cls = SCENARIOS[name]
    with pytest.raises(cls) as caught:
        action(zimbra_admin, fake_zimbra)
    assert caught.value.server == "mail1" and "\n" not in str(caught.value)


def test_an_unmapped_code_is_a_plain_zimbra_fault(zimbra_admin, fake_zimbra):
    account_id = fake_zimbra.accounts["info@example.com"]["id"]
    with pytest.raises(errors.ZimbraFault) as caught:
        zimbra_admin.modify_account(account_id, {"zimbraMailQuota": "lots"})
    assert (
        type(caught.value) is errors.ZimbraFault
        and caught.value.code == "account.INVALID_ATTR_VALUE"
    )


# --- token life cycle -----------------------------------------------------------------------------


def test_token_is_cached_across_calls(zimbra_admin, fake_zimbra):
    for _ in range(5):
        zimbra_admin.version_info()
    assert fake_zimbra.count("Auth") == 1 and fake_zimbra.count("GetVersionInfo") == 5


@pytest.mark.parametrize("expire", ["expire_tokens", "inject", "forget_tokens"])
def test_expired_token_is_renewed_once_and_the_call_retried(expire, zimbra_admin, fake_zimbra):
    zimbra_admin.version_info()
    if expire == "inject":
        fake_zimbra.inject("expire", on="GetQuotaUsage")
    else:  # AUTH_EXPIRED, or AUTH_REQUIRED for a token the server no longer knows
        getattr(fake_zimbra, expire)()
    assert zimbra_admin.quota_usage("example.com").total == 4
    assert fake_zimbra.count("Auth") == 2 and fake_zimbra.count("GetQuotaUsage") == 2


def test_a_token_rejected_twice_is_an_error_not_a_loop(zimbra_admin, fake_zimbra):
    fake_zimbra.inject("expire", times=2)
    with pytest.raises(errors.AuthExpired):
        zimbra_admin.version_info()
    assert fake_zimbra.count("Auth") == 2 and fake_zimbra.count("GetVersionInfo") == 2


@pytest.mark.parametrize(
    "user, password, cls",
    [
        (ZIMBRA_ADMIN, "wrong", errors.AuthFailed),
        ("intruder@example.com", ZIMBRA_PASSWORD, errors.PermissionDenied),
        ("info@example.com", "x", errors.PermissionDenied),  # a mailbox, not an admin
    ],
)
def test_auth_failures_are_never_retried(user, password, cls, zimbra_server):
    sim, url = zimbra_server
    admin = admin_for(url, user=user, password=password)
    with pytest.raises(cls) as caught:
        admin.quota_usage("example.com")
    assert sim.count("Auth") == 1 and sim.count("GetQuotaUsage") == 0
    assert caught.value.operation == "Auth"


@pytest.mark.parametrize("state", ["enabled", "not-set-up"])
def test_an_admin_with_two_factor_authentication_is_a_clear_error_at_auth(state, served):
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD, admin_two_factor=state)
    admin = admin_for(served(sim))
    with pytest.raises(errors.TwoFactorRequired) as caught:
        admin.version_info()
    message = str(caught.value)
    assert caught.value.operation == "Auth" and "\n" not in message
    assert f"{ZIMBRA_ADMIN} uses two-factor authentication" in message
    assert "admin account without two-factor authentication" in message
    assert ZIMBRA_PASSWORD not in message
    assert sim.count("Auth") == 1 and sim.count("GetVersionInfo") == 0  # never retried
    sim.admin_two_factor = None
    assert admin.version_info().version.startswith("10.0.8")


def test_token_renewed_shortly_before_its_lifetime_ends(served):
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD, token_lifetime_ms=400)
    now = [0.0]
    admin = admin_for(served(sim), clock=lambda: now[0])  # margin 60 s > lifetime: renew after half
    admin.version_info()
    now[0] = 0.199
    admin.version_info()
    assert sim.count("Auth") == 1
    now[0] = 0.201
    admin.version_info()
    # renewed before the server would refuse: no rejected call, no retry
    assert sim.count("Auth") == 2 and sim.count("GetVersionInfo") == 3


def test_lifetime_is_read_as_milliseconds(served):
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD, token_lifetime_ms=3_600_000)
    now = [0.0]
    admin = admin_for(served(sim), token_margin=60, clock=lambda: now[0])
    admin.authenticate()
    now[0] = 3539  # an hour, less the 60 s margin, is not over yet
    admin.version_info()
    assert sim.count("Auth") == 1
    now[0] = 3541
    admin.version_info()
    assert sim.count("Auth") == 2


def test_concurrent_calls_authenticate_once_and_renew_once(served):
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    sim.add_domain("example.com")
    sim.add_account("a@example.com", used=1)
    sim.latency = 0.02
    admin = admin_for(served(sim))
    failures = []

    def run_all():
        barrier = threading.Barrier(8)

        def work():
            barrier.wait()
            try:
                assert admin.quota_usage("example.com").total == 1
            except Exception as err:  # collected: an assert in a thread would not fail the test
                failures.append(err)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)

    run_all()
    assert sim.count("Auth") == 1 and not failures
    sim.expire_tokens()
    run_all()
    assert sim.count("Auth") == 2 and not failures


@pytest.mark.parametrize("order", ["lifetime-first", "token-first"])
@pytest.mark.parametrize("extra", [False, True], ids=["plain", "extra-a"])
def test_both_auth_response_orders_and_extra_elements(order, extra, served):
    sim = FakeZimbra(
        ZIMBRA_ADMIN, ZIMBRA_PASSWORD, auth_order=order, auth_extra=extra, token_lifetime_ms=600_000
    )
    now = [0.0]
    admin = admin_for(served(sim), clock=lambda: now[0])
    admin.authenticate()
    now[0] = (
        539  # the token was read right: the server takes it, and its 600 s less 60 are not over
    )
    admin.version_info()
    assert sim.count("Auth") == 1
    now[0] = 541
    admin.version_info()
    assert sim.count("Auth") == 2


# --- wire details ---------------------------------------------------------------------------------


def test_requests_carry_the_context_header_and_soap_action(fake_zimbra, served):
    tap = Wiretap(fake_zimbra)
    admin_for(served(tap) + "/service/admin/soap/").version_info()
    auth, call = tap.exchanges
    assert auth.path == call.path == "/service/admin/soap"
    assert auth.soap_action == '"urn:zimbraAdmin/Auth"'
    assert call.soap_action == '"urn:zimbraAdmin/GetVersionInfo"'
    assert call.content_type == "text/xml; charset=utf-8"
    doc = etree.fromstring(call.body)
    assert doc.tag == f"{{{SOAP11}}}Envelope"
    context = doc.find(f"{{{SOAP11}}}Header/{{urn:zimbra}}context")
    assert [etree.QName(c).localname for c in context] == ["authToken", "nosession"]
    assert [context[0].text] == tap.tokens()  # the token the server gave
    assert etree.fromstring(auth.body).find(f"{{{SOAP11}}}Header") is None


@pytest.mark.parametrize(
    "kind, status",
    [
        ("html", "HTTP 502 (text/html)"),
        ("malformed", "not XML"),
        ("http500", "HTTP 500 (text/plain)"),
    ],
)
def test_non_soap_replies_are_protocol_errors(kind, status, zimbra_admin, fake_zimbra):
    zimbra_admin.authenticate()
    fake_zimbra.inject(kind, on="GetQuotaUsage")
    with pytest.raises(errors.ZimbraProtocolError) as caught:
        zimbra_admin.quota_usage("example.com")
    assert status in str(caught.value) and str(caught.value).startswith(
        "Zimbra mail1 GetQuotaUsage:"
    )
    assert "\n" not in str(caught.value)
    assert zimbra_admin.quota_usage("example.com").total == 4  # the next call is fine


def test_non_soap_reply_through_zeep_path_is_a_protocol_error(zimbra_admin, fake_zimbra):
    fake_zimbra.inject("malformed", on="GetAccount")
    with pytest.raises(errors.ZimbraProtocolError, match="GetAccount: HTTP 200 .*not XML"):
        zimbra_admin.get_account("info@example.com")


def test_refused_connection_is_a_transport_error(zimbra_server):
    server = BackgroundServer(zimbra_server[0].wsgi_app).start()
    url = server.url
    server.stop()
    with pytest.raises(errors.ZimbraTransportError, match="refused"):
        admin_for(url).version_info()


def test_timeout_is_a_transport_error(zimbra_server):
    sim, url = zimbra_server
    sim.hang_seconds = 0.5
    sim.inject("hang", on="GetVersionInfo")
    admin = admin_for(url, timeout=(1.0, 0.1))
    with pytest.raises(errors.ZimbraTransportError, match="no reply from .* in time"):
        admin.version_info()


def test_a_trickling_reply_fails_at_the_deadline(zimbra_server, bounded):
    """A per-read timeout never ends a reply sent a byte at a time; the request's deadline does."""
    sim, url = zimbra_server
    sim.trickle_seconds = 0.05
    admin = admin_for(url, timeout=(1.0, 1.0), deadline=0.4)
    admin.authenticate()
    sim.inject("trickle", on="GetQuotaUsage")
    with pytest.raises(errors.ZimbraTransportError) as caught:
        bounded(admin.quota_usage, "example.com")
    assert str(caught.value) == (
        f"Zimbra mail1 GetQuotaUsage: no complete reply from {url} within the 0.4 s deadline for a "
        "request (the server is overloaded, or something between trickles its reply)"
    )
    assert admin.quota_usage("example.com").total == 4  # the next request is fine
    assert admin_for(url, timeout=(2.0, 5.0)).deadline == 12


def test_a_redirect_is_refused_and_the_password_goes_nowhere(fake_zimbra):
    """A proxy answering 307 to another origin: requests would resend the AuthRequest, password
    included."""
    elsewhere = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    with BackgroundServer(elsewhere.wsgi_app) as other:

        def redirecting(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response(
                "308 Permanent Redirect", [("Location", other.url + "/service/admin/soap")]
            )
            return [b""]

        with BackgroundServer(redirecting) as server:
            with pytest.raises(errors.ZimbraProtocolError) as caught:
                admin_for(server.url).version_info()
    assert elsewhere.requests == []
    message = str(caught.value)
    assert message.startswith(
        f"Zimbra mail1 Auth: HTTP 308 redirect to {other.url}/service/admin/soap"
    )
    assert ZIMBRA_PASSWORD not in message


def test_dropped_connection_is_a_transport_error(zimbra_admin, fake_zimbra):
    zimbra_admin.authenticate()
    fake_zimbra.inject("drop", on="GetVersionInfo")
    with pytest.raises(errors.ZimbraTransportError):
        zimbra_admin.version_info()


# --- TLS ------------------------------------------------------------------------------------------


def test_verify_false_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="puq_bridge.zimbra"):
        ZimbraAdmin("https://mail9.example.com:7071", ZIMBRA_ADMIN, ZIMBRA_PASSWORD, verify=False)
    assert "TLS certificate verification is OFF for Zimbra mail9.example.com" in caplog.text


def test_ca_bundle_path_goes_to_the_session():
    admin = ZimbraAdmin(
        "https://mail9.example.com:7071", ZIMBRA_ADMIN, ZIMBRA_PASSWORD, verify="/etc/ca.pem"
    )
    assert admin.session.verify == "/etc/ca.pem"
    assert admin.endpoint == "https://mail9.example.com:7071/service/admin/soap"


@pytest.fixture
def https_url(self_signed, fake_zimbra):
    """FakeZimbra served HTTPS-only with a self-signed certificate, like a fresh install's 7071."""
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with BackgroundServer(fake_zimbra.wsgi_app, ssl_context=context) as server:
        yield server.url


def test_https_with_the_servers_ca_bundle(https_url, self_signed):
    assert (
        admin_for(https_url, verify=str(self_signed[0])).version_info().host == "mail1.example.com"
    )


def test_https_default_verification_refuses_a_self_signed_certificate(https_url):
    with pytest.raises(errors.ZimbraTransportError) as caught:
        admin_for(https_url).version_info()
    assert str(caught.value) == (
        f"Zimbra mail1 Auth: TLS certificate of {https_url} not trusted: give the server's CA "
        'bundle as verify (verify = "/path/to/ca.pem" in its [[zimbra]] entry), or turn '
        "verification off for that server only (verify = false)"
    )


def test_plain_http_to_the_https_only_admin_port_says_to_use_https(https_url):
    """Port 7071 speaks HTTPS only: a plain-HTTP request gets no HTTP reply at all."""
    plain = https_url.replace("https://", "http://")
    with pytest.raises(errors.ZimbraTransportError) as caught:
        admin_for(plain).version_info()
    assert str(caught.value) == (
        f"Zimbra mail1 Auth: {plain} closed the connection without a reply (Zimbra's admin port "
        f"7071 speaks HTTPS only: use {https_url})"
    )


def test_https_to_a_plain_http_port_says_so(zimbra_server):
    _, url = zimbra_server
    tls = url.replace("http://", "https://")
    with pytest.raises(errors.ZimbraTransportError) as caught:
        admin_for(tls).version_info()
    assert str(caught.value) == (
        f"Zimbra mail1 Auth: TLS handshake with {tls} failed: that port answers in plain HTTP, "
        "not TLS (check the port in the URL: Zimbra's admin port is 7071)"
    )


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_https_without_verification_works(https_url):
    assert admin_for(https_url, verify=False).quota_usage("example.com").total == 4


# --- secrets --------------------------------------------------------------------------------------


def test_no_password_or_token_in_logs_or_errors(caplog, fake_zimbra, served):
    sim, tap = fake_zimbra, Wiretap(fake_zimbra)
    url = served(tap)
    caplog.set_level(logging.DEBUG)
    for name in ("zeep", "zeep.transports", "urllib3", "puq_bridge"):
        caplog.set_level(logging.DEBUG, logger=name)  # put back after the test
    texts = []
    admin = admin_for(url)
    admin.version_info()
    admin.create_account("new@example.com", "N3w-Secret-pw")
    sim.expire_tokens()
    admin.set_password(sim.accounts["new@example.com"]["id"], "Fresh-Secret-pw")
    for action in (
        lambda: admin.set_password(sim.accounts["new@example.com"]["id"], "abc"),
        lambda: admin_for(url, password="Wrong-Secret-pw").version_info(),
    ):
        with pytest.raises(errors.ZimbraFault) as caught:
            action()
        texts.append(str(caught.value))
    tokens = tap.tokens()
    assert len(tokens) == 2 and caplog.records
    everything = caplog.text + "\n".join(texts) + repr(admin) + repr(sim.requests)
    for secret in [ZIMBRA_PASSWORD, "N3w-Secret-pw", "Fresh-Secret-pw", "Wrong-Secret-pw", *tokens]:
        assert secret not in everything


def test_a_missing_ca_bundle_is_one_clear_transport_error(zimbra_server, tmp_path):
    _, url = zimbra_server
    missing = str(tmp_path / "no-such-ca.pem")
    with pytest.raises(errors.ZimbraTransportError, match="cannot use TLS CA bundle") as caught:
        admin_for(url.replace("http://", "https://"), verify=missing).version_info()
    assert missing in str(caught.value)


def test_quota_usage_of_a_domain_whose_name_needs_escaping(served):
    sim = FakeZimbra(ZIMBRA_ADMIN, ZIMBRA_PASSWORD)
    sim.add_domain("a&b.example.com")
    sim.add_account("x@a&b.example.com", quota=GiB, used=3 * MiB)
    admin = admin_for(served(sim))
    usage = admin.domain_usage("a&b.example.com")
    assert [(m.name, m.used_bytes, m.limit_bytes) for m in usage] == [
        ("x@a&b.example.com", 3 * MiB, GiB)
    ]
    assert sim.requests[-1]["attrs"]["domain"] == "a&b.example.com"
