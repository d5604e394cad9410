"""SOAP plumbing of the Zimbra admin client: the cached WSDL, building requests, checking replies,
mapping faults.

The WSDL (``wsdl/zimbra-admin.wsdl`` + two XSDs, written for this project) is parsed once per
process, on first use, from package data; nothing is fetched over the network. Replies are checked
with lxml before zeep sees them, so an HTML error page, a truncated body or a SOAP fault becomes one
clear :mod:`puq_bridge.errors` exception.
"""

from __future__ import annotations

import logging
import re
import threading
from importlib import resources
from typing import Any, Callable, Iterable, NamedTuple

import requests
from lxml import etree

from puq_bridge.errors import ZimbraError, ZimbraProtocolError, zimbra_fault
from puq_bridge.http import DeadlineExceeded
from puq_bridge.logs import MASK, mask_secrets

log = logging.getLogger(__name__)

ENDPOINT_PATH = "/service/admin/soap"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
ZIMBRA_NS = "urn:zimbra"
ADMIN_NS = "urn:zimbraAdmin"
QUOTA_RESPONSE = f"{{{ADMIN_NS}}}GetQuotaUsageResponse"
QUOTA_ACCOUNT = f"{{{ADMIN_NS}}}account"
QUOTA_SOAP_ACTION = f"{ADMIN_NS}/GetQuotaUsage"  # as the bundled WSDL's binding says
_BINDING = "{urn:puqBridge:zimbraAdmin}AdminBinding"
_MAX_MESSAGE = 300


def local(tag: Any) -> str:
    """The local name of an lxml tag (``{ns}name`` → ``name``)."""
    return etree.QName(tag).localname if isinstance(tag, str) else str(tag)


# --- zeep.transports never shows secrets ----------------------------------------------------------

_SECRET_PATTERNS = [
    re.compile(r'((?:password|newPassword)\s*=\s*)(["\'])(.*?)\2', re.S),
    re.compile(r"(<(?:[\w-]+:)?(?:authToken|password|newPassword)\b[^>]*>)([^<]*)(<)", re.S),
]


def redact(text: str) -> str:
    """``text`` with password attributes/elements and ``<authToken>`` contents masked."""
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    return _SECRET_PATTERNS[1].sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)


