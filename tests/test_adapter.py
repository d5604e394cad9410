"""``dispatch`` against the Zimbra and WHMCS simulators: every function, bad params, secrets, store vs live reads."""

import datetime as dt
import json
import logging
import re
import socket
import threading
import time
from html import escape, unescape

import pytest

from puq_bridge.clientarea.render import Renderer
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.store import UsageStore
from puq_bridge.whmcs.client import WhmcsClient
from puq_bridge.whmcs.params import HostingRow, ModuleParams, ServerParams
from puq_bridge.zimbra.models import MailboxUsage
from tests.adapter_support import SECRET, WHMCS_SECRET, make_config
from tests.fixtures_zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD, GiB, MiB
from tests.tls_support import https_server, self_signed_cert
from whmcs_module.adapter import FUNCTIONS, dispatch
from whmcs_module.context import AdapterContext
from whmcs_module.payment_methods import PaymentMethodNames

SERVICE_PASSWORD = "Service-Pass-321"
SERVER_ID = 1  # the first server FakeWhmcs.add_server makes


@pytest.fixture
def store(tmp_path):
    with UsageStore(tmp_path / "usage.sqlite3") as s:
        yield s


@pytest.fixture
def ctx(zimbra_server, store, whmcs_client):
    _, url = zimbra_server
    entry = {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": url,
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }
    context = AdapterContext(make_config([entry]), store=store, whmcs=whmcs_client)
    yield context
    context.close()


def params(**extra):
    base = {
        "serviceid": 42,
        "serverid": SERVER_ID,
        "domain": "firma.pl",
        "username": "biuro",
        "password": SERVICE_PASSWORD,
        "serverhostname": "mail1.example.com",
        "serverip": "192.0.2.5",
        "configoption1": "512",
        "configoption2": "20",
        "configoption3": "",
        "configoption5": "locked",
        "configoption6": "domain",
        "service": {
            "regdate": "2026-01-15",
            "nextduedate": "2026-12-15",
            "billingcycle": "Monthly",
            "amount": "49.00",
            "paymentmethod": "banktransfer",
            "status": "Active",
        },
        "clientsdetails": {"language": "english", "currency_code": "PLN"},
    }
    base.update(extra)
    return base


def html_of(result):
    assert result["templatefile"] == "templates/clientarea"
    return result["vars"]["puqbridge_html"]


# --- the static functions ----------------------------------------------------------------------------------------


def test_function_list_is_what_whmcs_calls():
    assert set(FUNCTIONS) == {
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
    }


def test_static_answers(ctx):
    assert dispatch("MetaData", {}, ctx)["DisplayName"]
    # 7071 is Zimbra's HTTPS admin port: WHMCS's server form must not offer it as a plain-http port
    meta = dispatch("MetaData", {}, ctx)
    assert meta["DefaultSSLPort"] == "7071" and "DefaultNonSSLPort" not in meta
    assert len(dispatch("ConfigOptions", {}, ctx)) == 6
    assert dispatch("AdminCustomButtonArray", params(), ctx) == {"Sync usage now": "SyncUsage"}


@pytest.mark.parametrize(
    "function, given, expect",
    [
        ("Nope", {}, "unknown module function 'Nope'"),
        ("CreateAccount", ["not", "a", "dict"], "params must be an object"),
        (
            "CreateAccount",
            {"domain": "firma.pl", "serverid": SERVER_ID},
            "the service has no password: set one in WHMCS before provisioning",
        ),
        (
            "CreateAccount",
            {"domain": "firma.pl"},
            "the service has no password: set one in WHMCS before provisioning",
        ),
    ],
)
def test_unknown_function_and_bad_params_shape(ctx, function, given, expect):
    assert dispatch(function, given, ctx) == expect


# --- life cycle --------------------------------------------------------------------------------------------------


def test_life_cycle_round(ctx, fake_zimbra):
    for function in (
        "CreateAccount",
        "CreateAccount",
        "SuspendAccount",
        "SuspendAccount",
        "UnsuspendAccount",
        "ChangePassword",
        "ChangePackage",
        "TerminateAccount",
        "TerminateAccount",
    ):
        assert dispatch(function, params(), ctx) == "success", function
    assert "firma.pl" not in fake_zimbra.domains and fake_zimbra.count("DeleteDomain") == 1


@pytest.mark.parametrize(
    "bad, expect",
    [
        ({"domain": ""}, "the service has no domain: set the service's Domain field in WHMCS"),
        ({"domain": "firma pl"}, "invalid domain name 'firma pl'"),
        (
            {"username": "jan kowalski"},
            "invalid mailbox name 'jan kowalski' (from the service's username)",
        ),
        (
            {"configoption1": "dużo"},
            "product setting 'Default mailbox quota (MB)' (configoption1) must be a whole "
            "number, 0 or more; got 'dużo'",
        ),
    ],
)
@pytest.mark.parametrize("function", ["CreateAccount", "SuspendAccount", "ChangePackage"])
def test_bad_params_are_readable_strings_and_touch_nothing(ctx, fake_zimbra, function, bad, expect):
    if function == "SuspendAccount" and "configoption1" in bad:
        bad, expect = {"configoption5": "off"}, (
            "product setting 'Suspension policy' (configoption5) must be one of locked, "
            "maintenance, closed; got 'off'"
        )
    result = dispatch(function, params(**bad), ctx)
    assert result == expect
    assert fake_zimbra.requests == []


