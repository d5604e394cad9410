"""``dispatch`` against the simulators: every function, bad params, secrets, and what a failure
looks like in WHMCS (a readable string, the TestConnection array, the client's translated
notice)."""

import logging
import re
import socket
from html import escape, unescape

import pytest

from puq_bridge.clientarea.render import Renderer
from puq_bridge.usage.store import UsageStore
from puq_bridge.whmcs.params import ACTION_FIELDS
from puq_bridge.zimbra.models import MailboxUsage
from tests.support.adapter import (
    make_config,
)
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD, GiB, MiB, echoing_auth
from tests.whmcs_module.support import (
    SERVER_ID,
    html_of,
    params,
    record,
    warnings_of,
)
from tests.whmcs_module.test_payment_methods import mail1
from whmcs_module.adapter import FUNCTIONS, dispatch
from whmcs_module.context import AdapterContext

# --- the static functions -------------------------------------------------------------------------


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
        "ServiceSingleSignOn",
        "AdminSingleSignOn",
        "MailboxSignOn",
        "AdminPanelSignOn",
        "ClientAreaAllowedFunctions",
        "ListAccounts",
        *ACTION_FIELDS,  # the mailbox self-service forms
    }


def test_static_answers(ctx):
    assert dispatch("MetaData", {}, ctx)["DisplayName"]
    # 7071 is Zimbra's HTTPS admin port: WHMCS's server form must not offer it as a plain-http port
    meta = dispatch("MetaData", {}, ctx)
    assert meta["DefaultSSLPort"] == "7071" and "DefaultNonSSLPort" not in meta
    assert len(dispatch("ConfigOptions", {}, ctx)) == 8
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


# --- life cycle -----------------------------------------------------------------------------------


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


def test_test_connection_failure_is_the_array_form(ctx, fake_zimbra, zimbra_server):
    fake_zimbra.inject("http500", on="GetVersionInfo")
    result = dispatch("TestConnection", typed_form(zimbra_server[1]), ctx)
    assert result["success"] is False and "GetVersionInfo" in result["error"]


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


# --- failures the client sees as a notice ---------------------------------------------------------


EN_NOTICE = "Service details are temporarily unavailable. Please try again later."
PL_NOTICE = "Szczegóły usługi są chwilowo niedostępne. Spróbuj ponownie później."


def notice_of(result):
    """The text of the generic notice, asserting the page is that notice and nothing else."""
    match = re.fullmatch(
        r'<div class="alert alert-warning" role="alert" data-puq="notice-unavailable">'
        r"([^<]*)</div>",
        html_of(result),
    )
    assert match, html_of(result)
    return unescape(match.group(1))


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
        "ClientArea for service 42: WHMCS server zimbra-internal.example.net has no username "
        "or password for the Zimbra admin API"
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


@pytest.mark.parametrize("key", ["password", "serverpassword", "serveraccesshash"])
def test_admin_tab_masks_secrets_with_html_characters(ctx, store, key):
    """Masking runs on the raw text, before escaping: escaped first, p&ss<w0rd would be
    p&amp;ss&lt;w0rd and no longer match the secret."""
    secret = 'p&ss<w0rd"9'
    record(store, [MailboxUsage("a@firma.pl", MiB, GiB)])
    record(store, [], error=f"WHMCS refused the password {secret} & said <no>", status="failed")
    fields = dispatch("AdminServicesTabFields", params(**{key: secret}), ctx)
    assert fields["Last sync"].endswith("the password ******** &amp; said &lt;no&gt;")
    everything = " ".join(fields.values())
    for leak in (secret, escape(secret), escape(secret, quote=False), "w0rd"):
        assert leak not in everything


ODD_PASSWORD = 'Zi&m<b>r"a-P4ss'


def test_test_connection_masks_a_password_the_server_echoes_escaped(fake_zimbra, store):
    from puq_bridge.simulators.server import BackgroundServer

    with BackgroundServer(echoing_auth(fake_zimbra)) as server:
        entry = {
            "name": "mail1",
            "whmcs_server": SERVER_ID,
            "url": server.url,
            "admin_user": ZIMBRA_ADMIN,
            "password": ODD_PASSWORD,
            "timeout": 2,
        }
        context = AdapterContext(make_config([entry]), store=store)
        try:
            # what the admin typed into WHMCS's server form; the entry lends its plain-http url
            host, port = server.url.removeprefix("http://").rsplit(":", 1)
            typed = params(
                serverhostname=host,
                serverport=port,
                serverusername=ZIMBRA_ADMIN,
                serverpassword=ODD_PASSWORD,
            )
            result = dispatch("TestConnection", typed, context)
        finally:
            context.close()
    assert result["success"] is False and "AuthRequest" in result["error"]
    assert "********" in result["error"]
    for leaked in (ODD_PASSWORD, escape(ODD_PASSWORD), "Zi&amp;m&lt;b&gt;r&quot;a-P4ss", "P4ss"):
        assert leaked not in result["error"]


def test_a_postgresql_store_that_goes_away_gives_the_client_only_the_notice(
    postgres_url, zimbra_server, caplog
):
    """The database is gone between the signature check and the page: the client sees the generic
    notice, the log names the store and the cause (never its password)."""
    from puq_bridge.usage.backends.postgres import PostgresBackend
    from tests.support.store import create_database, drop_database

    url = create_database(postgres_url, "puq_gone_page")
    store = UsageStore(PostgresBackend(url, timeout=0.5))
    context = AdapterContext(make_config([mail1(zimbra_server)]), store=store)
    try:
        drop_database(postgres_url, url)
        assert notice_of(dispatch("ClientArea", params(), context)) == EN_NOTICE
    finally:
        context.close()
        store.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "usage store postgresql://postgres@127.0.0.1:" in logged and "does not exist" in logged
    assert postgres_url.split(":")[2].split("@")[0] not in logged


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
