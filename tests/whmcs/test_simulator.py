"""FakeWhmcs on the wire: raw HTTP against it through pytest-httpserver and BackgroundServer."""

import threading

import pytest
import requests

from puq_bridge.simulators.server import BackgroundServer
from puq_bridge.simulators.whmcs.app import FakeWhmcs

CREDS = {"identifier": "whmcs-id", "secret": "whmcs-secret", "responsetype": "json"}


@pytest.fixture
def sim():
    """A FakeWhmcs with one client, product, server and service."""
    fake = FakeWhmcs()
    fake.cid = fake.add_client("Jan", "Kowalski", "jan@example.pl", language="polish")
    fake.pid = fake.add_product("Zimbra")
    fake.sid = fake.add_server("mail1", "mail1.example.com", "192.0.2.10")
    fake.hid = fake.add_service(
        fake.cid,
        fake.pid,
        "example.pl",
        server_id=fake.sid,
        password="Svc-Pa55",
        disk_usage=118,
        disk_limit=1024,
    )
    return fake


@pytest.fixture
def api(sim, httpserver):
    """POST to the simulator through pytest-httpserver; returns the ``requests.Response``."""
    httpserver.expect_request("/includes/api.php").respond_with_handler(sim.handler)
    url = httpserver.url_for("/includes/api.php")

    def post(action, creds=CREDS, timeout=2, **params):
        return requests.post(url, data={"action": action, **creds, **params}, timeout=timeout)

    return post


def test_service_rows_are_in_whmcs_shapes(sim, api):
    reply = api("GetClientsProducts", clientid=str(sim.cid)).json()
    assert (reply["result"], reply["totalresults"], reply["startnumber"], reply["numreturned"]) == (
        "success",
        "1",
        0,
        1,
    )
    [row] = reply["products"]["product"]
    assert row == sim.services[sim.hid]
    assert (row["id"], row["serverid"], row["diskusage"], row["lastupdate"]) == (
        str(sim.hid),
        str(sim.sid),
        "118",
        "0000-00-00 00:00:00",
    )
    assert row["serverhostname"] == "mail1.example.com" and row["password"] == "Svc-Pa55"
    assert all(
        isinstance(v, str) for k, v in row.items() if k not in ("customfields", "configoptions")
    )


def test_empty_list_is_an_empty_string_and_paging_reports_positions(sim, api):
    assert api("GetClientsProducts", clientid="42").json()["products"] == ""
    for i in range(4):
        sim.add_service(sim.cid, sim.pid, f"d{i}.pl")
    reply = api("GetClientsProducts", limitstart="2", limitnum="2").json()
    assert (reply["totalresults"], reply["startnumber"], reply["numreturned"]) == ("5", 2, 2)
    assert [r["domain"] for r in reply["products"]["product"]] == ["d1.pl", "d2.pl"]


def test_actions_are_case_insensitive_and_unknown_ones_not_found(api):
    assert api("getpermissionslist").json()["status"] == "success"
    reply = api("NoSuchAction")
    assert (reply.status_code, reply.json()) == (
        200,
        {"result": "error", "message": "Command Not Found"},
    )


def test_without_responsetype_json_the_reply_is_not_json(api):
    reply = api("GetServers", creds={"identifier": "whmcs-id", "secret": "whmcs-secret"})
    assert reply.text.startswith("<?xml") and "<result>success</result>" in reply.text
    with pytest.raises(ValueError):
        reply.json()


@pytest.mark.parametrize(
    "sim_kwargs, creds, message",
    [
        ({}, {"identifier": "whmcs-id", "secret": "wrong"}, "Authentication Failed"),
        ({}, {"identifier": "nobody", "secret": "whmcs-secret"}, "Invalid or missing credentials"),
        ({}, {"secret": "whmcs-secret"}, "Invalid or missing credentials"),
        ({"allowed_ips": ["192.0.2.1"]}, {}, "Invalid IP 127.0.0.1"),
        (
            {"allowed_ips": ["192.0.2.1"], "access_key": "k3y"},
            {"accesskey": "nope"},
            "Invalid Access Key",
        ),
    ],
)
def test_access_control_answers_403_with_whmcs_messages(httpserver, sim_kwargs, creds, message):
    fake = FakeWhmcs(**sim_kwargs)
    httpserver.expect_request("/includes/api.php").respond_with_handler(fake.handler)
    data = {**CREDS, "action": "GetServers", **creds}
    if "identifier" not in creds and "secret" in creds:
        data.pop("identifier")
    reply = requests.post(httpserver.url_for("/includes/api.php"), data=data, timeout=2)
    assert (reply.status_code, reply.json()) == (403, {"result": "error", "message": message})


