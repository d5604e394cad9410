"""The WHMCS life cycle on the Zimbra simulator: settings, names, and every call including repeats
and missing objects."""

import pytest

from puq_bridge.errors import ParamsError, ZimbraError
from puq_bridge.provisioning import Provisioner
from puq_bridge.whmcs.params import ModuleParams
from tests.support.zimbra import GiB, MiB, password_is

PASSWORD = "Start-Pass-123"


def params(**extra):
    base = {
        "serviceid": "42",
        "domain": "firma.pl",
        "username": "biuro",
        "password": PASSWORD,
        "configoption1": "512",
        "configoption2": "20",
        "configoption3": "10",
        "configoption4": "",
        "configoption5": "locked",
        "configoption6": "domain",
    }
    base.update(extra)
    return base


class Calls:
    """The Provisioner called as the adapter calls it: WHMCS's params read once, typed parts in."""

    def __init__(self, zimbra):
        self.provisioner = Provisioner(zimbra)

    def create(self, raw):
        read = ModuleParams.read(raw)
        self.provisioner.create(read.target, read.product, read.required_password())

    def suspend(self, raw):
        read = ModuleParams.read(raw)
        self.provisioner.suspend(read.target, read.product)

    def unsuspend(self, raw):
        self.provisioner.unsuspend(ModuleParams.read(raw).target)

    def terminate(self, raw):
        self.provisioner.terminate(ModuleParams.read(raw).target)

    def change_password(self, raw):
        read = ModuleParams.read(raw)
        self.provisioner.change_password(read.target, read.required_password())

    def change_package(self, raw):
        read = ModuleParams.read(raw)
        self.provisioner.change_package(read.target, read.product)


@pytest.fixture
def prov(zimbra_admin):
    return Calls(zimbra_admin)


# --- settings and names ---------------------------------------------------------------------------


# --- life cycle -----------------------------------------------------------------------------------


def test_create_makes_domain_and_mailbox_and_repeat_is_success(prov, zimbra_server):
    fake, url = zimbra_server
    prov.create(params())
    domain = fake.domains["firma.pl"]["attrs"]
    assert domain["zimbraDomainMaxAccounts"] == "20" and domain["zimbraDomainStatus"] == "active"
    account = fake.accounts["biuro@firma.pl"]["attrs"]
    assert account["zimbraMailQuota"] == str(512 * MiB)
    assert password_is(url, "biuro@firma.pl", PASSWORD)

    prov.create(
        params(password="Other-Pass-999")
    )  # a repeat: success, nothing duplicated or changed
    assert [n for n in fake.accounts if n.endswith("@firma.pl")] == ["biuro@firma.pl"]
    assert password_is(url, "biuro@firma.pl", PASSWORD)
    assert fake.count("CreateDomain") == 2 and fake.count("CreateAccount") == 2


def test_create_in_an_existing_domain_applies_the_limits(prov, fake_zimbra):
    prov.create(params(domain="example.com", username="nowy", configoption2="0", configoption1="0"))
    assert "zimbraDomainMaxAccounts" not in fake_zimbra.domains["example.com"]["attrs"]
    assert fake_zimbra.accounts["nowy@example.com"]["attrs"]["zimbraMailQuota"] == "0"
    assert "info@example.com" in fake_zimbra.accounts


def test_create_with_a_class_of_service(prov, fake_zimbra):
    prov.create(params(configoption4="basic"))
    assert (
        fake_zimbra.accounts["biuro@firma.pl"]["attrs"]["zimbraCOSId"]
        == fake_zimbra.coses["basic"]["id"]
    )


def test_create_with_an_unknown_cos_fails_before_creating_anything(prov, fake_zimbra):
    with pytest.raises(
        ParamsError, match="class of service 'gold' .* does not exist on Zimbra mail1"
    ):
        prov.create(params(configoption4="gold"))
    assert "firma.pl" not in fake_zimbra.domains


@pytest.mark.parametrize(
    "bad, expect",
    [
        ({"domain": ""}, "has no domain"),
        ({"password": ""}, "no password"),
        ({"configoption1": "x"}, "configoption1"),
        ({"username": "a b"}, "invalid mailbox name"),
    ],
)
def test_create_with_bad_params_does_nothing(prov, fake_zimbra, bad, expect):
    with pytest.raises(ParamsError, match=expect):
        prov.create(params(**bad))
    assert fake_zimbra.requests == []


def test_create_password_refused_by_policy_is_readable_and_secret_free(prov):
    with pytest.raises(ZimbraError) as err:
        prov.create(params(password="abc"))
    assert "invalid password" in str(err.value) and "abc" not in str(err.value)


