"""WhmcsClient against the WHMCS simulator served on loopback: every action, retries of reads (never
of writes), warnings, and no secret in its logs or errors."""

import datetime as dt
import logging
from decimal import Decimal
from types import SimpleNamespace

import pytest

from puq_bridge.errors import WhmcsApiError, WhmcsProtocolError, WhmcsTransportError
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs import actions as whmcs_actions
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from puq_bridge.whmcs.client import WhmcsClient
from puq_bridge.whmcs.models import CancelledPackage
from tests.support.whmcs import WHMCS_IDENTIFIER, WHMCS_SECRET

SERVICE_PASSWORD = "Svc-Pa55word!"


@pytest.fixture
def world(fake_whmcs):
    """One Polish client with two services (one on a server), one English client with none."""
    sim = fake_whmcs
    w = SimpleNamespace(sim=sim)
    w.client = sim.add_client(
        "Jan", "Kowalski", "jan@example.pl", language="polish", companyname="Firma"
    )
    w.other = sim.add_client("Ann", "Smith", "ann@example.com", currency_code="USD")
    w.product = sim.add_product("Private Zimbra server", type="server")
    w.server = sim.add_server("mail1", "mail1.example.com", "192.0.2.10")
    w.service = sim.add_service(
        w.client,
        w.product,
        "example.pl",
        server_id=w.server,
        password=SERVICE_PASSWORD,
        username="jan",
        recurring_amount="123.45",
        disk_usage=118,
        disk_limit=10240,
        config_options={"Total space (GB)": "10"},
        custom_fields={"Admin": "ops"},
    )
    w.bare = sim.add_service(
        w.client, w.product, "other.pl", next_due_date="0000-00-00", regdate="0000-00-00"
    )
    return w


# --- services -------------------------------------------------------------------------------------


def test_client_products_converts_types(world, whmcs_client):
    services = {s.id: s for s in whmcs_client.client_products(client_id=world.client)}
    s = services[world.service]
    assert (s.client_id, s.product_id, s.server_id) == (world.client, world.product, world.server)
    assert s.recurring_amount == Decimal("123.45") and isinstance(s.first_payment_amount, Decimal)
    assert s.registration_date == dt.date(2026, 1, 15) and s.next_due_date == dt.date(2026, 12, 15)
    assert (s.disk_usage_mb, s.disk_limit_mb, s.last_update) == (118, 10240, None)
    assert (s.server_hostname, s.server_ip, s.product_name, s.group_name) == (
        "mail1.example.com",
        "192.0.2.10",
        "Private Zimbra server",
        "Mail",
    )
    assert s.config_options == {"Total space (GB)": "10"} and s.custom_fields == {"Admin": "ops"}
    assert s.password == SERVICE_PASSWORD and SERVICE_PASSWORD not in repr(s)
    bare = services[world.bare]
    assert bare.server_id is None and bare.next_due_date is None and bare.registration_date is None


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"domain": "other.pl"}, ["bare"]),
        ({"service_id": "SERVICE"}, ["service"]),
        ({"product_id": "PRODUCT"}, ["service", "bare"]),
        ({"client_id": "OTHER"}, []),
    ],
)
def test_client_products_filters(world, whmcs_client, filters, expected):
    filters = {
        k: getattr(world, v.lower()) if isinstance(v, str) and v.isupper() else v
        for k, v in filters.items()
    }
    found = [s.id for s in whmcs_client.client_products(**filters)]
    assert found == [getattr(world, name) for name in expected]


def test_paging_walks_every_page_and_always_sends_limits(fake_whmcs, whmcs_client):
    cid = fake_whmcs.add_client("A", "B", "a@example.com")
    pid = fake_whmcs.add_product("Mail")
    ids = [fake_whmcs.add_service(cid, pid, f"d{i}.example") for i in range(7)]
    assert [s.id for s in whmcs_client.client_products(page_size=3)] == ids
    sent = [r["params"] for r in fake_whmcs.requests]
    assert [(p["limitstart"], p["limitnum"]) for p in sent] == [("0", "3"), ("3", "3"), ("6", "3")]


def test_empty_products_string_gives_no_services(fake_whmcs, whmcs_client):
    assert whmcs_client.call("GetClientsProducts", {"clientid": 99})["products"] == ""
    assert list(whmcs_client.client_products(client_id=99)) == []
    assert fake_whmcs.count("GetClientsProducts") == 2


