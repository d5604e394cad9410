"""Mailbox self-service in the adapter (dispatch, FakeZimbra over loopback, a real store): the page
shows a change at once from the store's reading, the forms are on an active service's page only,
tenancy ``server`` reaches every domain of the client's server, an alias cannot stand in for
another client's mailbox, and a display name full of HTML stays text."""

import datetime as dt

import pytest

from puq_bridge.units import MB
from puq_bridge.usage.live import read_usage
from puq_bridge.usage.records import ServiceResult
from tests.whmcs_module.test_signon_views import ctx, params, store  # noqa: F401 (fixtures)
from whmcs_module.adapter import dispatch

PASSWORD = "Haslo-Nowe-1"


def form(**fields):
    return {"action": fields}


def create(local, quota="100", **extra):
    fields = {"local_part": local, "password": PASSWORD, "password2": PASSWORD, "quota_mb": quota}
    return params(**form(**fields), **extra)


def page(ctx, **extra):  # noqa: F811
    return dispatch("ClientArea", params(**extra), ctx)["vars"]["puqbridge_html"]


@pytest.fixture
def synced(ctx, fake_zimbra, store):  # noqa: F811
    """A provisioned service with a stored reading (as after a sync)."""
    assert dispatch("CreateAccount", params(), ctx) == "success"
    client = ctx.zimbra(ctx.config.zimbra[0])
    now = dt.datetime.now(dt.timezone.utc)
    boxes = tuple(read_usage(client, "firma.pl"))
    used = sum(m.used_bytes for m in boxes)
    result = ServiceResult(42, "firma.pl", "mail1", "updated", used, 10 * 1024 * MB, boxes)
    store.record_run(now, now, [result])
    return fake_zimbra


def test_the_page_shows_a_change_at_once(ctx, synced, store):  # noqa: F811
    before = page(ctx)
    assert 'data-value="jan@firma.pl"' not in before and 'data-puq="create-form"' in before
    assert dispatch("CreateMailbox", create("jan", display_name="<b>x</b>"), ctx) == "success"
    after = page(ctx)
    assert 'data-value="jan@firma.pl"' in after and "<b>x</b>" not in after
    assert (
        dispatch("SetMailboxQuota", params(**form(mailbox="jan@firma.pl", quota_mb="300")), ctx)
        == "success"
    )
    jan = [m for m in store.latest(42).mailboxes if m.name == "jan@firma.pl"]
    assert jan[0].limit_bytes == 300 * MB
    delete = form(mailbox="jan@firma.pl", confirm="jan@firma.pl")
    assert dispatch("DeleteMailbox", params(**delete), ctx) == "success"
    assert 'data-value="jan@firma.pl"' not in page(ctx)
    assert [a.action for a in store.actions(42)] == [
        "DeleteMailbox",
        "SetMailboxQuota",
        "CreateMailbox",
    ]


def test_no_forms_on_a_suspended_service(ctx, synced):  # noqa: F811
    markup = page(ctx, service={"status": "Suspended"})
    assert 'data-puq="create-form"' not in markup and 'data-puq="manage-panel"' not in markup
    refused = dispatch("CreateMailbox", create("ewa", service={"status": "Suspended"}), ctx)
    assert refused == "This service is not active, so its mailboxes cannot be changed now."
    assert "ewa@firma.pl" not in synced.accounts


def test_an_alias_does_not_stand_in_for_another_clients_mailbox(ctx, synced):  # noqa: F811
    synced.add_domain("inna.pl")
    synced.add_account("szef@inna.pl")
    synced.add_alias("pulapka@firma.pl", "szef@inna.pl")  # left over in the client's domain
    answer = dispatch(
        "SetMailboxPassword",
        params(**form(mailbox="pulapka@firma.pl", password=PASSWORD, password2=PASSWORD)),
        ctx,
    )
    assert answer.startswith("Mailbox: this mailbox does not belong to this service")
    assert synced.count("SetPassword") == 0


def test_tenancy_server_reaches_every_domain_of_the_clients_server(ctx, fake_zimbra):  # noqa: F811
    own = params(configoption6="server", configoption3="0")
    assert dispatch("CreateAccount", own, ctx) == "success"
    fake_zimbra.add_domain("druga.pl")
    fake_zimbra.add_account("ola@druga.pl")
    answer = dispatch("SetMailboxQuota", {**own, **form(mailbox="ola@druga.pl", quota_mb="0")}, ctx)
    assert answer == "success"
    assert fake_zimbra.accounts["ola@druga.pl"]["attrs"]["zimbraMailQuota"] == "0"
    missing = dispatch("SetMailboxQuota", {**own, **form(mailbox="x@nie-ma.pl", quota_mb="1")}, ctx)
    assert missing.startswith("Mailbox: this mailbox does not belong")


def test_an_idn_domain_and_its_aliases(ctx, fake_zimbra):  # noqa: F811
    idn = params(domain="żółw.pl")
    assert dispatch("CreateAccount", idn, ctx) == "success"
    ace = "xn--w-uga1v8h.pl"
    assert f"biuro@{ace}" in fake_zimbra.accounts
    alias = {**idn, **form(mailbox=f"biuro@{ace}", alias="kontakt@żółw.pl")}
    assert dispatch("AddAlias", alias, ctx) == "success"
    assert fake_zimbra.aliases[f"kontakt@{ace}"]["target"] == f"biuro@{ace}"
    bad = {**idn, **form(mailbox=f"biuro@{ace}", alias="zły adres")}
    assert dispatch("AddAlias", bad, ctx).startswith("Alias: this is not a valid address")


def test_zimbras_own_account_limit_and_system_accounts(ctx, fake_zimbra):  # noqa: F811
    plan = {"configoption2": "3", "configoption3": "0"}  # three mailboxes, no total space
    assert dispatch("CreateAccount", params(**plan), ctx) == "success"
    fake_zimbra.add_system_accounts("firma.pl")  # Zimbra's own: they never count for the client
    assert dispatch("CreateMailbox", create("jan", **plan), ctx) == "success"
    assert dispatch("CreateMailbox", create("ewa", **plan), ctx) == "success"
    refused = dispatch("CreateMailbox", create("ola", **plan), ctx)
    assert refused == "Address: your plan allows no more mailboxes."
    # Zimbra's zimbraDomainMaxAccounts, lower than the product says: its fault, the same message
    fake_zimbra.domains["firma.pl"]["attrs"]["zimbraDomainMaxAccounts"] = "1"
    more = dispatch("CreateMailbox", create("ola", configoption2="0", configoption3="0"), ctx)
    assert more == "Address: your plan allows no more mailboxes."
    assert "ola@firma.pl" not in fake_zimbra.accounts


def test_a_double_submit_at_once_makes_one_mailbox_and_a_later_one_is_new(
    ctx,
    synced,  # noqa: F811
):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: dispatch("CreateMailbox", create("jan"), ctx), range(4)))
    assert answers == ["success"] * 4 and synced.count("CreateAccount") == 2  # primary + jan
    delete = form(mailbox="jan@firma.pl", confirm="jan@firma.pl")
    assert dispatch("DeleteMailbox", params(**delete), ctx) == "success"
    # the same form again after the delete: a new mailbox, not "already done"
    assert dispatch("CreateMailbox", create("jan"), ctx) == "success"
    assert "jan@firma.pl" in synced.accounts and synced.count("CreateAccount") == 3
