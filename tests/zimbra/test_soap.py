"""SOAP plumbing of the Zimbra client: fault codes to exceptions, secrets masked in fault text and
zeep's logs, the WSDL loaded lazily from package data, and the GetQuotaUsage template byte for byte
as zeep would build it."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from puq_bridge import errors
from puq_bridge.simulators.zimbra.wire import SOAP11, SOAP12, SimFault, envelope, fault_body
from puq_bridge.zimbra import soap as zimbra_soap
from puq_bridge.zimbra.client import parse_quota_usage

# --- faults ---------------------------------------------------------------------------------------


FAULT_TABLE = [
    ("account.NO_SUCH_ACCOUNT", errors.NoSuchAccount),
    ("account.ACCOUNT_EXISTS", errors.AccountExists),
    ("account.NO_SUCH_DOMAIN", errors.NoSuchDomain),
    ("account.DOMAIN_EXISTS", errors.DomainExists),
    ("account.DOMAIN_NOT_EMPTY", errors.DomainNotEmpty),
    ("account.NO_SUCH_COS", errors.NoSuchCos),
    ("account.TOO_MANY_ACCOUNTS", errors.TooManyAccounts),
    ("account.INVALID_PASSWORD", errors.InvalidPassword),
    ("account.AUTH_FAILED", errors.AuthFailed),
    ("service.PERM_DENIED", errors.PermissionDenied),
    ("service.AUTH_EXPIRED", errors.AuthExpired),
    ("service.AUTH_REQUIRED", errors.AuthRequired),
    ("service.INVALID_REQUEST", errors.InvalidRequest),
]


@pytest.mark.parametrize("soap_ns", [SOAP11, SOAP12], ids=["soap11", "soap12"])
@pytest.mark.parametrize(
    "code, cls",
    FAULT_TABLE + [("service.FAILURE", errors.ZimbraFault)],
    ids=[c for c, _ in FAULT_TABLE] + ["other"],
)
def test_fault_code_maps_to_its_exception(code, cls, soap_ns):
    body = envelope(
        soap_ns, fault_body(soap_ns, SimFault(code, "what\n   happened"), "qtp1-2://trace")
    )
    with pytest.raises(errors.ZimbraFault) as caught:
        parse_quota_usage(body, server="mail1")
    err = caught.value
    assert type(err) is cls and err.code == code and err.fault_message == "what happened"
    assert str(err) == f"Zimbra mail1 GetQuotaUsage: {code}: what happened"


@pytest.mark.parametrize("soap_ns", [SOAP11, SOAP12], ids=["soap11", "soap12"])
def test_fault_text_masks_secrets_longest_first_with_the_shared_mask(soap_ns):
    from puq_bridge.logs import MASK

    text = "bad login Zimbra-Pass-1234 (was Zimbra-Pass) for abc"
    body = envelope(soap_ns, fault_body(soap_ns, SimFault("account.AUTH_FAILED", text), "trace"))
    with pytest.raises(errors.AuthFailed) as caught:
        zimbra_soap.read_envelope(
            "mail1",
            "AuthRequest",
            500,
            "text/xml",
            body,
            ["Zimbra-Pass", "Zimbra-Pass-1234", "abc"],
        )
    # the longer secret is masked whole (not "********-1234"); a 3-character value is below the
    # shared minimum
    assert caught.value.fault_message == f"bad login {MASK} (was {MASK}) for abc"
    assert "Zimbra-Pass" not in str(caught.value)


def test_fault_text_masks_a_secret_with_white_space_before_folding_it():
    body = envelope(
        SOAP12, fault_body(SOAP12, SimFault("account.AUTH_FAILED", "bad tab\tsecret99  x"), "trace")
    )
    with pytest.raises(errors.AuthFailed) as caught:
        zimbra_soap.read_envelope("mail1", "AuthRequest", 500, "text/xml", body, ["tab\tsecret99"])
    assert "secret99" not in str(caught.value)
    assert caught.value.fault_message == "bad ******** x"


# --- secrets and the WSDL -------------------------------------------------------------------------


def test_zeep_transport_log_records_are_redacted(caplog):
    zimbra_soap.wsdl()  # installs the filter
    caplog.set_level(logging.DEBUG, logger="zeep.transports")
    logging.getLogger("zeep.transports").debug(
        "HTTP Post to %s:\n%s",
        "https://h/service/admin/soap",
        '<ns0:AuthRequest name="a@b" password="pa&quot;ss-1"/>'
        "<ns0:authToken>0_abc_def</ns0:authToken><password>other-secret</password>",
    )
    assert (
        "pa&quot;ss-1" not in caplog.text
        and "0_abc_def" not in caplog.text
        and "other-secret" not in caplog.text
    )
    assert caplog.text.count("********") == 3


def test_wsdl_is_package_data_loaded_once_and_not_at_import():
    assert Path(zimbra_soap.wsdl_path()).is_file()
    assert zimbra_soap.wsdl() is zimbra_soap.wsdl()
    probe = (
        "import puq_bridge.zimbra.client as z, puq_bridge.zimbra.soap as s; print(s.wsdl_loaded())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


# --- the GetQuotaUsage template (the sync's hot request) ------------------------------------------


ODD = "a&b<c>\"d'e\r\nf\tg ł 𝄞"


@pytest.mark.parametrize("token", [None, "", "0_abc123", ODD])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"limit": 0},
        {
            "domain": "example.com",
            "allServers": True,
            "limit": 0,
            "offset": 0,
            "sortBy": "totalUsed",
            "refresh": True,
        },
        {
            "domain": ODD,
            "allServers": False,
            "limit": -5,
            "offset": 250,
            "sortBy": ODD,
            "sortAscending": False,
            "refresh": False,
        },
        {"sortAscending": True, "offset": 10**12},
    ],
    ids=["none", "limit", "sync", "odd", "ascending"],
)
def test_quota_usage_template_is_byte_for_byte_zeeps_envelope(token, params):
    fast, action = zimbra_soap.build_fast("GetQuotaUsage", token, params)
    assert (
        zimbra_soap.quota_usage_request(token, params) is not None
    )  # the template, not the zeep fallback
    assert (fast, action) == zimbra_soap.build("GetQuotaUsage", token, params)


@pytest.mark.parametrize(
    "token, params",
    [
        ("tok", {"domain": "a\x01b"}),  # not XML: zeep's ValueError
        ("to\x00k", {"domain": "a"}),
        ("tok", {"domain": 5}),  # a number for a string attribute: zeep renders it
        ("tok", {"limit": "10"}),  # a string for an int
        ("tok", {"limit": True}),  # a bool is not an int here
        ("tok", {"allServers": 1}),
        ("tok", {"domain": "a", "attrs": "x"}),  # a parameter the template does not know
    ],
)
def test_quota_usage_values_the_template_does_not_cover_go_through_zeep(token, params):
    assert zimbra_soap.quota_usage_request(token, params) is None
    try:
        expected = zimbra_soap.build("GetQuotaUsage", token, params)
    except (ValueError, TypeError) as err:
        with pytest.raises(type(err)):
            zimbra_soap.build_fast("GetQuotaUsage", token, params)
    else:
        assert zimbra_soap.build_fast("GetQuotaUsage", token, params) == expected