def test_service_by_id_and_missing(world, whmcs_client):
    assert whmcs_client.service(world.bare).domain == "other.pl"
    with pytest.raises(WhmcsApiError, match="Service ID Not Found"):
        whmcs_client.service(999)


def test_update_usage_writes_mb_and_lastupdate(world, whmcs_client):
    whmcs_client.update_usage(
        world.bare,
        disk_usage_mb=5,
        disk_limit_mb=2048,
        last_update=dt.datetime(2026, 11, 22, 3, 0, 7),
    )
    row = world.sim.services[world.bare]
    assert (row["diskusage"], row["disklimit"], row["lastupdate"]) == (
        "5",
        "2048",
        "2026-11-22 03:00:07",
    )
    assert whmcs_client.service(world.bare).last_update == dt.datetime(2026, 11, 22, 3, 0, 7)


def test_update_usage_writes_zero_in_a_form_whmcs_does_not_skip(world, whmcs_client):
    # WHMCS's API skips a value PHP finds empty, and "0" is; "00" is not, and the column is an int
    whmcs_client.update_usage(
        world.service, disk_usage_mb=0, disk_limit_mb=0, last_update=dt.datetime(2026, 1, 2)
    )
    sent = world.sim.requests[-1]["params"]
    assert (sent["diskusage"], sent["disklimit"]) == ("00", "00")
    row = world.sim.services[world.service]
    assert (row["diskusage"], row["disklimit"]) == ("0", "0")
    assert whmcs_client.service(world.service).disk_usage_mb == 0


def test_update_client_product_fields_and_php_arrays(world, whmcs_client):
    whmcs_client.update_client_product(world.service, notes="hello", status="Suspended")
    assert world.sim.services[world.service]["notes"] == "hello"
    whmcs_client.update_client_product(world.service, unset=["notes"])
    assert world.sim.requests[-1]["params"]["unset[0]"] == "notes"
    assert world.sim.services[world.service]["notes"] == ""
    assert whmcs_client.service(world.service).status == "Suspended"


def test_client_details(world, whmcs_client):
    c = whmcs_client.client_details(world.client)
    assert (c.id, c.firstname, c.companyname, c.language, c.currency_code, c.status) == (
        world.client,
        "Jan",
        "Firma",
        "polish",
        "PLN",
        "Active",
    )
    assert whmcs_client.client_details(email="ann@example.com").currency_code == "USD"


def test_products_and_servers(world, whmcs_client):
    world.sim.add_product("Other", module="cpanel", group="Web")
    [p] = whmcs_client.products(module="puqbridge")
    assert (p.id, p.group_id, p.type, p.name) == (
        world.product,
        1,
        "server",
        "Private Zimbra server",
    )
    assert [x.group_id for x in whmcs_client.products()] == [1, 2]
    [s] = whmcs_client.servers(service_id=world.service)
    assert (s.id, s.hostname, s.ip_address, s.active, s.module) == (
        world.server,
        "mail1.example.com",
        "192.0.2.10",
        True,
        "puqbridge",
    )
    assert whmcs_client.servers(service_id=world.bare) == []


def test_payment_methods_map_gateway_modules_to_display_names(world, whmcs_client):
    world.sim.add_service(
        world.other,
        world.product,
        "przelewy.pl",
        payment_method="przelewy24",
        payment_method_name="Przelewy24",
    )
    del world.sim.payment_methods["stripe"]  # a deactivated gateway is not listed
    assert whmcs_client.payment_methods() == {
        "banktransfer": "Bank Transfer",
        "paypal": "PayPal",
        "przelewy24": "Przelewy24",
    }
    assert world.sim.requests[-1] == {"action": "GetPaymentMethods", "params": {}}


# --- module actions -------------------------------------------------------------------------------


def test_module_actions_reach_the_module(world, whmcs_client):
    sid = world.service
    whmcs_client.module_suspend(sid, "unpaid")
    assert world.sim.services[sid]["status"] == "Suspended"
    whmcs_client.module_unsuspend(sid)
    whmcs_client.module_change_password(sid, "New-Pa55word")
    whmcs_client.module_change_package(sid)
    whmcs_client.module_custom(sid, "resync")
    whmcs_client.module_create(sid)
    whmcs_client.module_terminate(sid)
    assert [a for a, _ in world.sim.module_calls] == [
        "ModuleSuspend",
        "ModuleUnsuspend",
        "ModuleChangePw",
        "ModuleChangePackage",
        "ModuleCustom",
        "ModuleCreate",
        "ModuleTerminate",
    ]
    assert world.sim.services[sid]["status"] == "Terminated"
    assert world.sim.services[sid]["password"] == "New-Pa55word"


