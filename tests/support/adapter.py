"""Helpers of the adapter and its commands (tests/whmcs_module/, tests/cli/): a parsed config, a
CLI config file, signed requests and a signed POST, a recording WSGI wrapper."""

from __future__ import annotations

import io
import json
import secrets
import time

import requests

from puq_bridge.config import parse_config
from whmcs_module.signing import HEADER, sign

SECRET = "adapter-shared-secret-0123-456789-abcdef"
WHMCS_SECRET = "whmcs-api-secret-4567"
ZIMBRA_PASSWORD = "zimbra-admin-pw-789"


def make_config(zimbra=(), *, max_body=65536, whmcs_url="http://127.0.0.1:9", store_path=None):
    """A parsed config with literal secrets (no environment needed)."""
    raw = {
        "whmcs": {"url": whmcs_url, "identifier": "whmcs-id", "secret": WHMCS_SECRET, "timeout": 2},
        "zimbra": [dict(z) for z in zimbra],
        "adapter": {"secret": SECRET, "max_body": max_body},
    }
    if store_path is not None:
        raw["store"] = {"path": str(store_path)}
    return parse_config(raw, "test.toml", env={})


def write_cli_config(tmp_path, adapter: str, *, store: bool = False):
    """A 0600 config file for the CLI: a WHMCS nobody answers, ``[adapter]`` as given, optionally a
    store in tmp."""
    path = tmp_path / "puq-bridge.toml"
    store_table = f'[store]\npath = "{tmp_path / "usage.sqlite3"}"\n' if store else ""
    path.write_text(
        '[whmcs]\nurl = "http://127.0.0.1:9"\nidentifier = "id"\nsecret = "whmcs-secret-1"\n'
        f"{store_table}[adapter]\n{adapter}\n"
    )
    path.chmod(0o600)
    return path


def signed(params, *, secret=SECRET, t=None):
    """``(body, headers)`` of a correctly signed adapter request (with a nonce, like the
    forwarder's)."""
    body = json.dumps({"params": params, "nonce": secrets.token_hex(8)}).encode()
    return body, {
        HEADER: sign(secret, body, int(time.time()) if t is None else t),
        "Content-Type": "application/json",
    }


def post(server, function, params=None, *, headers=None, body=None):
    """POST to ``<server.url>/whmcs/<function>``: ``params`` signed as the forwarder signs them, or
    ``body`` and ``headers`` as given."""
    if body is None:
        body, made = signed(params or {})
        headers = made if headers is None else headers
    return requests.post(
        f"{server.url}/whmcs/{function}", data=body, headers=headers or {}, timeout=5
    )


class Recorder:
    """A WSGI wrapper that keeps every request body it passes on (to see what the forwarder
    sent)."""

    def __init__(self, app):
        self.app, self.bodies = app, []

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.bodies.append((environ.get("PATH_INFO"), body))
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)