def test_access_key_and_allowed_ip_let_requests_through(httpserver):
    fake = FakeWhmcs(access_key="k3y", allowed_ips=["192.0.2.1"])
    httpserver.expect_request("/includes/api.php").respond_with_handler(fake.handler)
    url = httpserver.url_for("/includes/api.php")
    assert (
        requests.post(url, data={**CREDS, "action": "GetServers", "accesskey": "k3y"}).status_code
        == 200
    )
    fake.allowed_ips.add("127.0.0.1")
    assert requests.post(url, data={**CREDS, "action": "GetServers"}).status_code == 200


def test_requests_are_recorded_without_secrets(sim, api):
    api("AddUser", firstname="A", lastname="B", email="a@example.com", password2="User-Pa55")
    api("ModuleChangePw", serviceid=str(sim.hid), servicepassword="New-Pa55")
    assert sim.count("adduser") == 1 and sim.count() == 2
    assert sim.requests[0] == {
        "action": "AddUser",
        "params": {
            "firstname": "A",
            "lastname": "B",
            "email": "a@example.com",
            "password2": "********",
        },
    }
    text = repr(sim.requests)
    assert "whmcs-secret" not in text and "User-Pa55" not in text and "New-Pa55" not in text


def test_update_client_product_skips_empty_and_zero_like_whmcs(sim, api):
    api(
        "UpdateClientProduct",
        serviceid=str(sim.hid),
        diskusage="0",
        disklimit="2048",
        lastupdate="2026-11-22 03:00:00",
        notes="",
    )
    row = sim.services[sim.hid]
    assert (row["diskusage"], row["disklimit"], row["lastupdate"]) == (
        "118",
        "2048",
        "2026-11-22 03:00:00",
    )
    assert api("UpdateClientProduct", serviceid="999").json()["message"] == "Service ID Not Found"


def test_update_client_product_stores_usage_in_integer_columns(sim, api):
    # "00" is not empty to PHP, so WHMCS takes it; its database column is an int: it reads back 0
    api("UpdateClientProduct", serviceid=str(sim.hid), diskusage="00", disklimit="0042")
    row = sim.services[sim.hid]
    assert (row["diskusage"], row["disklimit"]) == ("0", "42")


def test_module_calls_go_to_the_hook_outside_the_lock(sim, api):
    seen = []

    def hook(action, row):
        # the demo's hook calls back into the API from other threads: they must be able to take the
        # lock
        free = []
        probe = threading.Thread(
            target=lambda: free.append(sim.lock.acquire(timeout=1) and sim.lock.release())
        )
        probe.start()
        probe.join()
        seen.append((action, row["domain"], free == [None]))
        return "success" if action != "ModuleTerminate" else "Domain has mailboxes"

    sim.module_hook = hook
    assert api("modulesuspend", serviceid=str(sim.hid), suspendreason="Overdue").json() == {
        "result": "success"
    }
    assert (sim.services[sim.hid]["status"], sim.services[sim.hid]["suspensionreason"]) == (
        "Suspended",
        "Overdue",
    )
    assert (
        api("ModuleTerminate", accountid=str(sim.hid)).json()["message"] == "Domain has mailboxes"
    )
    assert sim.services[sim.hid]["status"] == "Suspended"
    assert seen == [("ModuleSuspend", "example.pl", True), ("ModuleTerminate", "example.pl", True)]
    assert sim.module_calls == [("ModuleSuspend", sim.hid), ("ModuleTerminate", sim.hid)]


def test_module_errors(sim, api):
    other = sim.add_service(sim.cid, sim.add_product("Plain", module=""), "plain.pl")
    assert api("ModuleCreate").json()["message"] == "Service ID is required"
    assert api("ModuleCreate", serviceid="999").json()["message"] == "Service ID not found"
    assert (
        api("ModuleCreate", serviceid=str(other)).json()["message"]
        == "Service not assigned to a module"
    )