def test_module_error_string_becomes_api_error(world, whmcs_client):
    world.sim.module_hook = lambda action, row: "Zimbra mail1 unreachable"
    with pytest.raises(WhmcsApiError) as err:
        whmcs_client.module_create(world.service)
    assert (err.value.action, err.value.message) == ("ModuleCreate", "Zimbra mail1 unreachable")


# --- cancellation ---------------------------------------------------------------------------------


def test_cancel_request_and_listing(world, whmcs_client):
    whmcs_client.add_cancel_request(world.service, reason="moving away")
    whmcs_client.add_cancel_request(world.bare, immediate=True)
    found = whmcs_client.cancelled_packages()
    assert [(p.service_id, p.type, p.reason) for p in found] == [
        (world.service, "End of Billing Period", "moving away"),
        (world.bare, "Immediate", ""),
    ]
    assert all(isinstance(p, CancelledPackage) and isinstance(p.date, dt.datetime) for p in found)
    with pytest.raises(WhmcsApiError, match="Existing Cancellation Request Exists"):
        whmcs_client.add_cancel_request(world.service)


def test_no_cancelled_packages(whmcs_client):
    assert whmcs_client.call("GetCancelledPackages")["totalresults"] == "0"
    assert whmcs_client.cancelled_packages() == []


def test_every_list_is_read_whole_although_whmcs_returns_25_rows_by_default(
    fake_whmcs, whmcs_client
):
    cid = fake_whmcs.add_client("A", "B", "a@example.com")
    pid = fake_whmcs.add_product("Mail")
    ids = [fake_whmcs.add_service(cid, pid, f"d{i}.example") for i in range(130)]
    for hid in ids:
        fake_whmcs.add_user("U", str(hid), f"u{hid}@example.com", client_id=cid)
        whmcs_client.add_cancel_request(hid)
    first = whmcs_actions.dispatch(fake_whmcs, "GetClientsProducts", {})
    assert len(first["products"]["product"]) == 25
    assert [s.id for s in whmcs_client.client_products()] == ids
    assert [p.service_id for p in whmcs_client.cancelled_packages()] == ids
    assert len(whmcs_client.client_users(cid)) == 131


# --- users ----------------------------------------------------------------------------------------


def test_users_life_cycle(world, whmcs_client):
    uid = whmcs_client.add_user("Ewa", "Nowak", "ewa@example.pl", "Ewa-Pa55word", language="polish")
    assert whmcs_client.validate_login("ewa@example.pl", "Ewa-Pa55word") == uid
    whmcs_client.create_client_invite(world.client, "ewa@example.pl", ["products", "invoices"])
    assert world.sim.invites[-1]["permissions"] == ["products", "invoices"]
    world.sim.add_user(
        "Ewa", "Nowak", "ewa@example.pl", client_id=world.client, permissions=["products"]
    )
    assert [u.email for u in whmcs_client.client_users(world.client)] == [
        "jan@example.pl",
        "ewa@example.pl",
    ]
    assert whmcs_client.user_permissions(uid, world.client) == ["products"]
    whmcs_client.update_user_permissions(uid, world.client, ["tickets", "emails"])
    assert whmcs_client.user_permissions(uid, world.client) == ["tickets", "emails"]
    whmcs_client.delete_user_client(uid, world.client)
    assert [u.id for u in whmcs_client.client_users(world.client)] != [uid]
    [ewa] = whmcs_client.users(search="ewa@")
    assert (ewa.id, ewa.clients, isinstance(ewa.created, dt.datetime)) == (uid, (), True)


def test_users_owner_flag_and_paging(world, whmcs_client):
    for i in range(120):
        world.sim.add_user(
            "U", str(i), f"u{i}@example.com", client_id=world.other, permissions=["profile"]
        )
    found = whmcs_client.users()
    assert len(found) == 122 and world.sim.count("GetUsers") == 2
    assert found[0].clients == ((world.client, True),)


def test_permissions_list_uses_status(whmcs_client):
    assert "manageproducts" in whmcs_client.permissions_list()
    assert len(whmcs_client.permissions_list()) == 13


def test_reset_password_and_sso(world, whmcs_client):
    whmcs_client.reset_password(email="jan@example.pl")
    assert world.sim.sent_emails[-1]["to"] == "jan@example.pl"
    whmcs_client.reset_password(user_id=1)
    assert len(world.sim.sent_emails) == 2
    url = whmcs_client.create_sso_token(
        client_id=world.client, destination="clientarea:product_details", service_id=world.service
    )
    assert url.endswith(world.sim.sso_tokens[-1]["token"])