class RedactingFilter(logging.Filter):
    """Masks secrets in records of ``zeep.transports``, which logs whole envelopes at DEBUG.

    This client posts envelopes itself, so zeep's transport normally logs nothing; the filter is the
    net for anyone using zeep's transport with the same WSDL in the same process.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


# --- the WSDL, parsed once per process ------------------------------------------------------------


class _Wsdl(NamedTuple):
    client: Any
    service: Any
    binding: Any


_wsdl_lock = threading.Lock()
_wsdl: _Wsdl | None = None


def wsdl_path() -> str:
    """Filesystem path of the bundled WSDL."""
    return str(resources.files("puq_bridge.zimbra").joinpath("wsdl", "zimbra-admin.wsdl"))


def _load() -> _Wsdl:
    import zeep
    from zeep.transports import Transport

    class LocalOnly(Transport):
        """Loads the bundled files only: a schema that points at the network is a packaging bug, not
        a fetch."""

        def load(self, url):
            if "://" in url and not url.startswith("file://"):
                raise ValueError(f"the bundled Zimbra WSDL refers to a remote document: {url}")
            return super().load(url)

    settings = zeep.Settings(strict=False, xsd_ignore_sequence_order=True)
    client = zeep.Client(wsdl_path(), settings=settings, transport=LocalOnly())
    transports_log = logging.getLogger("zeep.transports")
    if not any(isinstance(f, RedactingFilter) for f in transports_log.filters):
        transports_log.addFilter(RedactingFilter())
    binding = client.wsdl.bindings[_BINDING]
    return _Wsdl(
        client, client.create_service(_BINDING, "https://zimbra.invalid" + ENDPOINT_PATH), binding
    )


def wsdl_loaded() -> bool:
    """True once :func:`wsdl` has parsed the WSDL in this process (importing the client does
    not)."""
    return _wsdl is not None


def wsdl() -> _Wsdl:
    """The process-wide zeep client over the bundled WSDL (built on first use, ~20 ms)."""
    global _wsdl
    if _wsdl is None:
        with _wsdl_lock:
            if _wsdl is None:
                _wsdl = _load()
    return _wsdl


def build(op: str, token: str | None, params: dict[str, Any]) -> tuple[bytes, str]:
    """The SOAP 1.1 request for ``op`` (with the ``<context>`` header when there is a token) and its
    SOAPAction."""
    w = wsdl()
    headers = {"context": {"authToken": token, "nosession": {}}} if token else None
    envelope = w.client.create_message(w.service, op, _soapheaders=headers, **params)
    return etree.tostring(envelope, encoding="utf-8", xml_declaration=True), w.binding.get(
        op
    ).soapaction


# --- the hot request without zeep -----------------------------------------------------------------
# zeep's serializer costs ~0.09 ms per envelope; the sync sends one GetQuotaUsage per domain, so
# that one request is written from this template instead. tests/zimbra/test_soap.py checks it
# against zeep's output byte for byte.

_ENVELOPE = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    f'<soap-env:Envelope xmlns:soap-env="{SOAP11}">{{header}}'
    "<soap-env:Body>{body}</soap-env:Body>"
    "</soap-env:Envelope>"
)
_HEADER = (
    f'<soap-env:Header><ns0:context xmlns:ns0="{ZIMBRA_NS}">'
    "<ns0:authToken>{token}</ns0:authToken>"
    "<ns0:nosession/></ns0:context></soap-env:Header>"
)
#: GetQuotaUsageRequest's attributes in schema order, with their Python type (anything else goes
#: through zeep).
_QUOTA_ATTRS = (
    ("domain", str),
    ("allServers", bool),
    ("limit", int),
    ("offset", int),
    ("sortBy", str),
    ("sortAscending", bool),
    ("refresh", bool),
)
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\r": "&#13;",
        "\n": "&#10;",
        "\t": "&#9;",
    }
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _attr_value(value: Any, kind: type) -> str | None:
    """``value`` as zeep writes an attribute of that type, or ``None`` when only zeep should handle
    it."""
    if kind is bool:
        return ("true" if value else "false") if isinstance(value, bool) else None
    if kind is int:
        return str(value) if type(value) is int else None
    if type(value) is not str or _NOT_XML.search(value):
        return None
    return value.translate(_ATTR_ESCAPES)


def quota_usage_request(token: str | None, params: dict[str, Any]) -> bytes | None:
    """GetQuotaUsageRequest as zeep would serialise it (``None`` params left out), or ``None`` when
    a value is of a kind the template does not cover (zeep then builds it, and raises what it
    raises)."""
    if not params.keys() <= {name for name, _ in _QUOTA_ATTRS}:
        return None
    attrs = []
    for name, kind in _QUOTA_ATTRS:
        value = params.get(name)
        if value is not None:
            text = _attr_value(value, kind)
            if text is None:
                return None
            attrs.append(f' {name}="{text}"')
    header = ""
    if token:
        if type(token) is not str or _NOT_XML.search(token):
            return None
        header = _HEADER.format(token=token.translate(_TEXT_ESCAPES))
    body = f'<ns0:GetQuotaUsageRequest xmlns:ns0="{ADMIN_NS}"{"".join(attrs)}/>'
    return _ENVELOPE.format(header=header, body=body).encode("utf-8")


def build_fast(op: str, token: str | None, params: dict[str, Any]) -> tuple[bytes, str]:
    """:func:`build`, from the template for GetQuotaUsage when it covers the values, through zeep
    otherwise."""
    if op == "GetQuotaUsage":
        body = quota_usage_request(token, params)
        if body is not None:
            return body, QUOTA_SOAP_ACTION
    return build(op, token, params)


def deserialize(server: str, op: str, doc: etree._Element) -> Any:
    """Read a checked reply envelope with zeep (strict=False: any child order, extra elements
    ignored)."""
    if doc.tag != f"{{{SOAP11}}}Envelope":
        raise ZimbraProtocolError(
            server, op, "the server answered in SOAP 1.2 to a SOAP 1.1 request"
        )
    try:
        return wsdl().binding.get(op).process_reply(doc)
    except Exception as err:  # zeep raises assorted types for a body that does not fit the schema
        raise ZimbraProtocolError(
            server, op, f"unreadable {local(body_child(doc).tag)}: {err}"
        ) from err


# --- checking a reply -----------------------------------------------------------------------------

_parsers = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=True
        )
    return parser


def body_child(doc: etree._Element) -> etree._Element:
    """The first element inside the envelope's Body."""
    for child in doc:
        if local(child.tag) == "Body":
            for element in child:
                if isinstance(element.tag, str):
                    return element
    raise ValueError("SOAP envelope without a body element")