@pytest.mark.parametrize("policy", ["locked", "maintenance", "closed"])
def test_suspend_sets_the_policy_and_unsuspend_restores(prov, fake_zimbra, policy):
    prov.create(params())
    prov.suspend(params(configoption5=policy))
    prov.suspend(params(configoption5=policy))
    assert fake_zimbra.domains["firma.pl"]["attrs"]["zimbraDomainStatus"] == policy
    assert fake_zimbra.accounts["biuro@firma.pl"]["attrs"]["zimbraAccountStatus"] == "active"
    assert fake_zimbra.count("ModifyDomain") == 1  # the repeat saw the status already set
    prov.unsuspend(params())
    prov.unsuspend(params())
    assert fake_zimbra.domains["firma.pl"]["attrs"]["zimbraDomainStatus"] == "active"


@pytest.mark.parametrize("call", ["suspend", "unsuspend", "change_package"])
def test_calls_on_a_missing_domain_say_so(prov, call):
    with pytest.raises(ParamsError, match="domain firma.pl does not exist on Zimbra mail1"):
        getattr(prov, call)(params())


def test_terminate_deletes_accounts_then_domain_and_repeats(prov, fake_zimbra):
    prov.create(params())
    fake_zimbra.add_account("jan@firma.pl")
    fake_zimbra.add_account("ewa@firma.pl")
    prov.terminate(params())
    assert "firma.pl" not in fake_zimbra.domains
    assert not [n for n in fake_zimbra.accounts if n.endswith("@firma.pl")]
    assert "info@example.com" in fake_zimbra.accounts
    prov.terminate(params())  # missing domain: success


def test_terminate_of_a_never_created_domain_is_success(prov, fake_zimbra):
    prov.terminate(params(domain="never.pl"))
    assert fake_zimbra.count("DeleteDomain") == 0


def test_terminate_removes_lists_resources_and_aliases_too_and_repeats(prov, fake_zimbra):
    prov.create(params())
    fake_zimbra.add_account("jan@firma.pl")
    fake_zimbra.add_distribution_list(
        "zespol@firma.pl", members=["jan@firma.pl", "info@example.com"]
    )
    fake_zimbra.add_resource("sala@firma.pl", display_name="Sala konferencyjna")
    fake_zimbra.add_alias("kontakt@firma.pl", "biuro@firma.pl")
    fake_zimbra.add_alias("lista@firma.pl", "zespol@firma.pl")
    prov.terminate(params())
    assert "firma.pl" not in fake_zimbra.domains
    for table in (
        fake_zimbra.accounts,
        fake_zimbra.lists,
        fake_zimbra.resources,
        fake_zimbra.aliases,
    ):
        assert not [n for n in table if n.endswith("@firma.pl")]
    assert "info@example.com" in fake_zimbra.accounts
    deletes = [r["op"] for r in fake_zimbra.requests if r["op"].startswith("Delete")]
    assert deletes == [
        "DeleteDistributionList",
        "DeleteCalendarResource",
        "DeleteAccount",
        "DeleteAccount",
        "DeleteDomain",
    ]
    prov.terminate(params())  # missing domain: success
    assert fake_zimbra.count("DeleteDomain") == 1


def test_terminate_removes_dynamic_groups_too(prov, fake_zimbra):
    """SearchDirectory's distributionlists type leaves dynamic groups out, and DeleteDomain refuses
    while one is left: the sweep asks for dynamicgroups too and deletes them with
    DeleteDistributionList."""
    prov.create(params())
    fake_zimbra.add_dynamic_group("wszyscy@firma.pl")
    fake_zimbra.add_distribution_list("zespol@firma.pl")
    prov.terminate(params())
    assert "firma.pl" not in fake_zimbra.domains and fake_zimbra.groups == {}
    assert (
        fake_zimbra.count("DeleteDistributionList") == 2 and fake_zimbra.count("DeleteDomain") == 1
    )


def test_terminate_names_a_dynamic_group_made_meanwhile(fake_zimbra):
    from puq_bridge.simulators.server import BackgroundServer
    from puq_bridge.zimbra.client import ZimbraAdmin

    fake_zimbra.add_domain("firma.pl")

    def app(environ, start_response):  # another admin adds a dynamic group after the sweep's search
        reply = fake_zimbra.wsgi_app(environ, start_response)
        if fake_zimbra.count("SearchDirectory") == 1 and not fake_zimbra.groups:
            fake_zimbra.add_dynamic_group("wszyscy@firma.pl")
        return reply

    with (
        BackgroundServer(app) as server,
        ZimbraAdmin(server.url, "admin@example.com", "zimbra-secret", timeout=2) as admin,
    ):
        with pytest.raises(ZimbraError) as caught:
            Calls(admin).terminate(params())
    assert caught.value.code == "account.DOMAIN_NOT_EMPTY"
    assert "firma.pl still holds distribution list wszyscy@firma.pl;" in str(caught.value)


