"""The facts a client-area page shows, from the WHMCS client's records (the CLI) and from the module
params (the adapter); bad params name the key."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from decimal import Decimal

import pytest

from puq_bridge.clientarea.facts import ServiceFacts, facts_from_service
from puq_bridge.clientarea.facts import facts_from_params as _facts_from_params
from puq_bridge.config import ZimbraConfig
from puq_bridge.errors import ParamsError
from puq_bridge.units import GB
from puq_bridge.whmcs.params import ModuleParams
from tests.clientarea.support import CLIENT, service

ENTRY = ZimbraConfig(
    name="mail1",
    whmcs_server=3,
    url="https://zimbra-internal.example.com:7071",
    admin_user="admin@example.com",
    password="zimbra-secret",
)


def test_facts_from_service():
    facts = facts_from_service(service(), CLIENT, None)
    assert facts == ServiceFacts(
        service_id=42,
        domain="example.pl",
        status="Active",
        registration_date=dt.date(2026, 1, 15),
        next_due_date=dt.date(2026, 12, 15),
        billing_cycle="Quarterly",
        recurring_amount=Decimal("147.00"),
        currency_code="PLN",
        payment_method="Bank Transfer",
        hostname="mail1.example.com",
        main_ip="192.0.2.10",
        webmail_url="https://mail1.example.com/",
        admin_url="https://mail1.example.com:7071/zimbraAdmin/",
        total_space_bytes=50 * GB,
        language="polish",
    )


def test_facts_hold_no_secret():
    facts = facts_from_service(service(), CLIENT, ENTRY)
    values = [str(getattr(facts, f.name)) for f in fields(facts)]
    assert not any("Sekret" in v or "zimbra-secret" in v for v in values)


def test_facts_prefer_dedicated_ip_and_configured_urls():
    entry = ZimbraConfig(
        name="mail1",
        whmcs_server=3,
        url="https://zimbra-internal.example.com:7071",
        admin_user="a",
        password="p",
        webmail_url="https://poczta.example.pl",
        admin_url="https://admin.example.pl:9071/",
    )
    facts = facts_from_service(
        service(dedicated_ip="203.0.113.5", server_hostname=""), CLIENT, entry
    )
    assert facts.main_ip == "203.0.113.5"
    assert (
        facts.hostname == "zimbra-internal.example.com"
    )  # no WHMCS hostname: the config entry's host
    assert (facts.webmail_url, facts.admin_url) == (
        "https://poczta.example.pl",
        "https://admin.example.pl:9071/",
    )


def test_facts_without_total_space_option():
    assert facts_from_service(service(config_options={}), CLIENT).total_space_bytes is None


PARAMS = {
    "serviceid": "42",
    "domain": "example.pl",
    "serverhostname": "mail1.example.com",
    "serverip": "192.0.2.10",
    "configoption3": "20",
    "password": "Sekret-Hasl0!",
    "service": {
        "regdate": "2026-01-15",
        "nextduedate": "2026-12-15 00:00:00",
        "billingcycle": "Annually",
        "amount": "490.00",
        "paymentmethod": "Przelew",
        "status": "Suspended",
    },
    "clientsdetails": {"language": "english", "currency_code": "EUR"},
}


def facts_from_params(raw, entry=None):
    """The adapter's path: the forwarder's JSON read once, then the facts."""
    return _facts_from_params(ModuleParams.read(raw), entry)


def test_facts_from_params():
    facts = facts_from_params(PARAMS, None)
    assert facts.service_id == 42 and facts.status == "Suspended"
    assert facts.next_due_date == dt.date(2026, 12, 15) and facts.registration_date == dt.date(
        2026, 1, 15
    )
    assert facts.recurring_amount == Decimal("490.00") and facts.currency_code == "EUR"
    assert facts.billing_cycle == "Annually" and facts.payment_method == "Przelew"
    assert facts.total_space_bytes == 20 * GB and facts.language == "english"
    assert facts.admin_url == "https://mail1.example.com:7071/zimbraAdmin/"
    assert "Sekret" not in repr(facts)


def test_facts_from_params_configurable_option_wins():
    params = dict(PARAMS, configoptions={"Total space (GB)": "1,5"}, configoption3="0")
    assert facts_from_params(params).total_space_bytes == int(1.5 * GB)


def test_facts_from_minimal_params():
    facts = facts_from_params(
        {"serviceid": 5, "domain": "firma.pl", "service": {"regdate": "0000-00-00"}}
    )
    assert facts.registration_date is None and facts.recurring_amount is None
    assert facts.total_space_bytes is None and facts.webmail_url == "" and facts.language == ""


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, "serviceid is missing"),
        ({"serviceid": "abc"}, "serviceid must be a number, got 'abc'"),
        ({"serviceid": 1}, "the service has no domain"),
        (
            {"serviceid": 1, "domain": "a.pl", "service": {"regdate": "15/01/2026"}},
            "service.regdate is not a date",
        ),
        (
            {"serviceid": 1, "domain": "a.pl", "service": {"amount": "49 zł"}},
            "service.amount is not an amount",
        ),
        ({"serviceid": 1, "service": "x"}, "service must be an object"),
        (
            {"serviceid": 1, "domain": "a.pl", "configoption3": "lots"},
            r"'Total space \(GB\)' \(configoption3\) must be a number of GB",
        ),
    ],
)
def test_bad_params_name_the_key(params, message):
    """Also: only settings 3 and 6 are the page's business; a bad setting 1 does not matter."""
    assert facts_from_params({"serviceid": 1, "domain": "a.pl", "configoption1": "1 GB"})
    with pytest.raises(ParamsError, match=message):
        facts_from_params(params)
