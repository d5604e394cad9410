"""The wire format of the fake Zimbra: reading requests, writing envelopes and faults in SOAP 1.1
and 1.2.

Shapes follow the real server (see the project's Zimbra reference): replies in the request's SOAP
version, ``Content-Type: text/xml; charset=utf-8``, faults with HTTP 500 and the Zimbra code in
``Detail/Error/Code``.
"""

from __future__ import annotations

import random
import uuid
from typing import Iterable
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
ZIMBRA_NS = "urn:zimbra"
ADMIN_NS = "urn:zimbraAdmin"
CONTENT_TYPE = "text/xml; charset=utf-8"
SECRET_PARAMS = frozenset({"password", "newPassword", "authToken", "preauth", "twoFactorCode"})


class SimFault(Exception):
    """A Zimbra fault to answer with: code, message, and whether the client (Sender) or server is to
    blame."""

    def __init__(self, code: str, message: str, sender: bool = True):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.sender = code, message, sender


def local(tag) -> str:
    """Local name of an lxml tag."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def param(element, name: str) -> str | None:
    """A request parameter given as an attribute or as a child element of the same name (both are
    accepted)."""
    value = element.get(name)
    if value is not None:
        return value
    for child in element:
        if local(child.tag) == name:
            return (child.text or "").strip()
    return None


def selector(element, name: str) -> tuple[str, str] | None:
    """``<account by="name">x</account>`` → ``("name", "x")``."""
    for child in element:
        if local(child.tag) == name:
            return child.get("by", "name"), (child.text or "").strip()
    return None


def attr_items(element) -> list[tuple[str, str]]:
    """The request's ``<a n="…">value</a>`` children in order."""
    return [(child.get("n", ""), child.text or "") for child in element if local(child.tag) == "a"]


def flag(value: str | None, default: bool = False) -> bool:
    """A Zimbra boolean parameter: ``1|0|true|false``."""
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true")


def record(op: str, element) -> dict:
    """What the simulator remembers of a request: op and parameters, secrets removed."""
    attrs: dict = {k: v for k, v in element.attrib.items() if k not in SECRET_PARAMS}
    for child in element:
        name = local(child.tag)
        if name == "a":
            attrs.setdefault("a", {})[child.get("n", "")] = child.text or ""
        elif name and name not in SECRET_PARAMS and len(child) == 0:
            attrs[name] = (child.text or "").strip()
    return {"op": op, "attrs": attrs}


def E(tag: str, attrib: dict | None = None, *children, text: str | None = None):
    """An element in ``urn:zimbraAdmin`` (default namespace)."""
    element = etree.Element(f"{{{ADMIN_NS}}}{tag}", nsmap={None: ADMIN_NS})
    for key, value in (attrib or {}).items():
        if value is not None:
            element.set(key, str(value))
    element.extend(children)
    element.text = text
    return element


def a_elements(attrs: dict, only: Iterable[str] | None = None) -> list:
    """``<a n=…>`` children for a name → value (or list of values) mapping, optionally only some
    names."""
    wanted = set(only) if only else None
    out = []
    for name, value in attrs.items():
        if wanted is not None and name not in wanted:
            continue
        for one in value if isinstance(value, list) else [value]:
            out.append(E("a", {"n": name}, text=str(one)))
    return out


def envelope(soap_ns: str, body: bytes, change: int | None = None) -> bytes:
    """A reply envelope in ``soap_ns`` around ``body`` (serialized XML), with the ``<context>``
    header."""
    header = (
        f'<context xmlns="{ZIMBRA_NS}"><change token="{change}"/></context>'
        if change
        else f'<context xmlns="{ZIMBRA_NS}"/>'
    )
    return (
        f'<soap:Envelope xmlns:soap="{soap_ns}"><soap:Header>{header}</soap:Header>'
        "<soap:Body>".encode()
        + body
        + b"</soap:Body></soap:Envelope>"
    )


def fault_body(soap_ns: str, fault: SimFault, trace: str) -> bytes:
    """The ``<soap:Fault>`` of a Zimbra error, in the shape of the given SOAP version."""
    error = (
        f'<Error xmlns="{ZIMBRA_NS}"><Code>{escape(fault.code)}</Code>'
        f"<Trace>{escape(trace)}</Trace></Error>"
    )
    if soap_ns == SOAP12:
        value = "soap:Sender" if fault.sender else "soap:Receiver"
        return (
            f"<soap:Fault><soap:Code><soap:Value>{value}</soap:Value></soap:Code><soap:Reason>"
            f"<soap:Text>{escape(fault.message)}</soap:Text></soap:Reason><soap:Detail>"
            f"{error}</soap:Detail></soap:Fault>"
        ).encode()
    value = "soap:Client" if fault.sender else "soap:Server"
    return (
        f"<soap:Fault><faultcode>{value}</faultcode><faultstring>"
        f"{escape(fault.message)}</faultstring>"
        f"<detail>{error}</detail></soap:Fault>"
    ).encode()


def quota_rows_xml(rows: Iterable[tuple[str, str, int, int]], more: bool, total: int) -> bytes:
    """A GetQuotaUsageResponse from ``(name, id, used, limit)`` rows, built by string joins (tens of
    thousands)."""
    lines = [
        f'<account limit="{limit}" id="{id}" name={quoteattr(name)} used="{used}"/>'
        for name, id, used, limit in rows
    ]
    head = f'<GetQuotaUsageResponse xmlns="{ADMIN_NS}" more="{int(more)}" searchTotal="{total}">'
    return (head + "".join(lines) + "</GetQuotaUsageResponse>").encode()


LIMITS = (0, 524_288_000, 1_073_741_824, 2_147_483_648, 5_368_709_120, 10_737_418_240)


def sample_rows(
    count: int, *, domain: str = "example.com", seed: int = 0
) -> list[tuple[str, str, int, int]]:
    """``count`` deterministic mailboxes ``(name, id, used, limit)``: mixed quotas including
    unlimited (0)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        limit = LIMITS[rng.randrange(len(LIMITS))]
        used = rng.randrange(limit) if limit else rng.randrange(3 * 1_073_741_824)
        rows.append(
            (
                f"user{i:05d}@{domain}",
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                used,
                limit,
            )
        )
    return rows


def quota_usage_envelope(
    count: int, *, soap_ns: str = SOAP11, domain: str = "example.com", seed: int = 0
) -> bytes:
    """A whole GetQuotaUsage reply envelope of ``count`` mailboxes (for benchmarks and parser
    tests)."""
    rows = sorted(sample_rows(count, domain=domain, seed=seed), key=lambda r: r[2], reverse=True)
    return envelope(soap_ns, quota_rows_xml(rows, False, count), change=1)
