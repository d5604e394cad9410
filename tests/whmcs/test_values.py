"""Secrets echoed back by WHMCS (JSON, form echoes, HTML pages, PHP dumps) are masked whole in error
text."""

import html
import json
import re
from urllib.parse import urlencode

import pytest

from puq_bridge.errors import WhmcsApiError, WhmcsProtocolError, WhmcsTransportError
from puq_bridge.whmcs.values import redact


def test_echoed_secrets_are_masked_in_error_text(api_reply):
    body = (
        "<html><body>Bad request: secret=s3cr3t-value&password2=Hunter2-pw "
        '{"password":"Svc-pw-123"}</body></html>'
    )
    with pytest.raises(WhmcsProtocolError) as err:
        api_reply(body, 400).call("ValidateLogin", {"password2": "Hunter2-pw"})
    for secret in ("s3cr3t-value", "Hunter2-pw", "Svc-pw-123"):
        assert secret not in str(err.value)
    assert "********" in str(err.value)


PASSWORDS = ['Tr0ub4dor, horse"battery', "s3cret l0ng,zebra & staple; x", "it's a fancy\\one"]


def _words(secret):
    """The pieces of a secret that must not survive (a leak of any part counts)."""
    return [w for w in re.split(r"[^A-Za-z0-9]+", secret) if len(w) >= 3]


def _php_single(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _html_quoted(value):
    return "&quot;" + html.escape(value, quote=False) + "&quot;"


SECRET_BODIES = {  # name -> (make body from the password, HTTP status, expected error)
    "json reply": (
        lambda pw: json.dumps({"products": {"product": [{"id": "1", "password": pw}]}}),
        200,
        WhmcsProtocolError,
    ),
    "json message": (
        lambda pw: json.dumps(
            {"result": "error", "message": f"rejected password={json.dumps(pw)}"}
        ),
        200,
        WhmcsApiError,
    ),
    "json in json": (
        lambda pw: json.dumps({"result": "error", "message": json.dumps({"password2": pw})}),
        200,
        WhmcsApiError,
    ),
    "truncated json": (
        lambda pw: json.dumps({"password": pw, "id": "1"})[:-12],
        200,
        WhmcsProtocolError,
    ),
    "form echo": (
        lambda pw: (
            "<html><body>bad request: "
            + urlencode({"action": "x", "password2": pw, "id": 1})
            + "</body></html>"
        ),
        400,
        WhmcsProtocolError,
    ),
    "html 500": (
        lambda pw: (
            f'<html><body>Fatal error: password = "{pw.replace(chr(34), chr(92) + chr(34))}"'
            " in api.php</body></html>"
        ),
        500,
        WhmcsProtocolError,
    ),
    "html escaped": (
        lambda pw: (
            f"<html><body>Fatal error: password = {_html_quoted(pw)} in api.php</body></html>"
        ),
        500,
        WhmcsProtocolError,
    ),
    "php dump": (
        lambda pw: (
            f"<html><body>$params['servicepassword'] => {_php_single(pw)}; id 5</body></html>"
        ),
        500,
        WhmcsProtocolError,
    ),
    "escaped json page": (
        lambda pw: (
            "<html><body><pre>" + html.escape(json.dumps({"password": pw})) + "</pre></body></html>"
        ),
        500,
        WhmcsProtocolError,
    ),
    "print_r": (
        lambda pw: f"Array\n(\n    [action] => x\n    [password] => {pw}\n    [id] => 5\n)\n",
        500,
        WhmcsTransportError,
    ),
    "escaped print_r": (
        lambda pw: (
            f"<html><body>Array ( [password] =&gt; {html.escape(pw)}\n[id] =&gt; 5 )</body></html>"
        ),
        500,
        WhmcsProtocolError,
    ),
    "var_dump": (
        lambda pw: (
            f'array(2) {{\n  ["password"]=>\n  string({len(pw)}) "{pw}"\n  ["id"]=>\n  int(5)\n}}\n'
        ),
        500,
        WhmcsTransportError,
    ),
}


@pytest.mark.parametrize("password", PASSWORDS, ids=["quote", "ampersand", "apostrophe"])
@pytest.mark.parametrize("shape", list(SECRET_BODIES))
def test_a_quoted_secret_field_is_masked_whole(api_reply, shape, password):
    make, status, error = SECRET_BODIES[shape]
    with pytest.raises(error) as err:
        api_reply(make(password), status).call("GetClientsProducts")
    text = str(err.value)
    assert "********" in text
    for word in _words(password):
        assert word not in text, f"{word!r} leaked from {shape}: {text}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"password": "", "id": "1"}', '{"password": "", "id": "1"}'),  # nothing to hide
        ('{"secret": 12345, "x": 1}', '{"secret": ********, "x": 1}'),  # an unquoted value
        ("[password] => plain-pw\n[id] => 5", "[password] => ********\n[id] => 5"),
        ("Invalid password provided", "Invalid password provided"),  # prose, not a field
        ('password="a b" id="7"', 'password="********" id="7"'),  # the value ends at its quote
    ],
)
def test_redact_keeps_the_structure_around_a_masked_field(text, expected):
    assert redact(text) == expected