def test_terminate_of_a_domain_bigger_than_the_search_cap(prov, fake_zimbra):
    """Zimbra refuses a SearchDirectory matching more entries than its cap (5000 by default) with
    account.TOO_MANY_SEARCH_RESULTS even when the reply is paged; the sweep must still see
    everything."""
    fake_zimbra.search_max_results = 3
    prov.create(params())
    for i in range(6):
        fake_zimbra.add_account(f"user{i}@firma.pl")
    fake_zimbra.add_distribution_list("zespol@firma.pl")
    prov.terminate(params())
    assert "firma.pl" not in fake_zimbra.domains
    assert fake_zimbra.count("DeleteAccount") == 7


class DeletesBehindOurBack:
    """A WSGI app in front of the fake: right after the first SearchDirectory, another admin deletes
    ``names``."""

    def __init__(self, sim, *names):
        self.sim, self.names = sim, names

    def __call__(self, environ, start_response):
        reply = self.sim.wsgi_app(environ, start_response)
        if self.names and self.sim.count("SearchDirectory") == 1:
            with self.sim.lock:
                for name in self.names:
                    for table in (self.sim.accounts, self.sim.lists, self.sim.resources):
                        table.pop(name, None)
            self.names = ()
        return reply


def test_terminate_accepts_entries_deleted_meanwhile(fake_zimbra):
    from puq_bridge.simulators.server import BackgroundServer
    from puq_bridge.zimbra.client import ZimbraAdmin

    fake_zimbra.add_domain("firma.pl")
    fake_zimbra.add_account("jan@firma.pl")
    fake_zimbra.add_distribution_list("zespol@firma.pl")
    fake_zimbra.add_resource("sala@firma.pl")
    app = DeletesBehindOurBack(fake_zimbra, "jan@firma.pl", "zespol@firma.pl", "sala@firma.pl")
    with (
        BackgroundServer(app) as server,
        ZimbraAdmin(server.url, "admin@example.com", "zimbra-secret", timeout=2) as admin,
    ):
        Calls(admin).terminate(params())
    assert "firma.pl" not in fake_zimbra.domains
    assert [
        fake_zimbra.count(op)
        for op in ("DeleteDistributionList", "DeleteCalendarResource", "DeleteAccount")
    ] == [1, 1, 1]


def test_terminate_names_what_it_cannot_remove(prov, fake_zimbra):
    prov.create(params())
    fake_zimbra.add_distribution_list("zespol@firma.pl")
    fake_zimbra.add_alias(
        "biuro-stare@firma.pl", "info@example.com"
    )  # a mailbox of another customer: not ours
    with pytest.raises(ZimbraError) as caught:
        prov.terminate(params())
    message = str(caught.value)
    assert caught.value.code == "account.DOMAIN_NOT_EMPTY"
    assert "firma.pl still holds alias biuro-stare@firma.pl (of info@example.com)" in message
    assert (
        "terminate again" in message and PASSWORD not in message and "zimbra-secret" not in message
    )
    assert "\n" not in message
    assert "info@example.com" in fake_zimbra.accounts and "zespol@firma.pl" not in fake_zimbra.lists
    with pytest.raises(
        ZimbraError
    ) as again:  # still there: the same readable error, nothing else touched
        prov.terminate(params())
    assert str(again.value) == message and "info@example.com" in fake_zimbra.accounts
    del fake_zimbra.aliases["biuro-stare@firma.pl"]
    prov.terminate(params())
    assert "firma.pl" not in fake_zimbra.domains


def test_terminate_lists_at_most_a_few_remaining_entries(prov, fake_zimbra):
    fake_zimbra.add_domain("firma.pl")
    for i in range(7):
        fake_zimbra.add_alias(f"a{i}@firma.pl", "info@example.com")
    with pytest.raises(
        ZimbraError, match=r"alias a4@firma.pl \(of info@example.com\) and 2 more; remove"
    ):
        prov.terminate(params())


def test_terminate_stops_on_a_real_failure_during_the_sweep(prov, fake_zimbra):
    fake_zimbra.add_domain("firma.pl")
    fake_zimbra.add_distribution_list("zespol@firma.pl")
    fake_zimbra.inject("http500", on="DeleteDistributionList")
    with pytest.raises(ZimbraError, match="DeleteDistributionList"):
        prov.terminate(params())
    assert "firma.pl" in fake_zimbra.domains and fake_zimbra.count("DeleteDomain") == 0


