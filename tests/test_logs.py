import json
import logging

import pytest

from puq_bridge.logs import MASK, MIN_SECRET_LENGTH, SecretFilter, mask_secrets


def test_secret_filter_masks_message_and_args(caplog):
    flt = SecretFilter(["s3cr3t-value", None, "ab"])
    logger = logging.getLogger("puq_bridge.test_logs")
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.DEBUG, logger="puq_bridge.test_logs"):
            logger.debug("token=%s and ab", "s3cr3t-value")
    finally:
        logger.removeFilter(flt)
    assert "s3cr3t-value" not in caplog.text
    assert f"token={MASK} and ab" in caplog.text  # short values are not masked


def test_mask_prefers_longest_secret():
    flt = SecretFilter(["abcd", "abcdefgh"])
    assert flt.mask("x abcdefgh y") == f"x {MASK} y"


def test_tracebacks_are_masked_too():
    import io

    from puq_bridge.logs import MaskingFormatter, mask_secrets

    flt = SecretFilter(["hunter2-secret"])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingFormatter("%(levelname)s %(message)s", flt))
    handler.addFilter(flt)
    logger = logging.getLogger("puq_bridge.test_logs.tb")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError("login with hunter2-secret failed")
        except RuntimeError:
            logger.exception("sync failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "Traceback" in out and "RuntimeError" in out
    assert "hunter2-secret" not in out
    assert mask_secrets("a hunter2-secret b", ["hunter2-secret", None, "ab"]) == f"a {MASK} b"


# --- one rule for masking by value, wherever it is done -------------------------------------------


def _zimbra_fault_text(text, secret):
    from puq_bridge.errors import ZimbraFault
    from puq_bridge.simulators.zimbra.wire import SOAP12, SimFault, envelope, fault_body
    from puq_bridge.zimbra import soap as zimbra_soap

    body = envelope(SOAP12, fault_body(SOAP12, SimFault("service.FAILURE", text), "trace"))
    try:
        zimbra_soap.read_envelope("mail1", "GetQuotaUsage", 500, "text/xml", body, [secret])
    except ZimbraFault as err:
        return err.fault_message
    raise AssertionError("no fault")


def _whmcs_error_text(text, secret):
    from puq_bridge.errors import WhmcsApiError
    from puq_bridge.whmcs.transport import decode

    try:
        decode("GetClients", 200, json.dumps({"result": "error", "message": text}), [secret])
    except WhmcsApiError as err:
        return err.message
    raise AssertionError("no error")


def _adapter_text(text, secret):
    from puq_bridge.whmcs.params import ModuleParams
    from whmcs_module.adapter import scrub

    return scrub(text, ModuleParams.read({"serverpassword": secret}))


MASKERS = {
    "mask_secrets": lambda text, secret: mask_secrets(text, [secret]),
    "SecretFilter": lambda text, secret: SecretFilter([secret]).mask(text),
    "whmcs error": _whmcs_error_text,
    "zimbra fault": _zimbra_fault_text,
    "adapter scrub": _adapter_text,
}


@pytest.mark.parametrize("where", list(MASKERS))
@pytest.mark.parametrize(
    "secret, masked", [("k9x", False), ("k9xq", True)], ids=["3 chars", "4 chars"]
)
def test_every_module_masks_by_the_same_length_rule(where, secret, masked):
    text = f"login with {secret} refused by node {secret}-7"
    expected = f"login with {MASK} refused by node {MASK}-7" if masked else text
    assert MASKERS[where](text, secret) == expected
    assert MIN_SECRET_LENGTH == 4


# --- escaped forms of a secret
# ---------------------------------------------------------------------------------

ODD_SECRET = "Pa&ss<w>o\"rd'ł/x y\\z"


def _escaped_forms(secret: str) -> dict[str, str]:
    """The secret as the places it travels through write it."""
    import html
    from urllib.parse import quote, quote_plus, urlencode
    from xml.sax.saxutils import escape, quoteattr

    from lxml import etree

    element = etree.Element("AuthRequest", password=secret)
    element.text = secret
    lxml_attr = etree.tostring(element).decode().split('password="', 1)[1].split('"', 1)[0]
    return {
        "xml text": escape(secret),
        "xml attribute (saxutils)": quoteattr(secret)[1:-1],
        "xml attribute (lxml)": lxml_attr,
        "xml text (lxml)": etree.tostring(element).decode().split(">", 1)[1].rsplit("<", 1)[0],
        "html": html.escape(secret),
        "html numeric": "".join(f"&#{ord(c)};" if not c.isalnum() else c for c in secret),
        "html hex": "".join(f"&#x{ord(c):x};" if not c.isalnum() else c for c in secret),
        "form body": urlencode({"secret": secret}).split("=", 1)[1],
        "url path": quote(secret, safe=""),
        "url lower-case": quote_plus(secret, safe="").lower().replace("pa", "Pa"),
        "json": json.dumps(secret)[1:-1],
        "json unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "php json": json.dumps(secret)[1:-1].replace("/", "\\/"),
    }


@pytest.mark.parametrize("form", list(_escaped_forms(ODD_SECRET)))
def test_escaped_forms_of_a_secret_are_masked_too(form):
    escaped = _escaped_forms(ODD_SECRET)[form]
    assert escaped != ODD_SECRET or form == "json unicode"
    text = f"the server said: <b>{escaped}</b> (end)"
    assert mask_secrets(text, [ODD_SECRET]) == f"the server said: <b>{MASK}</b> (end)"
    assert SecretFilter([ODD_SECRET]).mask(text) == f"the server said: <b>{MASK}</b> (end)"


def test_a_secret_escaped_by_several_rules_at_once_is_masked():
    mixed = 'Pa&amp;ss%3Cw&gt;o\\"rd&#39;\\u0142\\/x+y%5Cz'
    assert mask_secrets(f"[{mixed}]", [ODD_SECRET]) == f"[{MASK}]"


def test_escaped_masking_changes_nothing_else():
    text = "Pa&amp;ss is not the password; neither is x y or %3C"
    assert mask_secrets(text, [ODD_SECRET]) == text
    assert (
        mask_secrets("a&amp;b", ["a&b"]) == "a&amp;b"
    )  # shorter than four characters: never masked
    assert mask_secrets("user=an%40example", ["an@example"]) == f"user={MASK}"
