"""One HTTP exchange with WHMCS's ``api.php`` and the mapping of its outcome onto the WHMCS error
family.

Used only by :meth:`puq_bridge.whmcs.client.WhmcsClient.call`, which adds the credentials, logging
and retries.

Outcomes and the errors they raise:

- refused, reset, dropped, timed out, past the request's deadline; HTTP 5xx without an
  HTML page: :class:`WhmcsTransportError`;
- HTTP 403, or a "you may not" message (``Invalid IP …``, ``Authentication Failed``…):
  :class:`WhmcsAuthError`;
- ``{"result": "error"}`` (``status`` is an alias of ``result``): :class:`WhmcsApiError`;
- an HTML page, a truncated or otherwise non-JSON body, JSON without ``result``, a
  redirect: :class:`WhmcsProtocolError`.

A proxy's HTML 5xx page is a protocol error (it quotes the page) that ``call`` still retries for
reads.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable
from urllib.parse import urlencode

import requests

from puq_bridge.errors import WhmcsApiError, WhmcsAuthError, WhmcsProtocolError, WhmcsTransportError
from puq_bridge.http import DeadlineExceeded, Poster, RedirectRefused
from puq_bridge.whmcs.values import redact, snippet

#: Headers of every request sent through a ``Poster``.
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

#: Start of WHMCS messages meaning "you may not" (sent with HTTP 403; recognised whatever the
#: status).
AUTH_MESSAGES = (
    "Invalid IP",
    "Authentication Failed",
    "Invalid or missing credentials",
    "Invalid Permissions",
    "Invalid Access Key",
    "IP Banned",
    "Invalid administrative identifier",
    "Administrator Account Disabled",
    "Access Denied",
    "Invalid password provided",
)


def post(
    session: requests.Session,
    endpoint: str,
    action: str,
    fields: dict[str, str],
    *,
    timeout: float,
    verify: bool | str,
    secrets: Iterable[str | None],
    poster: Poster | None = None,
    deadline: float | None = None,
) -> tuple[dict[str, Any], int]:
    """POST ``fields`` and return ``(decoded reply, HTTP status)``; every failure is a
    ``WhmcsError``.

    The form is encoded here, byte for byte as ``requests`` encodes it, and sent through ``poster``
    (a :class:`~puq_bridge.http.Poster` for ``endpoint`` over ``session``; one is made when not
    given): never redirected, and cut at ``deadline`` seconds for the whole exchange (default: from
    ``timeout``).
    """
    poster = poster or Poster(session, endpoint, FORM_HEADERS)
    try:
        response = poster.post(form_body(fields), timeout=timeout, verify=verify, deadline=deadline)
    except DeadlineExceeded as err:
        raise WhmcsTransportError(action, f"{err} (timeout {timeout:g} s per read)") from err
    except requests.Timeout as err:
        raise WhmcsTransportError(action, f"no reply within {timeout:g} s") from err
    except RedirectRefused as err:
        raise WhmcsProtocolError(action, str(err), err.status) from err
    except requests.exceptions.SSLError as err:
        raise WhmcsTransportError(action, _tls_message(err, endpoint)) from err
    except requests.RequestException as err:
        raise WhmcsTransportError(
            action, f"cannot reach {_host(endpoint)}: {_reason(err)}"
        ) from err
    return decode(action, response.status_code, response.text, secrets), response.status_code


def form_body(fields: dict[str, str | None]) -> bytes:
    """``fields`` as an ``application/x-www-form-urlencoded`` body (UTF-8, ``None`` dropped), as
    requests encodes it."""
    return urlencode([(k, v) for k, v in fields.items() if v is not None]).encode("ascii")


def decode(
    action: str, status: int, body: str, secrets: Iterable[str | None] = ()
) -> dict[str, Any]:
    """The reply of one request as a dict, or the matching ``WhmcsError``."""
    secrets = list(secrets)
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise _not_json(action, status, body, secrets)
    result = str(reply.get("result", reply.get("status", ""))).lower()
    message = redact(str(reply.get("message") or reply.get("error") or ""), secrets)
    if status == 403 or (result == "error" and message.startswith(AUTH_MESSAGES)):
        raise WhmcsAuthError(action, message or "access denied", status)
    if status >= 500:
        raise WhmcsTransportError(action, message or "server error", status)
    if result == "error":
        raise WhmcsApiError(action, message or "unspecified error", status)
    if result != "success":
        raise WhmcsProtocolError(action, f"reply has no result: {snippet(body, secrets)}", status)
    return reply


def _not_json(action: str, status: int, body: str, secrets: list[str]) -> Exception:
    quote = snippet(body, secrets)
    if status == 403:
        return WhmcsAuthError(action, f"access denied: {quote}", status)
    if status >= 500 and not _looks_like_html(body):
        return WhmcsTransportError(action, f"server error: {quote}", status)
    kind = "an HTML page" if _looks_like_html(body) else "not a JSON reply"
    return WhmcsProtocolError(action, f"{kind}: {quote}", status)


def _looks_like_html(body: str) -> bool:
    return bool(re.match(r"\s*<(!doctype|html|head|body)", body, re.IGNORECASE))


def _tls_message(err: Exception, endpoint: str) -> str:
    where = "https://" + _host(endpoint)
    if "certificate verify failed" in str(err).lower():
        return (
            f"TLS certificate of {where} not trusted: give its CA bundle as verify in [whmcs] "
            '(verify = "/path/to/ca.pem"), or turn verification off there (verify = false)'
        )
    return f"TLS handshake with {where} failed; check the URL and the server's TLS settings"


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def _reason(err: Exception) -> str:
    """A short reason from requests' long exception text (``Connection refused``,
    ``Connection reset``...)."""
    text = str(err)
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text) or re.search(
        r"(Connection (?:aborted|reset|refused)"
        r"|Remote end closed connection[^'\")]*)",
        text,
    )
    return found.group(1).strip() if found else type(err).__name__