def test_clients_details_products_servers(sim, api):
    client = api("GetClientsDetails", email="JAN@example.pl").json()["client"]
    assert (client["id"], client["language"], client["currency_code"]) == (sim.cid, "polish", "PLN")
    assert client["users"]["user"][0]["is_owner"] is True
    assert api("GetClientsDetails").json()["message"] == "Either clientid Or email Is Required"
    [product] = api("GetProducts", pid=str(sim.pid)).json()["products"]["product"]
    assert (product["pid"], product["module"]) == (sim.pid, "puqbridge")
    [server] = api("GetServers").json()["servers"]
    assert (server["id"], server["active"], server["activeServices"]) == (sim.sid, True, 1)
    assert "password" not in server


def test_users_api_records_invites_resets_and_tokens(sim, api):
    assert (
        api(
            "CreateClientInvite",
            client_id=str(sim.cid),
            email="ewa@example.pl",
            permissions="products,invoices",
        ).json()["result"]
        == "success"
    )
    assert sim.invites[0]["permissions"] == ["products", "invoices"]
    assert (
        api(
            "CreateClientInvite",
            client_id=str(sim.cid),
            email="ewa@example.pl",
            permissions="everything",
        ).json()["result"]
        == "error"
    )
    assert api("ResetPassword", email="jan@example.pl").json() == {"result": "success"}
    assert sim.sent_emails[-1] == {"to": "jan@example.pl", "template": "Password Reset Validation"}
    token = api("CreateSsoToken", client_id=str(sim.cid)).json()
    assert (
        token["access_token"] == sim.sso_tokens[0]["token"]
        and token["access_token"] in token["redirect_url"]
    )
    reply = api("GetUserPermissions", user_id="1", client_id=str(sim.cid)).json()
    assert reply["is_owner"] is True and len(reply["permissions"]) == 13


def test_get_users_paging_and_search(sim, api):
    for i in range(3):
        sim.add_user("U", str(i), f"u{i}@example.com")
    reply = api("GetUsers", limitstart="1", limitnum="2").json()
    assert (reply["totalresults"], reply["numreturned"], [u["id"] for u in reply["users"]]) == (
        4,
        2,
        [2, 3],
    )
    assert [u["email"] for u in api("GetUsers", search="u2@").json()["users"]] == ["u2@example.com"]


def test_cancelled_packages_empty_then_recorded(sim, api):
    empty = api("GetCancelledPackages").json()
    assert (empty["totalresults"], [k for k in empty if k.startswith("packages")]) == ("0", [])
    api("AddCancelRequest", serviceid=str(sim.hid), type="Immediate", reason="too pricey")
    reply = api("GetCancelledPackages").json()
    pkg = {k: reply[f"packages[package][0][{k}]"] for k in ("relid", "type", "reason")}
    assert pkg == {"relid": str(sim.hid), "type": "Immediate", "reason": "too pricey"}


@pytest.mark.parametrize(
    "kind, status", [("http500", 500), ("html", 502), ("malformed", 200), ("auth", 403)]
)
def test_injected_faults_hit_only_matching_requests_and_run_out(sim, api, kind, status):
    sim.inject(kind, on="GetServers", times=2)
    assert api("GetProducts").status_code == 200
    assert [api("getservers").status_code for _ in range(3)] == [status, status, 200]


def test_hang_and_latency_delay_the_reply(sim, api):
    sim.hang_seconds = 0.3
    sim.inject("hang")
    with pytest.raises(requests.ReadTimeout):  # held back longer than a client waits...
        api("GetServers", timeout=(2, 0.05))
    sim.inject("hang")
    assert api("GetServers").status_code == 200  # ...and then answered
    sim.latency = 0.3
    with pytest.raises(requests.ReadTimeout):
        api("GetServers", timeout=(2, 0.05))
    sim.latency = 0
    assert api("GetServers").status_code == 200
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.inject("explode")