def test_change_password(prov, zimbra_server, caplog):
    fake, url = zimbra_server
    prov.create(params())
    fake.password_message = "password will expire in 30 days"
    prov.change_password(params(password="New-Pass-456"))
    assert password_is(url, "biuro@firma.pl", "New-Pass-456")
    assert "New-Pass-456" not in caplog.text


def test_change_password_of_a_missing_mailbox(prov):
    prov.create(params())
    with pytest.raises(ParamsError, match="mailbox kto@firma.pl does not exist on Zimbra mail1"):
        prov.change_password(params(username="kto"))


def test_change_package_reapplies_limits_to_domain_and_primary_only(prov, fake_zimbra):
    prov.create(params(configoption4="basic"))
    fake_zimbra.add_account("jan@firma.pl", quota=100 * MiB)
    prov.change_package(params(configoption1="2048", configoption2="50", configoption4=""))
    assert fake_zimbra.domains["firma.pl"]["attrs"]["zimbraDomainMaxAccounts"] == "50"
    primary = fake_zimbra.accounts["biuro@firma.pl"]["attrs"]
    assert primary["zimbraMailQuota"] == str(2048 * MiB) and "zimbraCOSId" not in primary
    assert fake_zimbra.accounts["jan@firma.pl"]["attrs"]["zimbraMailQuota"] == str(100 * MiB)
    prov.change_package(params(configoption2="0", configoption4="basic"))
    assert "zimbraDomainMaxAccounts" not in fake_zimbra.domains["firma.pl"]["attrs"]
    assert (
        fake_zimbra.accounts["biuro@firma.pl"]["attrs"]["zimbraCOSId"]
        == fake_zimbra.coses["basic"]["id"]
    )


def test_unreachable_zimbra_is_a_readable_error(zimbra_server):
    from puq_bridge.zimbra.client import ZimbraAdmin

    fake, url = zimbra_server
    fake.inject("html", on="Auth")
    client = ZimbraAdmin(url, "admin@example.com", "zimbra-secret", name="mail9", timeout=2)
    with pytest.raises(ZimbraError, match="mail9") as err:
        Calls(client).create(params())
    assert "zimbra-secret" not in str(err.value) and "\n" not in str(err.value)
    client.close()


# --- the plan enforced by Zimbra, the preauth key, the delegated admin ---------------------------


def grants_of(fake, mailbox):
    return sorted((g["target_type"], g["target_name"], g["right"]) for g in fake.grants_of(mailbox))


DELEGATED = [
    ("domain", "firma.pl", "domainAdminConsoleRights"),
    ("global", "globalacltarget", "domainAdminZimletRights"),
]


def test_create_puts_the_plan_a_key_and_the_delegated_admin_on_zimbra(prov, fake_zimbra):
    prov.create(params(configoption7="block sending and receiving"))
    domain = fake_zimbra.domains["firma.pl"]["attrs"]
    assert domain["zimbraDomainMaxAccounts"] == "20"
    assert domain["zimbraDomainAggregateQuota"] == str(10 * GiB)
    assert domain["zimbraDomainAggregateQuotaPolicy"] == "BLOCKSENDRECEIVE"
    assert len(domain["zimbraPreAuthKey"]) == 64
    primary = fake_zimbra.accounts["biuro@firma.pl"]["attrs"]
    assert primary["zimbraIsDelegatedAdminAccount"] == "TRUE"
    assert "accountListView" in primary["zimbraAdminConsoleUIComponents"]
    assert grants_of(fake_zimbra, "biuro@firma.pl") == DELEGATED
    # nothing on any other domain
    assert {g["target_name"] for g in fake_zimbra.grants} == {"firma.pl", "globalacltarget"}


def test_a_repeated_create_changes_nothing(prov, fake_zimbra):
    prov.create(params())
    key = fake_zimbra.domains["firma.pl"]["attrs"]["zimbraPreAuthKey"]
    before = {op: fake_zimbra.count(op) for op in ("ModifyDomain", "ModifyAccount", "GrantRight")}
    prov.create(params())
    after = {op: fake_zimbra.count(op) for op in before}
    assert after == before and fake_zimbra.domains["firma.pl"]["attrs"]["zimbraPreAuthKey"] == key
    assert grants_of(fake_zimbra, "biuro@firma.pl") == DELEGATED