@pytest.mark.parametrize(
    "call, action, message",
    [
        (
            lambda c, w: c.add_user("Jan", "K", "jan@example.pl", "x1234567"),
            "AddUser",
            "A user already exists with that email address",
        ),
        (
            lambda c, w: c.create_client_invite(w.client, "jan@example.pl", []),
            "CreateClientInvite",
            "User already associated with client",
        ),
        (
            lambda c, w: c.update_user_permissions(1, w.client, ["profile"]),
            "UpdateUserPermissions",
            "Permissions cannot be set on a client owner",
        ),
        (
            lambda c, w: c.delete_user_client(1, w.client),
            "DeleteUserClient",
            "You cannot remove the account owner",
        ),
        (
            lambda c, w: c.reset_password(email="nobody@example.com"),
            "ResetPassword",
            "User Not Found",
        ),
        (
            lambda c, w: c.validate_login("jan@example.pl", "wrong"),
            "ValidateLogin",
            "Email or Password Invalid",
        ),
        (lambda c, w: c.client_details(999), "GetClientsDetails", "Client Not Found"),
        (
            lambda c, w: c.update_usage(
                999, disk_usage_mb=1, disk_limit_mb=1, last_update=dt.datetime(2026, 1, 1)
            ),
            "UpdateClientProduct",
            "Service ID Not Found",
        ),
        (lambda c, w: c.module_create(999), "ModuleCreate", "Service ID not found"),
        (lambda c, w: c.call("NoSuchThing"), "NoSuchThing", "Command Not Found"),
    ],
)
def test_api_errors_carry_action_and_message(world, whmcs_client, call, action, message):
    with pytest.raises(WhmcsApiError) as err:
        call(whmcs_client, world)
    assert (err.value.action, err.value.message) == (action, message)
    assert str(err.value) == f"WHMCS {action}: {message}"
    assert world.sim.count(action) == 1


# --- credentials, retries, warnings ---------------------------------------------------------------


def test_access_key_passes_the_ip_allow_list():
    sim = FakeWhmcs(
        WHMCS_IDENTIFIER, WHMCS_SECRET, access_key="right-key", allowed_ips=["192.0.2.1"]
    )
    with BackgroundServer(sim.wsgi_app) as server:
        client = WhmcsClient(
            server.url, WHMCS_IDENTIFIER, WHMCS_SECRET, access_key="right-key", timeout=1
        )
        assert client.servers() == []


@pytest.mark.parametrize("kind", ["http500", "drop", "hang"])
def test_transport_failures_retry_reads_then_raise(fake_whmcs, whmcs_client, kind):
    fake_whmcs.inject(kind, times=3)
    with pytest.raises(WhmcsTransportError) as err:
        whmcs_client.servers()
    assert err.value.action == "GetServers"
    assert fake_whmcs.count("GetServers") == 3


def test_a_trickling_reply_fails_at_the_deadline_and_reads_are_retried(whmcs_server, bounded):
    fake, url = whmcs_server
    fake.trickle_seconds = 0.05
    fake.inject("trickle", times=3)
    client = WhmcsClient(url, "whmcs-id", "whmcs-secret", timeout=1, deadline=0.3, backoff=0)
    with pytest.raises(WhmcsTransportError) as caught:
        bounded(client.servers)  # three tries, each cut at its deadline
    assert fake.count("GetServers") == 3
    assert str(caught.value) == (
        f"WHMCS GetServers: no complete reply from {url} within the 0.3 s deadline for a request "
        "(timeout 1 s per read)"
    )
    assert client.deadline == 0.3 and WhmcsClient(url, "i", "s", timeout=20).deadline == 60


