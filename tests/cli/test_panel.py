"""The client-panel commands (services, users, reset-password, cancel) against FakeWhmcs on
loopback."""

import datetime as dt
import json

import pytest

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs
from puq_bridge.units import GB, MB
from puq_bridge.usage.records import ServiceResult
from puq_bridge.usage.store import UsageStore
from puq_bridge.zimbra.models import MailboxUsage

from .support import one_error_line, write_bridge

SERVICE_PASSWORD = "Serv1ce-Passw0rd!"
ALL_PERMISSIONS = [
    "profile",
    "contacts",
    "products",
    "manageproducts",
    "productsso",
    "domains",
    "managedomains",
    "invoices",
    "quotes",
    "tickets",
    "affiliates",
    "emails",
    "orders",
]


@pytest.fixture
def sim():
    """A WHMCS with one client (two mail services, an owner and one user) and a second, unrelated
    client."""
    sim = FakeWhmcs()
    sim.client_id = sim.add_client(
        "Jan",
        "Kowalski",
        "jan@firma.pl",
        language="polish",
        currency_code="PLN",
        companyname="Firma sp. z o.o.",
    )
    pid = sim.add_product("Private Zimbra mail server")
    server = sim.add_server("mail1", "mail1.example.com", "192.0.2.10")
    sim.service_id = sim.add_service(
        sim.client_id,
        pid,
        "firma.pl",
        server_id=server,
        password=SERVICE_PASSWORD,
        username="admin",
        regdate="2026-01-15",
        next_due_date="2026-12-15",
    )
    sim.suspended_id = sim.add_service(
        sim.client_id,
        pid,
        "firma.com.pl",
        server_id=server,
        status="Suspended",
        billing_cycle="Annually",
        recurring_amount="490.00",
        password=SERVICE_PASSWORD,
    )
    sim.owner_id = sim.add_user(
        "Jan", "Kowalski", "jan@firma.pl", client_id=sim.client_id, owner=True
    )
    sim.user_id = sim.add_user(
        "Anna",
        "Nowak",
        "anna@firma.pl",
        client_id=sim.client_id,
        permissions=("products", "invoices"),
    )
    other = sim.add_client("Ewa", "Inna", "ewa@inna.pl")
    sim.add_service(other, pid, "inna.pl", server_id=server)
    sim.add_user("Ewa", "Inna", "ewa@inna.pl", client_id=other, owner=True)
    return sim


@pytest.fixture
def served(sim):
    with BackgroundServer(sim.wsgi_app) as server:
        yield server


@pytest.fixture
def bridge(tmp_path, served):
    return write_bridge(tmp_path, served.url, "whmcs-secret")


def actions(sim, name):
    """The params of every recorded request of one action."""
    return [r["params"] for r in sim.requests if r["action"] == name]


