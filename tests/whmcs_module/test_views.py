"""The adapter's read side (``views``): ClientArea from the store or read live, the admin tab,
UsageUpdate and SyncUsage, the page cache, and the product settings (total space, tenancy) kept for
the sync."""

import re

import pytest

from puq_bridge.whmcs.params import HostingRow, ModuleParams, ServerParams
from puq_bridge.zimbra.models import MailboxUsage
from tests.support.adapter import (
    SECRET,
    make_config,
)
from tests.support.zimbra import ZIMBRA_ADMIN, ZIMBRA_PASSWORD, GiB, MiB
from tests.whmcs_module.support import (
    SERVER_ID,
    SERVICE_PASSWORD,
    html_of,
    params,
    record,
)
from whmcs_module.adapter import dispatch
from whmcs_module.context import AdapterContext

# --- client area ----------------------------------------------------------------------------------


def test_client_area_serves_from_the_store(ctx, store, fake_zimbra):
    record(store, [MailboxUsage("ze-sklepu@firma.pl", 300 * MiB, GiB)])
    html = html_of(dispatch("ClientArea", params(), ctx))
    assert "ze-sklepu@firma.pl" in html
    assert fake_zimbra.requests == []
    assert SERVICE_PASSWORD not in html and ZIMBRA_PASSWORD not in html and SECRET not in html


def test_a_malformed_setting_the_page_does_not_use_does_not_break_it(ctx, fake_zimbra):
    """configoption1 (the primary mailbox's quota) is CreateAccount's: the page never reads it."""
    bad = params(domain="example.com", configoption1="1 GB")
    html = html_of(dispatch("ClientArea", bad, ctx))
    assert "notice-unavailable" not in html and "info@example.com" in html
    refused = dispatch("CreateAccount", dict(bad, domain="nowa.pl"), ctx)
    assert refused == (
        "product setting 'Default mailbox quota (MB)' (configoption1) must be a whole number, "
        "0 or more; got '1 GB'"
    )
    assert "nowa.pl" not in fake_zimbra.domains


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


# --- admin tab, usage sync ------------------------------------------------------------------------


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





def test_sync_usage_button_syncs_one_service(ctx, store, whmcs_services):
    fake, server, ids = whmcs_services
    assert dispatch("SyncUsage", params(serviceid=ids[1], domain="example.org"), ctx) == "success"
    assert store.latest(ids[1]) is not None and store.latest(ids[0]) is None
    unknown = dispatch("SyncUsage", params(serviceid=999), ctx)
    assert (
        unknown == "usage sync of service 999: 1 of 1 services not synced "
        "(service 999: service 999 not found in WHMCS)"
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


# --- one total space: the product's setting 3 in WHMCS's disk limit and in the client area --------


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


def test_every_call_with_module_settings_keeps_the_tenancy(ctx, store, firma):
    """CreateAccount, ChangePackage, the client area and the SyncUsage button: the sync and `render`
    read it here."""
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
