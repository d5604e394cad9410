"""Mailbox self-service through real ``php`` running the generated forwarder against the adapter's
HTTP service (what ``serve`` runs) and FakeZimbra: each action works; each limit refuses with
nothing changed on Zimbra; a tampered mailbox or domain is refused; a double submit creates one
mailbox; an HTML-laden display name never reaches a page unescaped; the audit shows every attempt;
no password reaches the module log, the bridge's log or the store."""

import json

from puq_bridge.units import MB
from tests.whmcs_module.test_forwarder import MODEL, forwarder, module_params, needs_php
from tests.whmcs_module.test_forwarder_signon import bridge, php_calls  # noqa: F401 (fixture)

pytestmark = needs_php

PASSWORD = "Nowe-Haslo-77"
EVIL = '<img src=x onerror="alert(1)">Jan'


def action(function, post, **params):
    return {"function": function, "params": module_params(**params), "model": MODEL, "post": post}


def new_mailbox(local, quota="1024", password=PASSWORD, **params):
    post = {
        "local_part": local,
        "display_name": EVIL,
        "password": password,
        "password2": password,
        "quota_mb": quota,
    }
    return action("CreateMailbox", post, **params)


def changes(fake):
    """What the bridge changed on Zimbra: the requests that change something."""
    return [
        r["op"]
        for r in fake.requests
        if r["op"] not in ("Auth", "GetQuotaUsage", "SearchDirectory", "GetAccount", "GetCos")
        and not r["op"].startswith("Get")
    ]


def state(fake):
    """Zimbra's directory as the client could see it change (accounts, attributes, aliases)."""
    return json.dumps([fake.accounts, fake.aliases, fake.domains], sort_keys=True, default=str)