def record_usage(
    bridge,
    sim,
    *,
    used,
    limit,
    taken=dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.timezone.utc),
    failed_after=None,
):
    boxes = (
        MailboxUsage("jan@firma.pl", used - MB, limit // 2, "z1"),
        MailboxUsage("biuro@firma.pl", MB, 0, "z2"),
    )
    with UsageStore(bridge.store_path) as store:
        store.record_run(
            taken,
            taken,
            [ServiceResult(sim.service_id, "firma.pl", "mail1", "updated", used, limit, boxes)],
        )
        if failed_after:
            later = taken + failed_after
            store.record_run(
                later,
                later,
                [
                    ServiceResult(
                        sim.service_id,
                        "firma.pl",
                        "mail1",
                        "failed",
                        error="Zimbra mail1 GetQuotaUsage: connection refused",
                    )
                ],
            )


# --- services -------------------------------------------------------------------------------------


def test_services_lists_the_clients_services_without_usage_yet(bridge, sim):
    result = bridge.run("services", "--client-id", str(sim.client_id))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Client #1: Jan Kowalski (Firma sp. z o.o.) <jan@firma.pl>, 2 service(s)" in out
    assert f"#{sim.service_id}  Private Zimbra mail server  firma.pl  [Active]" in out
    assert "registered 2026-01-15, next due 2026-12-15, PLN 49.00 Monthly, Bank Transfer" in out
    assert f"#{sim.suspended_id}  Private Zimbra mail server  firma.com.pl  [Suspended]" in out
    assert "PLN 490.00 Annually" in out
    assert out.count("usage: no data yet") == 2
    assert "inna.pl" not in out
    assert SERVICE_PASSWORD not in result.output
    assert actions(sim, "GetClientsProducts")[0]["clientid"] == str(sim.client_id)
    assert actions(sim, "GetClientsDetails")[0]["clientid"] == str(sim.client_id)
    assert not bridge.store_path.exists(), "listing services must not create the usage store"


def test_services_money_reads_as_in_the_client_area_tab(bridge, sim):
    """One money format: the amount the operator reads is the one the English tab shows."""
    from dataclasses import fields
    from decimal import Decimal

    from puq_bridge.clientarea.facts import ServiceFacts
    from puq_bridge.clientarea.render import Renderer

    blank = {f.name: None for f in fields(ServiceFacts)}
    facts = ServiceFacts(
        **{
            **blank,
            "service_id": 1,
            "domain": "firma.com.pl",
            "status": "",
            "billing_cycle": "Annually",
            "recurring_amount": Decimal("1490.00"),
            "currency_code": "PLN",
            "payment_method": "",
            "hostname": "",
            "main_ip": "",
            "webmail_url": "",
            "admin_url": "",
            "language": "",
        }
    )
    tab = Renderer().tab("server-info", facts, None, lang="en")
    sim.services[sim.suspended_id]["recurringamount"] = "1490.00"
    out = bridge.run("services", "--client-id", str(sim.client_id)).stdout
    assert "PLN 1,490.00" in tab and "PLN 1,490.00 Annually" in out


def test_services_shows_the_latest_usage_from_the_store(bridge, sim):
    record_usage(bridge, sim, used=int(1.5 * GB), limit=10 * GB)
    result = bridge.run("services", "--client-id", str(sim.client_id))
    assert result.exit_code == 0, result.output
    assert "usage: 1.5 GB of 10.0 GB (15.0%), taken 2026-11-22 03:00 UTC" in result.stdout
    assert "usage: no data yet" in result.stdout  # the suspended service was never synced


def test_services_unlimited_and_a_newer_failed_sync(bridge, sim):
    record_usage(bridge, sim, used=300 * MB, limit=0, failed_after=dt.timedelta(days=1))
    result = bridge.run("services", "--client-id", str(sim.client_id))
    line = next(l for l in result.stdout.splitlines() if "taken" in l)
    assert line.strip() == (
        "usage: 300 MB of unlimited, taken 2026-11-22 03:00 UTC; last sync failed "
        "2026-11-23 03:00 UTC: Zimbra mail1 GetQuotaUsage: connection refused"
    )


def test_services_json(bridge, sim):
    record_usage(bridge, sim, used=int(1.5 * GB), limit=10 * GB)
    doc, result = bridge.run_json("services", "--client-id", str(sim.client_id))
    assert doc["client"]["id"] == sim.client_id and doc["client"]["currency_code"] == "PLN"
    by_id = {s["service_id"]: s for s in doc["services"]}
    assert set(by_id) == {sim.service_id, sim.suspended_id}
    svc = by_id[sim.service_id]
    assert svc["domain"] == "firma.pl" and svc["status"] == "Active"
    assert svc["registration_date"] == "2026-01-15" and svc["next_due_date"] == "2026-12-15"
    assert svc["billing_cycle"] == "Monthly" and svc["recurring_amount"] == "49.00"
    assert svc["payment_method"] == "Bank Transfer"
    assert svc["usage"]["used_bytes"] == int(1.5 * GB) and svc["usage"]["limit_mb"] == 10240
    assert svc["usage"]["unlimited"] is False and svc["usage"]["percent"] == 15.0
    assert svc["usage"]["mailboxes"] == 2
    assert svc["usage"]["taken_at"].startswith("2026-11-22T03:00:00")
    assert by_id[sim.suspended_id]["usage"] is None
    assert SERVICE_PASSWORD not in result.stdout and "password" not in json.dumps(doc).lower()


def test_services_of_an_unknown_client_is_whmcs_message_exit_1(bridge, sim):
    result = bridge.run("services", "--client-id", "999")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: WHMCS GetClientsDetails: Client Not Found"


def test_services_when_whmcs_refuses_the_credential(tmp_path, served, sim):
    bridge = write_bridge(tmp_path, served.url, "wrong-secret")
    result = bridge.run("services", "--client-id", str(sim.client_id))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "Authentication Failed" in line and "wrong-secret" not in line


def test_whmcs_down_is_one_line_exit_1(tmp_path, sim):
    server = BackgroundServer(sim.wsgi_app).start()
    url = server.url
    server.stop()
    bridge = write_bridge(tmp_path, url, "whmcs-secret", timeout=0.5)
    # ResetPassword is a write, sent once: no retry delays in this test
    result = bridge.run("reset-password", "--email", "jan@firma.pl")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("error: WHMCS ResetPassword: ")


def test_whmcs_answering_a_truncated_body_is_one_line_exit_1(bridge, sim):
    sim.inject("malformed", on="GetClientsDetails")
    result = bridge.run("services", "--client-id", str(sim.client_id))
    assert result.exit_code == 1
    line = one_error_line(result)
    assert line.startswith("error: WHMCS GetClientsDetails: ") and "<html" not in line.lower()


# --- users ----------------------------------------------------------------------------------------


def test_users_list(bridge, sim):
    result = bridge.run("users", "list", "--client-id", str(sim.client_id))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Users of client #{sim.client_id}: 2"
    assert any(l.startswith(f"#{sim.owner_id}  jan@firma.pl  Jan Kowalski  owner") for l in lines)
    anna = next(l for l in lines if "anna@firma.pl" in l)
    assert anna.startswith(f"#{sim.user_id}  anna@firma.pl  Anna Nowak") and "owner" not in anna
    assert "ewa@inna.pl" not in result.stdout


def test_users_list_json(bridge, sim):
    doc, _ = bridge.run_json("users", "list", "--client-id", str(sim.client_id))
    assert doc["client_id"] == sim.client_id
    owners = {u["email"]: u["owner"] for u in doc["users"]}
    assert owners == {"jan@firma.pl": True, "anna@firma.pl": False}


def test_invite_with_all_permissions_sends_the_full_list(bridge, sim):
    result = bridge.run(
        "users", "invite", "--client-id", str(sim.client_id), "--email", "nowy@firma.pl"
    )
    assert result.exit_code == 0, result.output
    assert "Invited nowy@firma.pl to client #1" in result.stdout
    sent = actions(sim, "CreateClientInvite")
    assert len(sent) == 1
    assert sent[0]["client_id"] == str(sim.client_id) and sent[0]["email"] == "nowy@firma.pl"
    assert sorted(sent[0]["permissions"].split(",")) == sorted(ALL_PERMISSIONS)
    assert sim.count("GetPermissionsList") == 1


def test_invite_with_chosen_permissions(bridge, sim):
    doc, _ = bridge.run_json(
        "users",
        "invite",
        "--client-id",
        str(sim.client_id),
        "--email",
        "k@firma.pl",
        "--permissions",
        " Invoices, tickets,invoices",
    )
    assert doc == {
        "client_id": sim.client_id,
        "email": "k@firma.pl",
        "permissions": ["invoices", "tickets"],
        "invited": True,
    }
    assert actions(sim, "CreateClientInvite")[0]["permissions"] == "invoices,tickets"


@pytest.mark.parametrize(
    "value, named",
    [
        ("invoices,billing", "unknown permission billing"),
        ("all,tickets", "unknown permission all"),
        ("foo,bar", "unknown permissions foo, bar"),
        (" , ", "give 'all' or a comma-separated list"),
    ],
)
def test_invite_with_a_bad_permission_is_a_usage_error_and_sends_nothing(bridge, sim, value, named):
    result = bridge.run(
        "users", "invite", "--client-id", "1", "--email", "k@firma.pl", "--permissions", value
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    error = next(l for l in result.stderr.splitlines() if l.startswith("Error:"))
    assert "'--permissions'" in error and named in error
    if "unknown" in named:
        assert "valid: all, " + ", ".join(ALL_PERMISSIONS) in error
    assert sim.count("CreateClientInvite") == 0


def test_invite_bad_email_is_a_usage_error(bridge, sim):
    result = bridge.run("users", "invite", "--client-id", "1", "--email", "nobody")
    assert result.exit_code == 2 and "not an e-mail address: 'nobody'" in result.stderr
    assert sim.requests == []


def test_invite_of_a_user_already_on_the_account_is_whmcs_message_exit_1(bridge, sim):
    result = bridge.run(
        "users", "invite", "--client-id", str(sim.client_id), "--email", "anna@firma.pl"
    )
    assert result.exit_code == 1
    assert (
        one_error_line(result)
        == "error: WHMCS CreateClientInvite: User already associated with client"
    )


def test_permissions_show(bridge, sim):
    result = bridge.run(
        "users", "permissions", "--client-id", str(sim.client_id), "--user-id", str(sim.user_id)
    )
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.strip()
        == f"User #{sim.user_id} has permissions for client #1: products, invoices"
    )
    assert actions(sim, "GetUserPermissions") == [
        {"user_id": str(sim.user_id), "client_id": str(sim.client_id)}
    ]
    assert sim.count("UpdateUserPermissions") == 0


def test_permissions_set_then_show_json(bridge, sim):
    doc, _ = bridge.run_json(
        "users",
        "permissions",
        "--client-id",
        str(sim.client_id),
        "--user-id",
        str(sim.user_id),
        "--set",
        "tickets,emails",
    )
    assert doc == {
        "client_id": 1,
        "user_id": sim.user_id,
        "permissions": ["tickets", "emails"],
        "changed": True,
    }
    sent = actions(sim, "UpdateUserPermissions")
    assert sent == [
        {
            "user_id": str(sim.user_id),
            "client_id": str(sim.client_id),
            "permissions": "tickets,emails",
        }
    ]
    doc, _ = bridge.run_json(
        "users", "permissions", "--client-id", "1", "--user-id", str(sim.user_id)
    )
    assert doc["permissions"] == ["tickets", "emails"] and doc["changed"] is False


def test_permissions_set_unknown_name_sends_nothing(bridge, sim):
    result = bridge.run(
        "users", "permissions", "--client-id", "1", "--user-id", str(sim.user_id), "--set", "root"
    )
    assert result.exit_code == 2 and "unknown permission root" in result.stderr
    assert sim.count("UpdateUserPermissions") == 0


def test_permissions_of_the_owner_cannot_be_set(bridge, sim):
    result = bridge.run(
        "users", "permissions", "--client-id", "1", "--user-id", str(sim.owner_id), "--set", "all"
    )
    assert result.exit_code == 1
    assert (
        one_error_line(result)
        == "error: WHMCS UpdateUserPermissions: Permissions cannot be set on a client owner"
    )


def test_remove_user_then_it_is_gone_from_the_list(bridge, sim):
    result = bridge.run("users", "remove", "--client-id", "1", "--user-id", str(sim.user_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"User #{sim.user_id} no longer has access to client #1"
    assert actions(sim, "DeleteUserClient") == [{"user_id": str(sim.user_id), "client_id": "1"}]
    doc, _ = bridge.run_json("users", "list", "--client-id", "1")
    assert [u["email"] for u in doc["users"]] == ["jan@firma.pl"]


def test_remove_the_owner_is_whmcs_message_exit_1(bridge, sim):
    result = bridge.run(
        "users", "remove", "--client-id", "1", "--user-id", str(sim.owner_id), "--json"
    )
    assert result.exit_code == 1
    assert (
        one_error_line(result)
        == "error: WHMCS DeleteUserClient: You cannot remove the account owner"
    )


# --- reset-password -------------------------------------------------------------------------------


def test_reset_password(bridge, sim):
    result = bridge.run("reset-password", "--email", "anna@firma.pl")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "WHMCS sent a password-reset e-mail to anna@firma.pl"
    assert actions(sim, "ResetPassword") == [{"email": "anna@firma.pl"}]


def test_reset_password_json(bridge, sim):
    doc, _ = bridge.run_json("reset-password", "--email", "jan@firma.pl")
    assert doc == {"email": "jan@firma.pl", "reset_email_sent": True}


def test_reset_password_of_an_unknown_user(bridge, sim):
    result = bridge.run("reset-password", "--email", "ghost@firma.pl")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: WHMCS ResetPassword: User Not Found"


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_warns_names_the_domain_and_asks(bridge, sim):
    result = bridge.run(
        "cancel", "--service-id", str(sim.service_id), "--reason", "moving away", input="y\n"
    )
    assert result.exit_code == 0, result.output
    assert "at the end of the billing period (next due date 2026-12-15)" in result.stderr
    assert "ALL mailboxes and ALL mail of the domain firma.pl are deleted" in result.stderr
    assert "Request this cancellation? [y/N]" in result.stderr
    assert result.stdout.strip() == (
        f"Cancellation requested for service #{sim.service_id} (firma.pl): End of Billing Period"
    )
    assert actions(sim, "AddCancelRequest") == [
        {"serviceid": str(sim.service_id), "type": "End of Billing Period", "reason": "moving away"}
    ]
    assert SERVICE_PASSWORD not in result.output


@pytest.mark.parametrize(
    "answer, says",
    [("n\n", "not confirmed: nothing requested"), ("", "no answer on stdin")],
    ids=["no", "eof"],
)
def test_cancel_not_confirmed_sends_nothing(bridge, sim, answer, says):
    result = bridge.run("cancel", "--service-id", str(sim.service_id), input=answer)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("error: ") and says in result.stderr
    assert sim.count("AddCancelRequest") == 0


def test_cancel_immediate_with_yes_and_json(bridge, sim):
    doc, result = bridge.run_json(
        "cancel", "--service-id", str(sim.service_id), "--when", "immediate", "--yes"
    )
    assert doc["service_id"] == sim.service_id and doc["domain"] == "firma.pl"
    assert doc["type"] == "Immediate" and doc["requested"] is True
    assert "at WHMCS's next cron run" in result.stderr and "[y/N]" not in result.stderr
    assert actions(sim, "AddCancelRequest")[0]["type"] == "Immediate"
    assert SERVICE_PASSWORD not in result.output


def test_cancel_twice_is_whmcs_message_exit_1(bridge, sim):
    assert bridge.run("cancel", "--service-id", str(sim.service_id), "--yes").exit_code == 0
    result = bridge.run("cancel", "--service-id", str(sim.service_id), "--yes")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr.splitlines()[-1]
        == "error: WHMCS AddCancelRequest: Existing Cancellation Request Exists"
    )
    assert sim.count("AddCancelRequest") == 2


def test_cancel_of_an_unknown_service_fails_before_asking(bridge, sim):
    result = bridge.run("cancel", "--service-id", "999", input="y\n")
    assert result.exit_code == 1
    assert "[y/N]" not in result.stderr
    assert one_error_line(result).startswith("error: WHMCS ")
    assert sim.count("AddCancelRequest") == 0


def test_cancel_json_with_a_prompt_keeps_stdout_pure_json(bridge, sim):
    doc, result = bridge.run_json("cancel", "--service-id", str(sim.suspended_id), input="yes\n")
    assert doc["domain"] == "firma.com.pl" and doc["type"] == "End of Billing Period"
    assert "[y/N]" in result.stderr and "firma.com.pl" in result.stderr
    assert actions(sim, "AddCancelRequest")[0]["serviceid"] == str(sim.suspended_id)


def test_an_unknown_client_is_an_error_for_users_as_for_services(bridge, sim):
    for command in (["services"], ["users", "list"]):
        result = bridge.run(*command, "--client-id", "999")
        assert result.exit_code == 1, command
        assert one_error_line(result).startswith("error: WHMCS GetClientsDetails: Client Not Found")


@pytest.mark.parametrize(
    "argv",
    [
        ["reset-password", "--email", "notanemail"],
        ["reset-password", "--email", "a b@firma.pl"],
        ["users", "invite", "--client-id", "1", "--email", "anna@"],
        ["render", "--service-id", "0"],
        ["cancel", "--service-id", "-3", "--yes"],
        ["users", "list", "--client-id", "0"],
    ],
    ids=" ".join,
)
def test_bad_arguments_are_usage_errors_and_reach_no_one(bridge, sim, argv):
    result = bridge.run(*argv)
    assert result.exit_code == 2, result.stderr
    assert sim.requests == []