def test_drop_closes_the_connection_under_background_server(sim):
    sim.inject("drop")
    with BackgroundServer(sim.wsgi_app) as server:
        url = f"{server.url}/includes/api.php"
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data={**CREDS, "action": "GetServers"}, timeout=2)
        assert (
            requests.post(url, data={**CREDS, "action": "GetServers"}, timeout=2).json()["result"]
            == "success"
        )
        assert requests.post(f"{server.url}/other.php", timeout=2).status_code == 404


def test_concurrent_cancel_requests_make_exactly_one(sim):
    with BackgroundServer(sim.wsgi_app) as server:
        url = f"{server.url}/includes/api.php"
        results = []

        def cancel():
            reply = requests.post(
                url,
                data={**CREDS, "action": "AddCancelRequest", "serviceid": str(sim.hid)},
                timeout=5,
            )
            results.append(reply.json()["result"])

        threads = [threading.Thread(target=cancel) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == ["error"] * 7 + ["success"]
    assert len(sim.cancel_requests) == 1


# --- WHMCS's documented defaults and reply shapes (developer-docs api-reference/*.md) ---------


def test_list_actions_return_25_rows_when_limitnum_is_absent(sim, api):
    for i in range(30):
        sim.add_service(sim.cid, sim.pid, f"d{i}.pl")
        sim.add_user("U", str(i), f"u{i}@example.com")
    products = api("GetClientsProducts").json()
    assert (products["totalresults"], products["numreturned"]) == ("31", 25)
    assert len(products["products"]["product"]) == 25
    users = api("GetUsers").json()
    assert (users["totalresults"], users["numreturned"], len(users["users"])) == (31, 25, 25)
    rest = api("GetClientsProducts", limitstart="25").json()
    assert (rest["startnumber"], rest["numreturned"]) == (25, 6)


@pytest.mark.parametrize(
    "search, found",
    [
        ("ann", ["anna.nowak@example.pl"]),  # start of the first name and of the e-mail
        ("Now", ["anna.nowak@example.pl"]),  # start of the last name, case-insensitive
        ("anna n", ["anna.nowak@example.pl"]),  # start of the full name
        ("nowak@", []),  # the middle of the e-mail address is not the start of any field
        ("owak", []),
        ("bartek", ["bartek@example.pl"]),
    ],
)
def test_get_users_search_matches_the_start_of_a_field(sim, api, search, found):
    sim.add_user("Anna", "Nowak", "anna.nowak@example.pl")
    sim.add_user("Bartosz", "Zięba", "bartek@example.pl")
    assert [u["email"] for u in api("GetUsers", search=search).json()["users"]] == found


def test_replies_have_the_documented_shapes(sim, api):
    added = api(
        "AddUser", firstname="Ewa", lastname="Lis", email="ewa@example.pl", password2="Pa55-word"
    ).json()
    assert added == {"result": "success", "user_id": str(added["user_id"])}
    assert api("ResetPassword", email="ewa@example.pl").json() == {"result": "success"}
    login = api("ValidateLogin", email="ewa@example.pl", password2="Pa55-word").json()
    assert (login["userid"], login["twoFactorEnabled"]) == (added["user_id"], "false")
    servers = api("GetServers").json()
    assert servers["fetchStatus"] == ""
    assert servers["servers"][0]["status"] == {"http": False, "load": "", "uptime": ""}
    [product] = api("GetProducts").json()["products"]["product"]
    assert (product["pid"], product["gid"]) == (sim.pid, 1)
    details = api("GetClientsDetails", clientid=str(sim.cid)).json()
    assert set(details) == {"result", "client", "stats"}
    client = details["client"]
    assert (client["client_id"], client["id"], client["userid"]) == (sim.cid, sim.cid, sim.cid)
    assert client["owner_user_id"] == client["users"]["user"][0]["id"]


def test_cancelled_packages_are_flattened_as_documented(sim, api):
    api("AddCancelRequest", serviceid=str(sim.hid), type="Immediate", reason="too pricey")
    reply = api("GetCancelledPackages").json()
    assert (reply["totalresults"], reply["startnumber"], reply["numreturned"]) == ("1", "0", "1")
    assert reply["packages[package][0][relid]"] == str(sim.hid)
    assert reply["packages[package][0][type]"] == "Immediate"
    assert "packages" not in reply