def test_self_service_through_php(bridge, fake, tmp_path, caplog):  # noqa: F811
    folder = forwarder(tmp_path, bridge.url)
    results, _, _ = php_calls(folder, [action("CreateAccount", {})], tmp_path)
    assert results == ["success"]
    fake.add_domain("inna.pl")
    fake.add_account("szef@inna.pl")
    before = len(changes(fake))

    # CreateMailbox, submitted twice: one mailbox, both answers success
    results, log, _ = php_calls(folder, [new_mailbox("jan"), new_mailbox("jan")], tmp_path)
    assert results == ["success", "success"]
    assert changes(fake)[before:] == ["CreateAccount"]
    jan = fake.accounts["jan@firma.pl"]
    assert jan["attrs"]["zimbraMailQuota"] == str(1024 * MB)
    assert jan["attrs"]["displayName"] == EVIL  # Zimbra keeps the text; pages escape it
    # the module log has the form, its passwords masked and in WHMCS's replace list
    entry = log[0]
    assert entry["request"]["action"]["password"] == "********"
    assert PASSWORD in entry["replace"] and PASSWORD not in json.dumps(entry["request"])

    # each limit refuses, in the client's language, naming the field; Zimbra is unchanged
    fake.coses["default"]["attrs"]["zimbraPasswordMinUpperCaseChars"] = "1"
    made, unchanged = len(changes(fake)), state(fake)
    refusals = [
        new_mailbox("ewa", quota="4000"),  # 5 GB total: 512 + 1024 MB taken
        new_mailbox("ewa", quota="0"),  # unlimited, though the plan has a total space
        new_mailbox("ewa", password="bez-wielkich-1"),  # the COS wants an upper-case letter
        new_mailbox("ewa", configoption2="2"),  # two mailboxes already
        new_mailbox("ewa", quota="abc"),
        new_mailbox("biuro"),  # exists
        new_mailbox("x@inna.pl"),  # a tampered local part naming another domain
        {**new_mailbox("ewa"), "model": {**MODEL, "domainstatus": "Suspended"}},
    ]
    results, _, _ = php_calls(folder, refusals, tmp_path)
    assert results[0] == "Limit (MB): za mało wolnego miejsca w planie (wolne: 3584 MB)."
    assert results[1].startswith("Limit (MB): Twój plan nie pozwala na skrzynki bez limitu")
    assert results[2].startswith("Hasło: hasło nie spełnia zasad serwera pocztowego")
    assert results[3] == "Adres: Twój plan nie pozwala na więcej skrzynek."
    assert results[4] == "Limit (MB): podaj liczbę całkowitą MB."
    assert results[5].startswith("Adres: ten adres jest już używany")
    assert results[6].startswith("Adres: to nie jest poprawny adres")
    assert results[7].startswith("Ta usługa nie jest aktywna")
    assert state(fake) == unchanged and "ewa@firma.pl" not in fake.accounts
    # only the password the bridge's cached policy let through reached Zimbra, which refused it
    assert changes(fake)[made:] == ["CreateAccount"]
    made = len(changes(fake))

    # a tampered mailbox or domain: refused, nothing changed
    tampered = [
        action("DeleteMailbox", {"mailbox": "szef@inna.pl", "confirm": "szef@inna.pl"}),
        action(
            "SetMailboxPassword",
            {"mailbox": "szef@inna.pl", "password": PASSWORD, "password2": PASSWORD},
        ),
        action("SetMailboxQuota", {"mailbox": "szef@inna.pl", "quota_mb": "1"}),
        action("AddAlias", {"mailbox": "jan@firma.pl", "alias": "jan@inna.pl"}),
        action("SetForwarding", {"mailbox": "szef@inna.pl", "forward_to": "x@gmail.com"}),
        action("DeleteMailbox", {"mailbox": "biuro@firma.pl", "confirm": "biuro@firma.pl"}),
    ]
    results, _, _ = php_calls(folder, tampered, tmp_path)
    foreign = "Skrzynka: ta skrzynka nie należy do tej usługi; nic nie zostało zrobione."
    assert results[:3] == [foreign] * 3 and results[4] == foreign
    assert results[3] == "Alias: alias musi być w domenie tej skrzynki."
    assert results[5] == "Skrzynka: głównej skrzynki usługi nie można usunąć."
    assert state(fake) == unchanged and changes(fake)[made:] == []

    # the other actions, each one Zimbra change
    jan_box = {"mailbox": "jan@firma.pl"}
    done = [
        action(
            "SetMailboxPassword",
            {**jan_box, "password": "Inne-Haslo-88", "password2": "Inne-Haslo-88"},
        ),
        action("SetMailboxQuota", {**jan_box, "quota_mb": "2048"}),
        action("AddAlias", {**jan_box, "alias": "kontakt"}),
        action("AddAlias", {**jan_box, "alias": "biuro"}),  # taken by a mailbox: refused
        action("SetForwarding", {**jan_box, "forward_to": "jan@gmail.com", "keep_copy": "1"}),
    ]
    results, _, _ = php_calls(folder, done, tmp_path)
    assert results[:3] == ["success"] * 3 and results[4] == "success"
    assert results[3].startswith("Alias: ten adres jest już używany")
    assert changes(fake)[made:] == [
        "SetPassword",
        "ModifyAccount",
        "AddAccountAlias",
        "AddAccountAlias",
        "ModifyAccount",
    ]
    assert fake.accounts["jan@firma.pl"]["attrs"]["zimbraMailQuota"] == str(2048 * MB)
    assert fake.aliases["kontakt@firma.pl"]["target"] == "jan@firma.pl"
    attrs = fake.accounts["jan@firma.pl"]["attrs"]
    assert attrs["zimbraPrefMailForwardingAddress"] == "jan@gmail.com"
    assert attrs["zimbraPrefMailLocalDeliveryDisabled"] == "FALSE"

    results, _, _ = php_calls(
        folder,
        [
            action("RemoveAlias", {**jan_box, "alias": "kontakt@firma.pl"}),
            action("SetForwarding", {**jan_box, "forward_to": ""}),
            action("DeleteMailbox", {**jan_box, "confirm": "jan@firma"}),  # mistyped
            action("DeleteMailbox", {**jan_box, "confirm": "JAN@firma.pl"}),
        ],
        tmp_path,
    )
    assert results[0] == results[1] == results[3] == "success"
    assert results[2].startswith("Potwierdzenie: wpisz dokładnie adres skrzynki")
    assert "kontakt@firma.pl" not in fake.aliases and "jan@firma.pl" not in fake.accounts

    # the page: the display name nowhere unescaped
    results, _, _ = php_calls(folder, [action("ClientArea", {})], tmp_path)
    page = json.dumps(results)
    assert "<img src=x" not in page

    # the audit: every attempt, with its result; never a password
    audit = bridge.store.actions(42, limit=100)
    assert len(audit) == 2 + len(refusals) + len(tampered) + len(done) + 4
    assert [(a.action, a.result) for a in audit[:2]] == [
        ("DeleteMailbox", "ok"),
        ("DeleteMailbox", "refused"),
    ]
    assert {a.user_id for a in audit} == {"7"}
    assert sum(a.result == "ok" for a in audit) == 2 + 4 + 3
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("usage.sqlite3*"))
    for secret in (PASSWORD, "Inne-Haslo-88", "bez-wielkich-1"):
        assert secret.encode() not in stored
        assert secret not in caplog.text


def test_a_script_is_stopped_by_the_rate_limit(bridge, fake, tmp_path):  # noqa: F811
    folder = forwarder(tmp_path, bridge.url)
    unlimited = {"configoption2": "0", "configoption3": "0"}  # no mailbox limit, no total space
    php_calls(folder, [action("CreateAccount", {}, **unlimited)], tmp_path)
    calls = [new_mailbox(f"skrypt{i}", quota="10", **unlimited) for i in range(32)]
    results, _, _ = php_calls(folder, calls, tmp_path)
    assert results[:30] == ["success"] * 30
    wait = "Zbyt wiele zmian w krótkim czasie. Odczekaj chwilę i spróbuj ponownie."
    assert results[30:] == [wait, wait]
    assert sum(name.startswith("skrypt") for name in fake.accounts) == 30