def test_a_function_reads_only_the_settings_it_uses(ctx, fake_zimbra):
    """Setting 1 (the primary mailbox's quota) is CreateAccount's and ChangePackage's business: a
    malformed one fails them, naming it, and nothing else."""
    assert dispatch("CreateAccount", params(), ctx) == "success"
    bad = params(configoption1="1 GB")
    for function in ("SuspendAccount", "UnsuspendAccount", "ChangePassword"):
        assert dispatch(function, bad, ctx) == "success", function
    for function in ("CreateAccount", "ChangePackage"):
        assert "'Default mailbox quota (MB)' (configoption1)" in dispatch(function, bad, ctx)


def test_missing_objects(ctx):
    assert (
        dispatch("SuspendAccount", params(), ctx)
        == "domain firma.pl does not exist on Zimbra mail1"
    )
    assert dispatch("TerminateAccount", params(), ctx) == "success"
    dispatch("CreateAccount", params(), ctx)
    assert (
        dispatch("ChangePassword", params(username="kto"), ctx)
        == "mailbox kto@firma.pl does not exist on Zimbra mail1"
    )


def test_secrets_are_masked_in_every_message(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    result = dispatch("CreateAccount", params(password="tajne", domain="tajne pl"), ctx)
    assert result == "invalid domain name '******** pl'"
    assert "tajne" not in caplog.text


def test_zimbra_from_params_when_no_entry_matches(fake_zimbra, store, tmp_path, monkeypatch):
    # a server known only from WHMCS is reached over https (7071 speaks nothing else), its
    # certificate checked against the CAs the host trusts (here: REQUESTS_CA_BUNDLE)
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with https_server(fake_zimbra.wsgi_app, cert, key) as url:
        port = url.rsplit(":", 1)[1]
        context = AdapterContext(make_config(), store=store)
        server = {
            "serverid": 7,
            "serverhostname": "127.0.0.1",
            "serverport": port,
            "serversecure": "",
            "serverusername": ZIMBRA_ADMIN,
            "serverpassword": ZIMBRA_PASSWORD,
        }
        ok = dispatch("TestConnection", params(**server), context)
        assert ok == {"success": True, "error": ""}
        assert dispatch("CreateAccount", params(**server), context) == "success"
        assert "biuro@firma.pl" in fake_zimbra.accounts

        wrong = dispatch(
            "TestConnection", params(**{**server, "serverpassword": "wrong-pass-77"}), context
        )
        assert wrong["success"] is False and "127.0.0.1" in wrong["error"]
        assert "wrong-pass-77" not in wrong["error"] and ZIMBRA_PASSWORD not in wrong["error"]

        missing = dispatch("CreateAccount", params(**{**server, "serverusername": ""}), context)
        assert missing == (
            "WHMCS server 127.0.0.1 has no username or password for the Zimbra admin API"
        )
        nothing = dispatch(
            "CreateAccount", params(serverid="", serverhostname="", serverip=""), context
        )
        assert nothing.startswith("no Zimbra server: the service has no server assigned in WHMCS")
        context.close()

        # without the CA the certificate is not trusted: a readable failure, not plain http
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        untrusted = AdapterContext(make_config(), store=store)
        tls = dispatch("TestConnection", params(**server), untrusted)
        assert tls["success"] is False and f"https://127.0.0.1:{port}" in tls["error"]
        untrusted.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def typed_form(url, **fields):
    """WHMCS's server form (Setup > Servers) as TestConnection's params at the fake."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    form = {
        "serverhostname": host,
        "serverip": "",
        "serverport": port,
        "serversecure": "on",
        "serverusername": ZIMBRA_ADMIN,
        "serverpassword": ZIMBRA_PASSWORD,
    }
    return params(**{**form, **fields})


def test_test_connection_failure_is_the_array_form(ctx, fake_zimbra, zimbra_server):
    fake_zimbra.inject("http500", on="GetVersionInfo")
    result = dispatch("TestConnection", typed_form(zimbra_server[1]), ctx)
    assert result["success"] is False and "GetVersionInfo" in result["error"]


def test_test_connection_tests_what_the_admin_typed_even_when_an_entry_matches(
    ctx, fake_zimbra, zimbra_server, caplog
):
    # ctx's [[zimbra]] entry mail1 serves WHMCS server 1 with the right password; the form's
    # fields are what the admin wants checked, so a typo there must not answer success
    url = zimbra_server[1]
    assert dispatch("TestConnection", typed_form(url), ctx) == {"success": True, "error": ""}
    wrong = dispatch("TestConnection", typed_form(url, serverpassword="typo-pass-1"), ctx)
    assert wrong["success"] is False and "authentication failed" in wrong["error"]
    assert "typo-pass-1" not in wrong["error"]
    other_user = dispatch("TestConnection", typed_form(url, serverusername="nobody@x.pl"), ctx)
    assert other_user["success"] is False
    closed = dispatch("TestConnection", typed_form(url, serverport=str(free_port())), ctx)
    assert closed["success"] is False and "refused" in closed["error"]
    # the entry itself is untouched: provisioning still uses it
    assert dispatch("CreateAccount", params(), ctx) == "success"
    assert "typo-pass-1" not in caplog.text


def test_a_bug_becomes_a_readable_string(store):
    def broken_factory(entry):
        raise RuntimeError(f"boom with {entry.password}")

    entry = {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": "http://127.0.0.1:9",
        "admin_user": "a",
        "password": "factory-secret",
    }
    context = AdapterContext(make_config([entry]), store=store, zimbra_factory=broken_factory)
    assert (
        dispatch("CreateAccount", params(), context)
        == "internal error in CreateAccount (RuntimeError); see the puq-bridge log"
    )
    assert dispatch("TestConnection", params(), context)["success"] is False


# --- client area -------------------------------------------------------------------------------------------------


def record(
    store,
    mailboxes,
    *,
    service_id=42,
    domain="firma.pl",
    error=None,
    status="updated",
    tenancy="domain",
):
    now = dt.datetime.now(dt.timezone.utc)
    used = sum(m.used_bytes for m in mailboxes) if status != "failed" else None
    limit = 10 * GiB if status != "failed" else None
    store.record_run(
        now,
        now,
        [
            ServiceResult(
                service_id, domain, "mail1", status, used, limit, tuple(mailboxes), error, tenancy
            )
        ],
    )


def test_client_area_serves_from_the_store(ctx, store, fake_zimbra):
    record(store, [MailboxUsage("ze-sklepu@firma.pl", 300 * MiB, GiB)])
    html = html_of(dispatch("ClientArea", params(), ctx))
    assert "ze-sklepu@firma.pl" in html
    assert fake_zimbra.requests == []
    assert SERVICE_PASSWORD not in html and ZIMBRA_PASSWORD not in html and SECRET not in html


def test_client_area_reads_zimbra_live_when_the_store_is_empty(ctx, fake_zimbra):
    html = html_of(dispatch("ClientArea", params(domain="example.com"), ctx))
    assert "info@example.com" in html and "office@example.org" not in html
    assert fake_zimbra.count("GetQuotaUsage") == 1


def test_client_area_for_a_private_server_lists_every_domain(ctx, store, fake_zimbra):
    record(store, [MailboxUsage("only-in-store@example.com", 1, GiB)])
    html = html_of(
        dispatch("ClientArea", params(domain="example.com", configoption6="server"), ctx)
    )
    assert "info@example.com" in html and "office@example.org" in html
    assert "only-in-store@example.com" not in html


def test_client_area_for_a_private_server_serves_the_stored_whole_server_reading(
    ctx, store, fake_zimbra
):
    record(
        store,
        [MailboxUsage("a@example.com", 1, GiB), MailboxUsage("b@example.org", 1, GiB)],
        tenancy="server",
    )
    html = html_of(
        dispatch("ClientArea", params(domain="example.com", configoption6="server"), ctx)
    )
    assert "a@example.com" in html and "b@example.org" in html
    assert fake_zimbra.count("GetQuotaUsage") == 0
    html = html_of(
        dispatch("ClientArea", params(domain="example.com", configoption6="domain"), ctx)
    )
    assert (
        "b@example.org" not in html and "info@example.com" in html
    )  # back to domain: not the server's reading
    assert fake_zimbra.count("GetQuotaUsage") == 1


def test_client_area_still_renders_when_zimbra_is_down(ctx, fake_zimbra):
    fake_zimbra.inject("http500", times=5)
    html = html_of(dispatch("ClientArea", params(domain="example.com"), ctx))
    assert "info@example.com" not in html and "<" in html


EN_NOTICE = "Service details are temporarily unavailable. Please try again later."
PL_NOTICE = "Szczegóły usługi są chwilowo niedostępne. Spróbuj ponownie później."


def notice_of(result):
    """The text of the generic notice, asserting the page is that notice and nothing else."""
    match = re.fullmatch(
        r'<div class="alert alert-warning" role="alert" data-puq="notice-unavailable">([^<]*)</div>',
        html_of(result),
    )
    assert match, html_of(result)
    return unescape(match.group(1))


def warnings_of(caplog):
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.mark.parametrize(
    "language, expected",
    [("english", EN_NOTICE), ("polish", PL_NOTICE), ("", EN_NOTICE), ("klingon", EN_NOTICE)],
)
def test_a_failed_client_area_shows_the_client_only_a_translated_notice(
    store, caplog, language, expected
):
    caplog.set_level(logging.DEBUG)
    context = AdapterContext(make_config(), store=store)
    server = {
        "serverid": 7,
        "serverhostname": "zimbra-internal.example.net",
        "serverport": "7071",
        "serverusername": "",
        "serverpassword": "Srv-Pass-9876",
    }
    result = dispatch(
        "ClientArea", params(**server, clientsdetails={"language": language}), context
    )
    assert notice_of(result) == expected
    # the operator still learns why, from the log
    assert (
        "ClientArea for service 42: WHMCS server zimbra-internal.example.net has no username or password for "
        "the Zimbra admin API"
    ) in warnings_of(caplog)


def test_client_area_details_are_logged_masked_and_never_shown(ctx, caplog):
    caplog.set_level(logging.DEBUG)
    result = dispatch(
        "ClientArea", params(password="tajne-haslo-9", domain="<b>tajne-haslo-9</b> pl"), ctx
    )
    assert notice_of(result) == EN_NOTICE
    assert "invalid domain name '<b>********</b> pl'" in warnings_of(caplog)
    assert "tajne-haslo-9" not in caplog.text


def test_a_bug_in_client_area_shows_the_notice_not_the_error(store, caplog):
    def broken_factory(entry):
        raise RuntimeError(f"cannot open /var/lib/puq-bridge/usage.sqlite3 for {entry.url}")

    entry = {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": "http://zimbra-internal:7071",
        "admin_user": "a",
        "password": "factory-secret",
    }
    context = AdapterContext(make_config([entry]), zimbra_factory=broken_factory)
    result = dispatch("ClientArea", params(clientsdetails={"language": "polish"}), context)
    assert notice_of(result) == PL_NOTICE
    assert "ClientArea for service 42 failed unexpectedly: RuntimeError" in warnings_of(caplog)


def test_a_broken_catalog_still_gives_the_english_notice(store, tmp_path, caplog):
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "pl.json").write_text("{not json", encoding="utf-8")
    context = AdapterContext(make_config(), store=store, renderer=Renderer(tmp_path))
    result = dispatch(
        "ClientArea", params(serverusername="", clientsdetails={"language": "polish"}), context
    )
    assert notice_of(result) == EN_NOTICE
    assert "translations unavailable" in warnings_of(caplog)


def test_bad_params_shape_in_client_area_is_the_notice(ctx):
    assert notice_of(dispatch("ClientArea", ["not", "a", "mapping"], ctx)) == EN_NOTICE


# --- admin tab, usage sync ---------------------------------------------------------------------------------------


def test_admin_services_tab_fields(ctx, store, fake_zimbra):
    fields = dispatch("AdminServicesTabFields", params(domain="example.com"), ctx)
    assert fields["Mail domain status"] == "active" and fields["Mailboxes"] == "4"
    assert fields["Usage"] == "no data yet" and fields["Last sync"] == "never"
    record(store, [MailboxUsage("a@example.com", GiB, 2 * GiB)])
    record(store, [], error="<script>alert(1)</script>", status="failed")
    fields = dispatch("AdminServicesTabFields", params(domain="example.com"), ctx)
    assert fields["Usage"] == "1.0 GB of 10.0 GB (10.0 %)"
    assert "&lt;script&gt;" in fields["Last sync"] and "<script>" not in fields["Last sync"]
    missing = dispatch("AdminServicesTabFields", params(domain="gone.pl"), ctx)
    assert missing["Mail domain status"] == "domain gone.pl does not exist"


@pytest.mark.parametrize("key", ["password", "serverpassword", "serveraccesshash"])
def test_admin_tab_masks_secrets_with_html_characters(ctx, store, key):
    """Masking runs on the raw text, before escaping: escaped first, p&ss<w0rd would be p&amp;ss&lt;w0rd and
    no longer match the secret."""
    secret = 'p&ss<w0rd"9'
    record(store, [MailboxUsage("a@firma.pl", MiB, GiB)])
    record(store, [], error=f"WHMCS refused the password {secret} & said <no>", status="failed")
    fields = dispatch("AdminServicesTabFields", params(**{key: secret}), ctx)
    assert fields["Last sync"].endswith("the password ******** &amp; said &lt;no&gt;")
    everything = " ".join(fields.values())
    for leak in (secret, escape(secret), escape(secret, quote=False), "w0rd"):
        assert leak not in everything


@pytest.fixture
def whmcs_services(whmcs_server):
    fake, _ = whmcs_server
    client = fake.add_client("Jan", "Kowalski", "jan@example.com")
    product = fake.add_product("Mail")
    server = fake.add_server("mail1", "mail1.example.com", "192.0.2.5")
    assert server == SERVER_ID
    ids = [
        fake.add_service(client, product, domain, server_id=server)
        for domain in ("example.com", "example.org")
    ]
    return fake, server, ids


def usage_update(server_id, *rows):
    """UsageUpdate's params as the forwarder sends them: the server and its tblhosting rows."""
    server = ServerParams(server_id=str(server_id), hostname="mail1.example.com")
    return ModuleParams.usage_update(server, [HostingRow(*row) for row in rows]).to_wire()


def test_usage_update_answers_the_figures_of_the_services_the_forwarder_read(
    ctx, store, whmcs_services, fake_zimbra
):
    fake, server, ids = whmcs_services
    fake_zimbra.add_domain("dropped.pl")  # its mailboxes were deleted: usage fell to 0
    rows = [
        (ids[0], "example.com", 1, "Active", 10, 0),
        (ids[1], "example.org", 1, "Suspended", 150, 200),
        (77, "dropped.pl", 1, "Active", 12, 0),
        (78, "gone.pl", 1, "Active", 3, 3),  # no such domain on Zimbra: its read fails
        (79, "old.pl", 1, "Terminated", 5, 5),  # not a status [sync] covers: left alone
    ]
    answer = dispatch("UsageUpdate", usage_update(server, *rows), ctx)
    assert answer["services"] == [
        {"id": ids[0], "diskusage": 305 + 1000, "disklimit": 0},  # sales has no quota: unlimited
        {"id": ids[1], "diskusage": 150, "disklimit": 200},
        {"id": 77, "diskusage": 0, "disklimit": 0},  # 0 is a figure like any other
    ]  # gone.pl's read failed: not answered, so it keeps its figures
    assert answer["message"].startswith(
        "usage update of mail1: 1 of 4 services not synced (service 78: "
    )
    # recorded like a sync run (the tabs' history), and no WHMCS API call at all
    assert store.latest(ids[1]).used_bytes == 150 * MiB and store.latest(79) is None
    assert store.latest(78) is None and fake.requests == []


def test_usage_update_needs_no_whmcs_api_and_names_an_old_forwarder(zimbra_server, store):
    entry = {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": zimbra_server[1],
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
    }
    context = AdapterContext(make_config([entry]), store=store)  # no WHMCS client at all
    rows = [(5, "example.org", 1, "Active", 0, 0)]
    assert dispatch("UsageUpdate", usage_update(SERVER_ID, *rows), context)["services"] == [
        {"id": 5, "diskusage": 150, "disklimit": 200}
    ]
    old = dispatch("UsageUpdate", {"serverid": SERVER_ID}, context)
    assert old == (
        "UsageUpdate: the module sent no services from tblhosting; regenerate it "
        "(puq-bridge whmcs-module) for this bridge"
    )
    context.close()


def test_sync_usage_button_syncs_one_service(ctx, store, whmcs_services):
    fake, server, ids = whmcs_services
    assert dispatch("SyncUsage", params(serviceid=ids[1], domain="example.org"), ctx) == "success"
    assert store.latest(ids[1]) is not None and store.latest(ids[0]) is None
    unknown = dispatch("SyncUsage", params(serviceid=999), ctx)
    assert (
        unknown
        == "usage sync of service 999: 1 of 1 services not synced (service 999: service 999 not found "
        "in WHMCS)"
    )


def test_client_area_page_cache_follows_the_store(ctx, store):
    ctx.payment_methods.refresh_now()  # (else the names arriving between two pages change the page)
    record(store, [MailboxUsage("pierwszy@firma.pl", MiB, GiB)])
    first = html_of(dispatch("ClientArea", params(), ctx))
    assert (
        html_of(dispatch("ClientArea", params(), ctx)) is first
    )  # a reload reuses the rendered page
    assert (
        html_of(dispatch("ClientArea", params(clientsdetails={"language": "polish"}), ctx))
        is not first
    )
    record(store, [MailboxUsage("drugi@firma.pl", MiB, GiB)])
    second = html_of(dispatch("ClientArea", params(), ctx))
    assert "drugi@firma.pl" in second and "pierwszy@firma.pl" not in second


# --- payment method display names ----------------------------------------------------------------------------------


def payment_cell(html):
    """The text of the payment-method row of the server-information tab."""
    match = re.search(r"Payment method</th><td>([^<]*)</td>", html)
    assert match, "no payment method row"
    return match.group(1)


def test_client_area_shows_the_gateway_display_name(ctx, store, fake_whmcs):
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    # the first page after start-up does not wait for WHMCS: module names, and a lookup starts behind it
    assert payment_cell(html_of(dispatch("ClientArea", params(), ctx))) == "banktransfer"
    assert ctx.payment_methods.wait(5)
    assert payment_cell(html_of(dispatch("ClientArea", params(), ctx))) == "Bank Transfer"
    paypal = params(service={**params()["service"], "paymentmethod": "paypal"})
    assert payment_cell(html_of(dispatch("ClientArea", paypal, ctx))) == "PayPal"
    unknown = params(service={**params()["service"], "paymentmethod": "mailin"})
    assert payment_cell(html_of(dispatch("ClientArea", unknown, ctx))) == "mailin"
    assert (
        fake_whmcs.count("GetPaymentMethods") == 1
    )  # the names are looked up once per process, not per page


def test_payment_method_names_are_looked_up_again_after_the_ttl(whmcs_client, fake_whmcs):
    now = [1000.0]
    names = PaymentMethodNames(lambda: whmcs_client, ttl=3600, clock=lambda: now[0])
    assert (
        names.refresh_now()["stripe"] == "Credit Card" and names.name("przelewy24") == "przelewy24"
    )
    fake_whmcs.payment_methods["przelewy24"] = "Przelewy24"  # a gateway activated meanwhile
    now[0] += 3599
    assert names.name("przelewy24") == "przelewy24"
    assert names.wait(5) and fake_whmcs.count("GetPaymentMethods") == 1
    now[0] += 2
    assert (
        names.name("przelewy24") == "przelewy24"
    )  # the expired names serve the call that renews them
    assert names.wait(5) and fake_whmcs.count("GetPaymentMethods") == 2
    assert names.name("przelewy24") == "Przelewy24"


def test_whmcs_down_shows_the_module_name_and_the_page_still_renders(
    ctx, store, fake_whmcs, caplog
):
    caplog.set_level(logging.DEBUG)
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    fake_whmcs.inject("http500", on="GetPaymentMethods")  # asked once: the lookup is never retried
    html = html_of(dispatch("ClientArea", params(), ctx))
    assert payment_cell(html) == "banktransfer" and "biuro@firma.pl" in html
    assert ctx.payment_methods.wait(5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "payment method names unavailable" in w and "GetPaymentMethods" in w for w in warnings
    )
    assert WHMCS_SECRET not in caplog.text and "whmcs-secret" not in caplog.text
    dispatch("ClientArea", params(clientsdetails={"language": "polish"}), ctx)
    assert payment_cell(html_of(dispatch("ClientArea", params(), ctx))) == "banktransfer"
    assert ctx.payment_methods.wait(5)
    assert (
        fake_whmcs.count("GetPaymentMethods") == 1
    )  # not asked again on every page while WHMCS is down


def test_unreachable_whmcs_or_none_gives_module_names(store):
    refused = WhmcsClient("http://127.0.0.1:9", "whmcs-id", WHMCS_SECRET, timeout=0.25, retries=0)
    for whmcs in (refused, None):
        context = AdapterContext(make_config(), store=store, whmcs=whmcs)
        assert context.payment_methods.name("banktransfer") == "banktransfer"
        assert context.payment_methods.wait(5)
        assert context.payment_methods.name("banktransfer") == "banktransfer"
        assert context.payment_methods.name("") == ""


def test_earlier_names_survive_a_failed_refresh(whmcs_client, fake_whmcs):
    now = [0.0]
    names = PaymentMethodNames(lambda: whmcs_client, ttl=10, retry_after=5, clock=lambda: now[0])
    assert names.refresh_now()["paypal"] == "PayPal"
    now[0] = 11
    fake_whmcs.inject(
        "auth", on="GetPaymentMethods"
    )  # e.g. the API role lost the action: not retried
    assert names.name("paypal") == "PayPal" and names.wait(5)
    assert names.name("paypal") == "PayPal" and fake_whmcs.count("GetPaymentMethods") == 2
    now[0] = 17
    fake_whmcs.payment_methods["paypal"] = "PayPal (wallet)"
    assert names.name("paypal") == "PayPal" and names.wait(5)
    assert names.name("paypal") == "PayPal (wallet)" and fake_whmcs.count("GetPaymentMethods") == 3


def mail1(zimbra_server):
    """The ``[[zimbra]]`` entry of ``zimbra_server`` (WHMCS server 1)."""
    return {
        "name": "mail1",
        "whmcs_server": SERVER_ID,
        "url": zimbra_server[1],
        "admin_user": ZIMBRA_ADMIN,
        "password": ZIMBRA_PASSWORD,
        "timeout": 2,
    }


def test_a_hanging_whmcs_does_not_hold_the_page_and_the_lookup_gives_up_soon(
    whmcs_server, zimbra_server, store, caplog
):
    fake, url = whmcs_server
    fake.hang_seconds = 1.5
    fake.inject("hang", on="GetPaymentMethods", times=3)
    patient = WhmcsClient(url, "whmcs-id", "whmcs-secret", timeout=30, retries=2, backoff=0.001)
    context = AdapterContext(make_config([mail1(zimbra_server)]), store=store, whmcs=patient)
    assert context.payment_methods.timeout <= 2  # the default a lookup may wait for a read, at most
    context.payment_methods = PaymentMethodNames(lambda: context.whmcs, timeout=0.2)
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    started = time.monotonic()
    html = html_of(dispatch("ClientArea", params(), context))
    elapsed = time.monotonic() - started
    assert payment_cell(html) == "banktransfer" and "biuro@firma.pl" in html
    assert elapsed < 0.5, f"the page waited {elapsed:.2f} s for a cosmetic lookup"
    assert context.payment_methods.wait(
        1.0
    )  # the lookup gave up after its 0.2 s, not the client's 30 s
    assert fake.count("GetPaymentMethods") == 1  # one try, no retries
    assert (patient.timeout, patient.retries) == (
        30,
        2,
    )  # the client's own settings serve everyone else
    assert "payment method names unavailable" in caplog.text
    patient.session.close()


PAYMENT_REPLY = json.dumps(
    {
        "result": "success",
        "totalresults": 2,
        "paymentmethods": {
            "paymentmethod": [
                {"module": "banktransfer", "displayname": "Bank Transfer"},
                {"module": "paypal", "displayname": "PayPal"},
            ]
        },
    }
)


class TrickleWhmcs:
    """A WHMCS API on loopback that answers every request rightly but slowly: the reply's body in ``chunks`` pieces
    over ``seconds`` — each piece well within a client's read timeout, so requests' ``timeout`` never fires."""

    def __init__(self, body: str, *, seconds: float, chunks: int = 10):
        self.body, self.pause = body.encode(), seconds / chunks
        self.size = -(-len(self.body) // chunks)
        self.connections = 0
        self._stopped = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(self.body)
            )
            for at in range(0, len(self.body), self.size):
                if self._stopped.wait(self.pause):
                    return
                conn.sendall(self.body[at : at + self.size])

    def stop(self):
        self._stopped.set()
        self._sock.close()


def test_pages_never_wait_for_a_trickling_whmcs_and_one_lookup_serves_the_later_pages(
    zimbra_server, store
):
    """requests' timeout bounds each read, not the reply: a WHMCS sending its answer a few bytes at a time held
    every page (one doing the lookup, the others waiting for its lock) for as long as the answer took."""
    slow = TrickleWhmcs(PAYMENT_REPLY, seconds=1.5)
    whmcs = WhmcsClient(slow.url, "whmcs-id", WHMCS_SECRET, timeout=30, retries=2)
    context = AdapterContext(make_config([mail1(zimbra_server)]), store=store, whmcs=whmcs)
    record(store, [MailboxUsage("biuro@firma.pl", MiB, GiB)])
    shown, took = [], []

    def page():
        started = time.monotonic()
        html = html_of(dispatch("ClientArea", params(), context))
        took.append(time.monotonic() - started)
        shown.append(payment_cell(html))

    try:
        pages = [
            threading.Thread(target=page) for _ in range(8)
        ]  # as many as the adapter's worker threads
        for thread in pages:
            thread.start()
        for thread in pages:
            thread.join(5)
        assert len(took) == 8 and max(took) < 0.5, f"pages waited {max(took):.2f} s for the lookup"
        assert shown == ["banktransfer"] * 8
        page()  # another page while the lookup still runs
        assert took[-1] < 0.5 and not context.payment_methods.wait(0)  # (it takes 1.5 s)
        assert context.payment_methods.wait(5)
        assert slow.connections == 1  # one lookup for all nine pages
        page()
        assert shown[-1] == "Bank Transfer" and slow.connections == 1
    finally:
        slow.stop()
        context.payment_methods.wait(5)
        whmcs.session.close()


def test_concurrent_callers_start_one_lookup_against_a_slow_fake_whmcs(whmcs_client, fake_whmcs):
    fake_whmcs.latency = 0.2  # (whmcs_client gives up after 0.25 s)
    names = PaymentMethodNames(lambda: whmcs_client, timeout=2)
    got, started = [], time.monotonic()
    callers = [threading.Thread(target=lambda: got.append(names.name("paypal"))) for _ in range(6)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(5)
    assert got == ["paypal"] * 6 and time.monotonic() - started < 0.15
    assert names.wait(5) and names.name("paypal") == "PayPal"
    assert fake_whmcs.count("GetPaymentMethods") == 1


# --- a sync through the adapter's shared clients, beside client-area pages ----------------------------------------


def serve_context(tmp_path, whmcs_url, zimbra_url, store):
    """The AdapterContext ``puq-bridge serve`` builds: the CLI's WHMCS factory, the default Zimbra factory, 8 workers,
    a sync with 16 writes and 16 reads per server at once."""
    from puq_bridge.cli import AppContext
    from puq_bridge.logs import SecretFilter

    path = tmp_path / "bridge.toml"
    path.write_text(
        "\n".join(
            [
                "[whmcs]",
                f'url = "{whmcs_url}"',
                'identifier = "whmcs-id"',
                'secret = "whmcs-secret"',
                "timeout = 2",
                "[sync]",
                "concurrency = 16",
                "per_server_concurrency = 16",
                "[[zimbra]]",
                'name = "mail1"',
                f"whmcs_server = {SERVER_ID}",
                f'url = "{zimbra_url}"',
                f'admin_user = "{ZIMBRA_ADMIN}"',
                f'password = "{ZIMBRA_PASSWORD}"',
                "timeout = 2",
            ]
        ),
        encoding="utf-8",
    )
    path.chmod(0o600)
    app = AppContext(str(path), 0, SecretFilter())
    return AdapterContext(app.config, store=store, whmcs=app.whmcs, threads=8)


def test_a_sync_of_16_at_once_beside_client_area_pages_on_the_same_clients(
    tmp_path, whmcs_server, zimbra_server, store, caplog
):
    """UsageUpdate shares the adapter's cached WHMCS and Zimbra clients with the pages being served: their pools are
    sized when the clients are built, and nothing swaps a session's adapter (closing its pools) under a request."""
    fake_whmcs, whmcs_url = whmcs_server
    fake_zimbra, zimbra_url = zimbra_server
    fake_whmcs.latency = fake_zimbra.latency = 0.01  # so that the requests overlap
    client = fake_whmcs.add_client("Jan", "Kowalski", "jan@example.com")
    product = fake_whmcs.add_product("Mail")
    assert fake_whmcs.add_server("mail1", "mail1.example.com", "192.0.2.5") == SERVER_ID
    ids = []
    for i in range(32):
        fake_zimbra.add_domain(f"d{i}.pl")
        fake_zimbra.add_account(f"biuro@d{i}.pl", quota=GiB, used=(i + 1) * MiB)
        ids.append(fake_whmcs.add_service(client, product, f"d{i}.pl", server_id=SERVER_ID))
    context = serve_context(tmp_path, whmcs_url, zimbra_url, store)
    zimbra = context.zimbra_for(ModuleParams.read(params()).server)
    whmcs = context.whmcs
    adapters = [dict(zimbra.session.adapters), dict(whmcs.session.adapters)]
    assert {a._pool_maxsize for a in adapters[0].values()} == {8 + 16}
    assert {a._pool_maxsize for a in adapters[1].values()} == {16 + 1}
    caplog.set_level("WARNING")
    synced, problems, served = threading.Event(), [], []

    def pages(n):
        while (
            not synced.is_set()
        ):  # pages the store cannot serve (no such service): each reads Zimbra live
            page = html_of(
                dispatch("ClientArea", params(serviceid=900 + n, domain=f"d{n}.pl"), context)
            )
            tab = dispatch(
                "AdminServicesTabFields", params(serviceid=900 + n, domain=f"d{n}.pl"), context
            )
            if f"biuro@d{n}.pl" not in page or tab.get("Mail domain status") != "active":
                problems.append((n, page[:200], tab))
            served.append(n)

    workers = [
        threading.Thread(target=pages, args=(n,)) for n in range(7)
    ]  # 7 workers + the one syncing
    for worker in workers:
        worker.start()
    rows = [(sid, f"d{i}.pl", product, "Active", 0, 0) for i, sid in enumerate(ids)]
    try:
        result = dispatch("UsageUpdate", usage_update(SERVER_ID, *rows), context)
    finally:
        synced.set()
        for worker in workers:
            worker.join(10)
    assert result["message"] == "success" and problems == [] and len(served) >= 7
    assert [f["diskusage"] for f in result["services"]] == list(range(1, 33))
    assert store.latest(ids[31]).used_bytes == 32 * MiB
    assert fake_whmcs.count("UpdateClientProduct") == fake_whmcs.count("GetClientsProducts") == 0
    assert [dict(zimbra.session.adapters), dict(whmcs.session.adapters)] == adapters
    assert warnings_of(caplog) == ""  # no "pool is full", no failed page
    context.payment_methods.wait(5)
    context.close()


# --- one total space: the product's setting 3 in WHMCS's disk limit and in the client area ------------------------


def total_space_cell(markup):
    return re.search(r'data-puq="total-space">([^<]*)<', markup).group(1)


@pytest.fixture
def firma(whmcs_server, fake_zimbra):
    """firma.pl on mail1 with one 1 GiB mailbox, and its WHMCS service (no configurable options)."""
    fake, _ = whmcs_server
    client = fake.add_client("Jan", "Kowalski", "jan@firma.pl")
    server = fake.add_server("mail1", "mail1.example.com", "192.0.2.5")
    fake_zimbra.add_domain("firma.pl")
    fake_zimbra.add_account("biuro@firma.pl", quota=GiB, used=10 * MiB)
    return fake, client, fake.add_product("Mail"), server


def test_product_total_space_is_the_limit_in_whmcs_and_in_the_client_area(
    ctx, store, firma, fake_zimbra
):
    fake, client, product, server = firma
    sid = fake.add_service(client, product, "firma.pl", server_id=server)
    page = params(serviceid=sid, configoption3="50")
    live = html_of(dispatch("ClientArea", page, ctx))  # nothing stored yet: read live
    assert store.total_spaces() == {sid: 50 * GiB}  # ...and the setting is kept for the sync
    row = (sid, "firma.pl", product, "Active")
    update = dispatch("UsageUpdate", usage_update(server, row), ctx)
    assert update["services"] == [{"id": sid, "diskusage": 10, "disklimit": 50 * 1024}]
    assert dispatch("SyncUsage", page, ctx) == "success"
    assert fake.services[sid]["disklimit"] == str(50 * 1024)  # 51200 MB, not the mailbox's 1024
    reads = fake_zimbra.count("GetQuotaUsage")
    stored = html_of(dispatch("ClientArea", page, ctx))
    assert fake_zimbra.count("GetQuotaUsage") == reads  # this page came from the store
    assert total_space_cell(live) == total_space_cell(stored) == "50.0 GB"
    assert store.latest(sid).limit_bytes == 50 * GiB


def test_a_client_chosen_option_overrides_the_product_setting(ctx, store, firma):
    fake, client, product, server = firma
    sid = fake.add_service(
        client, product, "firma.pl", server_id=server, config_options={"Total space (GB)": "5 GB"}
    )
    page = params(serviceid=sid, configoption3="50", configoptions={"Total space (GB)": "5 GB"})
    assert total_space_cell(html_of(dispatch("ClientArea", page, ctx))) == "5.0 GB"
    assert dispatch("SyncUsage", page, ctx) == "success"
    assert fake.services[sid]["disklimit"] == str(5 * 1024)
    # tblhosting has no configurable options: WHMCS's UsageUpdate gets the client's choice from
    # what the adapter kept, so both paths write the same limit
    row = (sid, "firma.pl", product, "Active")
    update = dispatch("UsageUpdate", usage_update(server, row), ctx)
    assert update["services"] == [{"id": sid, "diskusage": 10, "disklimit": 5 * 1024}]
    assert total_space_cell(html_of(dispatch("ClientArea", page, ctx))) == "5.0 GB"


def test_without_any_setting_the_limit_is_the_sum_of_mailbox_quotas(ctx, store, firma):
    fake, client, product, server = firma
    sid = fake.add_service(client, product, "firma.pl", server_id=server)
    assert dispatch("SyncUsage", params(serviceid=sid, configoption3="0"), ctx) == "success"
    assert fake.services[sid]["disklimit"] == "1024"
    assert total_space_cell(html_of(dispatch("ClientArea", params(serviceid=sid), ctx))) == "1.0 GB"


def test_create_and_change_package_keep_the_product_setting(ctx, store, fake_zimbra):
    assert dispatch("CreateAccount", params(configoption3="1,5 GB"), ctx) == "success"
    assert store.total_spaces() == {42: int(1.5 * GiB)}
    assert dispatch("ChangePackage", params(configoption3="20"), ctx) == "success"
    assert store.total_spaces() == {42: 20 * GiB}
    assert dispatch("ChangePackage", params(configoption3="0"), ctx) == "success"
    assert store.total_spaces() == {}


def test_a_bad_total_space_setting_names_the_setting(ctx, store):
    message = dispatch("SyncUsage", params(configoption3="lots"), ctx)
    assert message.startswith(
        "product setting 'Total space (GB)' (configoption3) must be a number of GB"
    )
    assert store.total_spaces() == {}


def test_the_renderer_follows_render_default_lang(zimbra_server, store):
    """[render] default_lang is the language of a client whose WHMCS language is empty."""
    from puq_bridge.config import parse_config

    _, url = zimbra_server
    config = parse_config(
        {
            "whmcs": {
                "url": "http://127.0.0.1:9",
                "identifier": "whmcs-id",
                "secret": WHMCS_SECRET,
            },
            "zimbra": [
                {
                    "name": "mail1",
                    "whmcs_server": SERVER_ID,
                    "url": url,
                    "admin_user": ZIMBRA_ADMIN,
                    "password": ZIMBRA_PASSWORD,
                }
            ],
            "render": {"default_lang": "pl"},
        },
        "test.toml",
        env={},
    )
    context = AdapterContext(config, store=store)
    record(store, [MailboxUsage("biuro@firma.pl", GiB, 2 * GiB)])
    polish = html_of(dispatch("ClientArea", params(clientsdetails={"language": ""}), context))
    english = html_of(
        dispatch("ClientArea", params(clientsdetails={"language": "english"}), context)
    )
    assert 'lang="pl"' in polish and "Przestrzeń całkowita" in polish
    assert 'lang="en"' in english
    context.close()


def test_every_call_with_module_settings_keeps_the_tenancy(ctx, store, firma):
    """CreateAccount, ChangePackage, the client area and the SyncUsage button: the sync and `render` read it here."""
    from puq_bridge.usage.records import ServiceSettings

    fake, client, product, server = firma
    sid = fake.add_service(client, product, "firma.pl", server_id=server)
    assert (
        dispatch("CreateAccount", params(serviceid=sid, configoption6="server"), ctx) == "success"
    )
    assert store.service_settings() == {sid: ServiceSettings(None, "server")}
    assert (
        dispatch(
            "ChangePackage", params(serviceid=sid, configoption3="5", configoption6="domain"), ctx
        )
        == "success"
    )
    assert store.service_settings() == {sid: ServiceSettings(5 * GiB, "domain")}
    dispatch("ClientArea", params(serviceid=sid, configoption3="5", configoption6="server"), ctx)
    assert store.service_settings()[sid].tenancy == "server"
    assert (
        dispatch("SyncUsage", {"serviceid": sid, "serverid": server, "configoption6": ""}, ctx)
        == "success"
    )
    assert store.service_settings() == {sid: ServiceSettings(None, "domain")}  # empty: the defaults
    assert store.latest(sid).tenancy == "domain"


def test_a_bad_tenancy_setting_names_the_setting_and_keeps_nothing(ctx, store):
    message = dispatch("SyncUsage", params(configoption6="cluster"), ctx)
    assert message.startswith(
        "product setting 'Tenancy' (configoption6) must be one of domain, server"
    )
    assert store.service_settings() == {}
