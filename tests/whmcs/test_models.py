"""The typed records and how they are read from the shapes WHMCS replies in (flattened keys, single
rows, empty strings, impossible values), and what their repr leaves out."""

import datetime as dt
from decimal import Decimal

import pytest

from puq_bridge.errors import WhmcsProtocolError
from puq_bridge.whmcs.models import Service


def test_service_repr_hides_password():
    assert "password" not in repr(
        Service(
            1,
            1,
            1,
            "",
            "",
            "",
            "",
            None,
            "",
            "",
            "",
            "",
            None,
            None,
            "",
            Decimal(0),
            Decimal(0),
            "",
            "",
            "",
            0,
            0,
            None,
            password="p4ss-w0rd",
        )
    )


# --- reply shapes ---------------------------------------------------------------------------------


def test_flattened_packages_like_the_documented_example(api_reply):
    body = (
        '{"result": "success", "totalresults": "2", "startnumber": 0, "numreturned": 2,'
        ' "packages[package][0][id]": "1", "packages[package][0][relid]": "42",'
        ' "packages[package][0][type]": "Immediate", "packages[package][0][reason]": "",'
        ' "packages[package][0][date]": "2026-02-01 10:00:00",'
        ' "packages[package][1][id]": "2", "packages[package][1][relid]": "43",'
        ' "packages[package][1][type]": "End of Billing Period",'
        ' "packages[package][1][date]": "0000-00-00 00:00:00"}'
    )
    found = api_reply(body).cancelled_packages()
    assert [(p.id, p.service_id, p.type, p.date) for p in found] == [
        (1, 42, "Immediate", dt.datetime(2026, 2, 1, 10)),
        (2, 43, "End of Billing Period", None),
    ]


def test_single_row_and_comma_permissions(api_reply):
    client = api_reply(
        '{"result": "success", "totalresults": 1, "users": {"id": 7, "email": "a@b.c",'
        ' "clients": {"id": 3, "isOwner": "1"}}, "permissions": "profile, tickets"}'
    )
    [user] = client.users()
    assert (user.id, user.clients) == (7, ((3, True),))
    assert client.user_permissions(7, 3) == ["profile", "tickets"]


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            '{"result": "success", "totalresults": 1, "paymentmethods": {"paymentmethod":'
            ' {"module": "mailin", "displayname": "Mail In Payment"}}}',
            {"mailin": "Mail In Payment"},
        ),
        (
            '{"result": "success", "totalresults": 2,'
            ' "paymentmethods[paymentmethod][0][module]": "paypal",'
            ' "paymentmethods[paymentmethod][0][displayname]": "PayPal",'
            ' "paymentmethods[paymentmethod][1][module]": "custom"}',
            {"paypal": "PayPal", "custom": "custom"},
        ),
        ('{"result": "success", "totalresults": 0, "paymentmethods": ""}', {}),
    ],
)
def test_payment_methods_reply_shapes(api_reply, body, expected):
    assert api_reply(body).payment_methods() == expected


def test_impossible_value_is_a_protocol_error(api_reply):
    body = (
        '{"result": "success", "totalresults": "1",'
        ' "products": {"product": [{"id": "1", "regdate": "soon"}]}}'
    )
    with pytest.raises(WhmcsProtocolError, match="GetClientsProducts: unexpected value in reply"):
        list(api_reply(body).client_products())