def test_create_gives_an_existing_domain_a_key_and_keeps_one(prov, fake_zimbra):
    prov.create(params(domain="example.com", username="nowy"))
    key = fake_zimbra.domains["example.com"]["attrs"]["zimbraPreAuthKey"]
    assert len(key) == 64
    fake_zimbra.domains["example.org"]["attrs"]["zimbraPreAuthKey"] = "ab" * 32
    prov.create(params(domain="example.org", username="nowy"))
    assert fake_zimbra.domains["example.org"]["attrs"]["zimbraPreAuthKey"] == "ab" * 32


def test_the_clients_total_space_option_is_the_aggregate_quota(zimbra_admin, fake_zimbra):
    read = ModuleParams.read(params())
    Provisioner(zimbra_admin).create(read.target, read.product, PASSWORD, total_bytes=25 * GiB)
    assert fake_zimbra.domains["firma.pl"]["attrs"]["zimbraDomainAggregateQuota"] == str(25 * GiB)


def test_no_total_space_means_no_aggregate_quota(prov, fake_zimbra):
    prov.create(params(configoption3="0", configoption2="0"))
    domain = fake_zimbra.domains["firma.pl"]["attrs"]
    assert not {"zimbraDomainAggregateQuota", "zimbraDomainMaxAccounts"} & set(domain)


def test_max_mailboxes_is_enforced_by_zimbra(prov, zimbra_admin):
    from puq_bridge.errors import TooManyAccounts

    prov.create(params(configoption2="2"))
    zimbra_admin.create_account("jan@firma.pl", "Long-Pass-1")
    with pytest.raises(TooManyAccounts):
        zimbra_admin.create_account("ewa@firma.pl", "Long-Pass-1")


def test_a_private_server_gets_no_delegated_admin(prov, fake_zimbra):
    prov.create(params(configoption6="server"))
    assert "zimbraIsDelegatedAdminAccount" not in fake_zimbra.accounts["biuro@firma.pl"]["attrs"]
    assert fake_zimbra.grants == [] and fake_zimbra.count("GrantRight") == 0


@pytest.mark.parametrize("refused", ["domainAdminConsoleRights", "domainAdminZimletRights"])
def test_a_refused_grant_leaves_no_delegated_flag_and_no_grant(prov, fake_zimbra, refused):
    from puq_bridge.errors import DelegationError

    fake_zimbra.deny("GrantRight", attr=refused)
    with pytest.raises(DelegationError) as caught:
        prov.create(params())
    message = str(caught.value)
    assert "could not make biuro@firma.pl the delegated admin of firma.pl" in message
    assert "service.PERM_DENIED" in message and "nothing of it was left behind" in message
    assert PASSWORD not in message and "\n" not in message
    primary = fake_zimbra.accounts["biuro@firma.pl"]["attrs"]
    assert "zimbraIsDelegatedAdminAccount" not in primary
    assert "zimbraAdminConsoleUIComponents" not in primary
    assert fake_zimbra.grants == []
    fake_zimbra._denied.clear()  # the operator fixed the rights: a retry completes
    prov.create(params())
    assert grants_of(fake_zimbra, "biuro@firma.pl") == DELEGATED


def test_change_package_changes_the_plan_and_keeps_the_delegated_admin(prov, fake_zimbra):
    prov.create(params())
    fake_zimbra.grants.clear()  # someone revoked them by hand
    prov.change_package(
        params(configoption2="5", configoption3="2", configoption7="warn only")
    )
    domain = fake_zimbra.domains["firma.pl"]["attrs"]
    assert domain["zimbraDomainMaxAccounts"] == "5"
    assert domain["zimbraDomainAggregateQuota"] == str(2 * GiB)
    assert domain["zimbraDomainAggregateQuotaPolicy"] == "ALLOWSENDRECEIVE"
    assert grants_of(fake_zimbra, "biuro@firma.pl") == DELEGATED
    modified = fake_zimbra.count("ModifyDomain")
    prov.change_package(params(configoption2="5", configoption3="2", configoption7="warn only"))
    assert fake_zimbra.count("ModifyDomain") == modified  # idempotent: nothing to change
    prov.change_package(params(configoption3="0"))
    assert "zimbraDomainAggregateQuota" not in fake_zimbra.domains["firma.pl"]["attrs"]


def test_terminate_leaves_no_flag_grant_or_key_behind(prov, fake_zimbra):
    prov.create(params())
    fake_zimbra.add_account("jan@firma.pl")
    prov.terminate(params())
    assert fake_zimbra.grants == []
    assert "firma.pl" not in fake_zimbra.domains and "biuro@firma.pl" not in fake_zimbra.accounts
    assert fake_zimbra.count("RevokeRight") == 2
