"""AdapterContext: the Zimbra server a call goes to, one cached client per server shared by every
thread (and sized for them), the renderer from ``[render]``."""

import threading

from puq_bridge.whmcs.params import ModuleParams
from puq_bridge.zimbra.models import MailboxUsage
from tests.support import adapter
from tests.support.adapter import (
    SECRET,
    WHMCS_SECRET,
    make_config,
    post,
)
from tests.support.https import https_server, self_signed_cert
from tests.support.pools import discarded_connections
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD, GiB, MiB
from tests.whmcs_module.support import (
    SERVER_ID,
    html_of,
    params,
    record,
    warnings_of,
)
from tests.whmcs_module.test_views import usage_update
from whmcs_module.adapter import dispatch
from whmcs_module.context import AdapterContext
from whmcs_module.http import AdapterServer, make_app


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


# --- a sync through the adapter's shared clients, beside client-area pages ------------------------


def serve_context(tmp_path, whmcs_url, zimbra_url, store):
    """The AdapterContext ``puq-bridge serve`` builds: the CLI's WHMCS factory, the default Zimbra
    factory, 8 workers, a sync with 16 writes and 16 reads per server at once."""
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
    """UsageUpdate shares the adapter's cached WHMCS and Zimbra clients with the pages being served:
    their pools are sized when the clients are built, and nothing swaps a session's adapter (closing
    its pools) under a request."""
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
    # pools sized when the clients were built: 8 workers + 16 readers, 16 writers + 1
    assert [discarded_connections(zimbra.session, n) for n in (24, 25)] == [0, 1]
    assert [discarded_connections(whmcs.session, n) for n in (17, 18)] == [0, 1]
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


def test_one_zimbra_client_per_server_across_threads(fake):
    made = []

    def factory(entry):
        from puq_bridge.zimbra.client import ZimbraAdmin

        made.append(entry.name)
        return ZimbraAdmin(entry.url, entry.admin_user, entry.password, name=entry.name, timeout=2)

    entry = {
        "name": "mail1",
        "whmcs_server": 3,
        "url": fake.url,
        "admin_user": "admin@example.com",
        "password": adapter.ZIMBRA_PASSWORD,
    }
    context = AdapterContext(make_config([entry]), zimbra_factory=factory)
    app = make_app(context, SECRET)
    with AdapterServer(app, threads=4) as server:

        def create(i):
            post(server, "CreateAccount", params(serviceid=i, domain=f"d{i}.pl", serverid=3))

        threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        post(server, "UnsuspendAccount", params(serviceid=1, domain="d1.pl", serverid=3))
    context.close()
    assert made == ["mail1"]
    assert {f"d{i}.pl" for i in range(8)} <= set(fake.domains)
    assert fake.count("Auth") == 1
