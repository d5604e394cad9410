"""Request signatures between the forwarder and the adapter: the formula, bad headers, expiry and
replays."""

import pytest

from whmcs_module.signing import SignatureError, Verifier, parse, sign


def test_sign_matches_the_documented_formula():
    import hashlib
    import hmac

    body = b'{"params": {}}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("k", body, 1700000000) == f"t=1700000000,v1={expected}"
    assert parse(sign("k", body, 1700000000)) == (1700000000, expected)


@pytest.mark.parametrize(
    "header, reason",
    [
        (None, "missing"),
        ("", "missing"),
        ("t=1,v1=zz", "malformed"),
        ("v1=" + "a" * 64, "malformed"),
        ("t=1700000000,v1=" + "a" * 64, "does not match"),
    ],
)
def test_verifier_rejects_bad_headers(header, reason):
    with pytest.raises(SignatureError, match=reason):
        Verifier("k", clock=lambda: 1700000000).verify(header, b"x")


def test_verifier_expiry_window_and_replay():
    now = [1700000000]
    verifier = Verifier("k", clock=lambda: now[0])
    verifier.verify(sign("k", b"a", now[0] - 300), b"a")  # at the edge: accepted
    with pytest.raises(SignatureError, match="expired"):
        verifier.verify(sign("k", b"b", now[0] - 301), b"b")
    with pytest.raises(SignatureError, match="expired"):
        verifier.verify(sign("k", b"c", now[0] + 301), b"c")
    header = sign("k", b"d", now[0])
    verifier.verify(header, b"d")
    now[0] += 2
    with pytest.raises(SignatureError, match="already used"):
        verifier.verify(header, b"d")
