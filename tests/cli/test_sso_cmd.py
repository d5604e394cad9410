"""``puq-bridge sso`` against FakeWhmcs on loopback: WHMCS's one-time link, printed and never
logged."""

import logging

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from tests.cli.support import one_error_line, write_bridge


@pytest.fixture
def sim():
    sim = FakeWhmcs()
    sim.client_id = sim.add_client("Jan", "Kowalski", "jan@firma.pl", language="polish")
    sim.other_id = sim.add_client("Ann", "Smith", "ann@example.net")
    pid = sim.add_product("Zimbra mail")
    sim.service_id = sim.add_service(sim.client_id, pid, "firma.pl")
    sim.foreign_id = sim.add_service(sim.other_id, pid, "example.net")
    return sim


@pytest.fixture
def bridge(tmp_path, sim):
    with BackgroundServer(sim.wsgi_app) as server:
        yield write_bridge(tmp_path, server.url, "whmcs-secret")


def test_sso_prints_whmcss_link_to_the_client_area(bridge, sim, caplog):
    caplog.set_level(logging.DEBUG)
    result = bridge.run("-vv", "sso", "--client-id", str(sim.client_id))
    assert result.exit_code == 0, result.output
    token = sim.sso_tokens[-1]
    assert result.stdout.strip() == (
        f"https://billing.example.com/oauth/singlesignon.php?access_token={token['token']}"
    )
    assert (token["client_id"], token["destination"], token["service_id"]) == (
        str(sim.client_id),
        "",
        None,
    )
    assert "60 seconds" in result.stderr
    assert token["token"] not in caplog.text and token["token"] not in result.stderr


def test_sso_to_a_service_page_as_a_user(bridge, sim):
    user = sim.add_user("Ewa", "Nowak", "ewa@firma.pl", client_id=sim.client_id)
    doc, _ = bridge.run_json(
        "sso",
        "--client-id",
        str(sim.client_id),
        "--user-id",
        str(user),
        "--service-id",
        str(sim.service_id),
    )
    token = sim.sso_tokens[-1]
    assert doc == {
        "client_id": sim.client_id,
        "user_id": user,
        "service_id": sim.service_id,
        "url": f"https://billing.example.com/oauth/singlesignon.php?access_token={token['token']}",
        "valid_seconds": 60,
    }
    assert (token["destination"], token["service_id"], token["user_id"]) == (
        "clientarea:product_details",
        str(sim.service_id),
        str(user),
    )


def test_sso_refuses_another_clients_service(bridge, sim):
    result = bridge.run(
        "sso", "--client-id", str(sim.client_id), "--service-id", str(sim.foreign_id)
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert one_error_line(result) == (
        f"error: service {sim.foreign_id} belongs to client {sim.other_id}, not {sim.client_id}: "
        "nothing was made"
    )
    assert sim.sso_tokens == []


def test_sso_for_an_unknown_client_is_whmcss_error(bridge, sim):
    result = bridge.run("sso", "--client-id", "999")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("error: WHMCS CreateSsoToken: Client Not Found")