def read_envelope(
    server: str,
    op: str,
    status: int,
    content_type: str,
    content: bytes,
    secrets: Iterable[str] = (),
) -> etree._Element:
    """Parse a reply; return the envelope, or raise the fault / protocol error it stands for."""
    what = f"HTTP {status}" + (f" ({content_type.split(';')[0]})" if content_type else "")
    try:
        doc = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError:
        raise ZimbraProtocolError(
            server, op, f"{what}: the reply is not XML ({len(content)} bytes)"
        ) from None
    if doc.tag not in (f"{{{SOAP11}}}Envelope", f"{{{SOAP12}}}Envelope"):
        raise ZimbraProtocolError(
            server, op, f"{what}: the reply is <{local(doc.tag)}>, not a SOAP envelope"
        )
    try:
        child = body_child(doc)
    except ValueError as err:
        raise ZimbraProtocolError(server, op, f"{what}: {err}") from None
    if local(child.tag) == "Fault":
        raise fault(server, op, child, secrets)
    if status != 200:
        raise ZimbraProtocolError(server, op, f"{what}: an error status without a SOAP fault")
    return doc


#: what :class:`QuotaReader` hands on per ``<account>`` row: name, zimbraId, used and limit bytes.
QuotaRow = Callable[[str, str, int, int], None]


class QuotaReader:
    """Reads a GetQuotaUsage reply (a SOAP 1.1 or 1.2 envelope) as it arrives, without ever
    holding the reply or a tree of it: lxml calls back for each element start (a parser target),
    and each ``<account>`` row goes to ``row(name, id, used, limit)`` at once. A reply of a million
    rows thus needs the memory of one network chunk plus what ``row`` keeps.

    Feed the body with :meth:`feed` (any chunk sizes), then :meth:`close` checks the envelope and
    returns ``(more, searchTotal)``. Rows count only inside the envelope's GetQuotaUsageResponse. A
    body that is not XML or is cut short, holds no GetQuotaUsageResponse, or is a SOAP fault raises
    what :func:`read_envelope` raises for it (a fault is kept whole and read by it: faults are
    small).

    Args:
        server: the server's name, for errors.
        row: called once per row, in the reply's order.
        secrets: masked in a fault's message.
    """

    def __init__(self, server: str, row: QuotaRow, secrets: Iterable[str] = ()):
        self.server, self.row, self.secrets = server, row, tuple(secrets)
        self.rows = 0
        self._bytes = 0
        self._target = _QuotaTarget(row)
        self._parser = etree.XMLParser(
            target=self._target, resolve_entities=False, no_network=True, huge_tree=True
        )
        #: the body so far, while it may still be a fault (then read whole at the end)
        self._kept: list[bytes] | None = []

    def feed(self, chunk: bytes) -> None:
        """Parse the next piece of the body and hand on the rows it completes."""
        self._bytes += len(chunk)
        if self._kept is not None:
            self._kept.append(bytes(chunk))
        try:
            self._parser.feed(chunk)
        except etree.XMLSyntaxError:
            raise self._error("the reply is not XML") from None
        except (ValueError, KeyError) as err:
            raise self._not_a_number(err) from None
        if self._kept is not None and self._target.reply is not None:
            self._kept = None  # a GetQuotaUsageResponse: no fault to read later

    def close(self) -> tuple[bool, int]:
        """The end of the body: check the envelope; returns ``(more, searchTotal)``."""
        target = self._target
        try:
            self._parser.close()
        except etree.XMLSyntaxError:
            raise self._error("the reply is not XML") from None
        except (ValueError, KeyError) as err:
            raise self._not_a_number(err) from None
        self.rows = target.rows
        if target.root not in (f"{{{SOAP11}}}Envelope", f"{{{SOAP12}}}Envelope"):
            raise self._error(f"the reply is <{local(target.root)}>, not a SOAP envelope")
        if target.reply is None:
            if self._kept is not None:  # a fault, or another reply: read it whole
                read_envelope(
                    self.server,
                    "GetQuotaUsage",
                    200,
                    "text/xml",
                    b"".join(self._kept),
                    self.secrets,
                )
                raise ZimbraProtocolError(
                    self.server,
                    "GetQuotaUsage",
                    f"unexpected reply element <{local(target.first or 'none')}>",
                )
            raise self._error("SOAP envelope without a GetQuotaUsageResponse")
        try:
            total = int(target.reply.get("searchTotal") or target.rows)
        except ValueError as err:
            raise self._not_a_number(err) from None
        return target.reply.get("more") in ("1", "true"), total

    def _not_a_number(self, err: Exception) -> ZimbraProtocolError:
        what = f"an account row without {err}" if isinstance(err, KeyError) else str(err)
        return ZimbraProtocolError(
            self.server,
            "GetQuotaUsage",
            f"a used/limit/searchTotal value is not a number: {what}",
        )

    def _error(self, what: str) -> ZimbraProtocolError:
        return ZimbraProtocolError(
            self.server, "GetQuotaUsage", f"HTTP 200 (text/xml): {what} ({self._bytes} bytes)"
        )


