"""One exchange with api.php and how its outcome maps onto the WHMCS errors: auth refusals (403,
"you may not" messages), refused connections, non-JSON bodies, and hand-made replies of every
kind."""

import pytest

from puq_bridge.errors import WhmcsApiError, WhmcsAuthError, WhmcsProtocolError, WhmcsTransportError
from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from puq_bridge.whmcs.client import WhmcsClient
from tests.support.whmcs import WHMCS_IDENTIFIER, WHMCS_SECRET


@pytest.mark.parametrize(
    "sim_kwargs, client_kwargs, message",
    [
        ({"secret": "another"}, {}, "Authentication Failed"),
        ({"identifier": "someone-else"}, {}, "Invalid or missing credentials"),
        ({"allowed_ips": ["192.0.2.1"]}, {}, "Invalid IP 127.0.0.1"),
        (
            {"allowed_ips": ["192.0.2.1"], "access_key": "right-key"},
            {"access_key": "wrong-key"},
            "Invalid Access Key",
        ),
    ],
)
def test_auth_failures_are_auth_errors_and_not_retried(sim_kwargs, client_kwargs, message):
    sim = FakeWhmcs(**{"identifier": WHMCS_IDENTIFIER, "secret": WHMCS_SECRET, **sim_kwargs})
    with BackgroundServer(sim.wsgi_app) as server:
        client = WhmcsClient(
            server.url, WHMCS_IDENTIFIER, WHMCS_SECRET, timeout=1, backoff=0, **client_kwargs
        )
        with pytest.raises(WhmcsAuthError) as err:
            client.servers()
    assert (err.value.message, err.value.status_code) == (message, 403)
    assert sim.count() == 1


def test_role_without_the_action_and_injected_auth(fake_whmcs, whmcs_client):
    fake_whmcs.allowed_actions = {"getservers"}
    with pytest.raises(
        WhmcsAuthError, match='Invalid Permissions: API action "getusers" is not allowed'
    ):
        whmcs_client.users()
    fake_whmcs.inject("auth")
    with pytest.raises(WhmcsAuthError, match="Authentication Failed"):
        whmcs_client.servers()


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


@pytest.mark.parametrize(
    "body, status, error, message",
    [
        ('{"status": "error", "message": "Nope"}', 200, WhmcsApiError, "Nope"),
        (
            '{"result": "error", "message": "Invalid IP 203.0.113.9"}',
            200,
            WhmcsAuthError,
            "Invalid IP 203.0.113.9",
        ),
        ("<html><body>Forbidden</body></html>", 403, WhmcsAuthError, "Forbidden"),
        (
            '{"result": "error", "message": "Database down"}',
            503,
            WhmcsTransportError,
            "Database down",
        ),
        ("", 500, WhmcsTransportError, "empty body"),
        ("<html><title>WHMCS Login</title></html>", 200, WhmcsProtocolError, "WHMCS Login"),
        (
            "<?xml version='1.0'?><whmcsapi><result>success</result></whmcsapi>",
            200,
            WhmcsProtocolError,
            "success",
        ),
        ('["not", "an", "object"]', 200, WhmcsProtocolError, "not a JSON reply"),
        ('{"answer": 42}', 200, WhmcsProtocolError, "reply has no result"),
    ],
)
def test_reply_mapping(api_reply, body, status, error, message):
    with pytest.raises(error) as err:
        api_reply(body, status).call("GetClientsProducts")
    assert message in str(err.value)
    assert type(err.value) is error


def test_status_is_an_alias_of_result(api_reply):
    assert api_reply('{"status": "success", "x": 1}').call("GetEmails") == {
        "status": "success",
        "x": 1,
    }