@pytest.mark.parametrize("write", [False, True])
def test_a_redirect_is_refused_and_the_credentials_go_nowhere(write):
    """WHMCS behind a proxy that answers 307 to another origin: that origin must receive nothing."""
    elsewhere = FakeWhmcs()
    with BackgroundServer(elsewhere.wsgi_app) as other:

        def redirecting(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            location = other.url + "/includes/api.php"
            start_response("307 Temporary Redirect", [("Location", location)])
            return [b""]

        with BackgroundServer(redirecting) as server:
            client = WhmcsClient(server.url, "whmcs-id", "whmcs-secret", timeout=1, backoff=0)
            with pytest.raises(WhmcsProtocolError) as caught:
                if write:
                    client.module_create(7)
                else:
                    client.servers()
    assert elsewhere.requests == []
    message = str(caught.value)
    assert f"HTTP 307 redirect to {other.url}/includes/api.php refused" in message
    assert "whmcs-secret" not in message and message.endswith("(HTTP 307)")


def test_an_untrusted_certificate_says_what_to_do(self_signed):
    import ssl

    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with BackgroundServer(FakeWhmcs().wsgi_app, ssl_context=context) as server:
        client = WhmcsClient(server.url, "whmcs-id", "whmcs-secret", timeout=2, retries=0)
        with pytest.raises(WhmcsTransportError) as caught:
            client.servers()
    assert str(caught.value) == (
        f"WHMCS GetServers: TLS certificate of {server.url} not trusted: give its CA bundle as "
        'verify in [whmcs] (verify = "/path/to/ca.pem"), or turn verification off there '
        "(verify = false)"
    )


def test_refused_connection_is_transport_error():
    sim = FakeWhmcs()
    server = BackgroundServer(sim.wsgi_app).start()
    server.stop()
    client = WhmcsClient(server.url, "whmcs-id", "whmcs-secret", timeout=0.5, retries=1, backoff=0)
    with pytest.raises(WhmcsTransportError, match="Connection refused"):
        client.servers()


@pytest.mark.parametrize(
    "kind, quote", [("html", "502 Bad Gateway"), ("malformed", '{"result":"success"')]
)
def test_non_json_bodies_are_protocol_errors_with_a_snippet(fake_whmcs, whmcs_client, kind, quote):
    fake_whmcs.inject(kind, times=3)
    with pytest.raises(WhmcsProtocolError) as err:
        whmcs_client.servers()
    assert quote in str(err.value) and len(str(err.value)) < 200


def test_reads_recover_after_transient_failures(fake_whmcs, whmcs_client):
    fake_whmcs.inject("http500", times=1)
    fake_whmcs.inject("html", times=1)
    assert whmcs_client.permissions_list()
    assert fake_whmcs.count("GetPermissionsList") == 3


@pytest.mark.parametrize("kind", ["http500", "drop", "hang", "html"])
@pytest.mark.parametrize(
    "write",
    [
        lambda c, w: c.update_usage(
            w.service, disk_usage_mb=1, disk_limit_mb=2, last_update=dt.datetime(2026, 1, 1)
        ),
        lambda c, w: c.module_create(w.service),
        lambda c, w: c.add_cancel_request(w.service),
        lambda c, w: c.call("AddUser", {"email": "x@example.com"}),
    ],
)
def test_writes_are_never_retried(world, whmcs_client, kind, write):
    world.sim.inject(kind, times=3)
    with pytest.raises((WhmcsTransportError, WhmcsProtocolError)):
        write(whmcs_client, world)
    assert world.sim.count() == 1


def test_warning_is_logged_and_kept(api_reply, caplog):
    client = api_reply('{"result": "success", "warning": "Deprecated parameter"}')
    with caplog.at_level(logging.WARNING, logger="puq_bridge.whmcs.client"):
        reply = client.call("GetProducts")
    assert reply["warning"] == client.last_warning == "Deprecated parameter"
    assert client.warnings == ["Deprecated parameter"]
    assert "Deprecated parameter" in caplog.text


# --- secrets --------------------------------------------------------------------------------------


def test_no_secret_in_debug_logs_or_errors(world, whmcs_client, caplog):
    caplog.set_level(logging.DEBUG)
    whmcs_client.service(world.service)
    whmcs_client.module_change_password(world.service, "Fresh-Pa55word")
    whmcs_client.add_user("Ewa", "Nowak", "ewa@example.pl", "Ewa-Pa55word")
    whmcs_client.validate_login("ewa@example.pl", "Ewa-Pa55word")
    errors = []
    for kind in ("malformed", "html", "http500", "auth"):
        world.sim.inject(kind, times=3)
        with pytest.raises(Exception) as err:
            whmcs_client.service(world.service)
        errors.append(str(err.value))
    text = caplog.text + "\n".join(errors) + repr(whmcs_client)
    for secret in (WHMCS_SECRET, SERVICE_PASSWORD, "Fresh-Pa55word", "Ewa-Pa55word", "$2y$"):
        assert secret not in text
    assert (
        "GetClientsProducts" in caplog.text and "servicepassword" in caplog.text
    )  # names are logged