_BODIES = frozenset({f"{{{SOAP11}}}Body", f"{{{SOAP12}}}Body"})


class _QuotaTarget:
    """The parser target of :class:`QuotaReader`: only element starts are reported (no tree, no
    end or text callbacks). The first element is the root; the first one after a ``Body`` is the
    reply; ``<account>`` rows count once the reply is a GetQuotaUsageResponse."""

    def __init__(self, row: QuotaRow):
        self.row = row
        self.rows = 0
        self.root: str | None = None
        self.first: str | None = None  # the Body's first element
        self.reply: dict[str, str] | None = None  # the GetQuotaUsageResponse's attributes
        self._in_body = False

    def start(self, tag: str, attrib) -> None:
        if tag == QUOTA_ACCOUNT and self.reply is not None:
            self.rows += 1
            self.row(
                attrib.get("name") or "",
                attrib.get("id") or "",
                int(attrib.get("used") or 0),
                int(attrib.get("limit") or 0),
            )
        elif self.root is None:
            self.root = tag
        elif self._in_body:
            if self.first is None:
                self.first = tag
                if tag == QUOTA_RESPONSE:
                    self.reply = dict(attrib)
        elif tag in _BODIES:
            self._in_body = True

    def close(self) -> int:
        return self.rows


def wants_second_factor(doc: etree._Element) -> bool:
    """Whether an AuthResponse envelope says ``twoFactorAuthRequired`` (its token then only serves
    to send the second factor)."""
    flag = body_child(doc).findtext(f"{{{ADMIN_NS}}}twoFactorAuthRequired")
    return (flag or "").strip().lower() in ("true", "1")


def fault(
    server: str, op: str, element: etree._Element, secrets: Iterable[str] = ()
) -> ZimbraError:
    """The exception for a ``<soap:Fault>`` of either SOAP version (code from
    ``Detail/Error/Code``)."""
    code = element.findtext(f".//{{{ZIMBRA_NS}}}Error/{{{ZIMBRA_NS}}}Code")
    if not code:
        code = (
            element.findtext("faultcode")
            or element.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value")
            or "unknown"
        )
    message = (
        element.findtext("faultstring")
        or element.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text")
        or ""
    )
    # Mask before folding white space: a password with a tab or a double space would no longer match
    # afterwards.
    message = " ".join(mask_secrets(message, secrets).split())
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    return zimbra_fault(server, op, code.strip(), message)


def transport_message(err: requests.RequestException, endpoint: str) -> str:
    """One line saying why no reply came and, where it can tell, what to do (never the request
    body)."""
    text = str(err)
    where = endpoint.split("/service/")[0]
    if isinstance(err, DeadlineExceeded):
        return f"{err} (the server is overloaded, or something between trickles its reply)"
    if isinstance(err, requests.exceptions.SSLError):
        return _tls_message(text, where)
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return f"connecting to {where} timed out"
    if isinstance(err, requests.exceptions.ReadTimeout):
        return f"no reply from {where} in time"
    if "refused" in text.lower():
        return f"connection to {where} refused"
    if isinstance(
        err, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
    ):
        if "RemoteDisconnected" in text or "reset" in text.lower() or "aborted" in text.lower():
            closed = f"{where} closed the connection without a reply"
            if where.startswith("http://"):  # what a TLS-only port does with plain HTTP
                https = "https://" + where.removeprefix("http://")
                closed += f" (Zimbra's admin port 7071 speaks HTTPS only: use {https})"
            return closed
        return f"cannot connect to {where}"
    return f"request to {where} failed ({type(err).__name__})"


def _tls_message(text: str, where: str) -> str:
    """What failed in a TLS handshake with ``where``, and the fix."""
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            f"TLS certificate of {where} not trusted: give the server's CA bundle as verify "
            '(verify = "/path/to/ca.pem" in its [[zimbra]] entry), or turn verification off for '
            "that server only (verify = false)"
        )
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return (
            f"TLS handshake with {where} failed: that port answers in plain HTTP, not TLS "
            "(check the port in the URL: Zimbra's admin port is 7071)"
        )
    return f"TLS handshake with {where} failed; check the URL and the server's TLS settings"
