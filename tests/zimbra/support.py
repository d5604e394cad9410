"""Helpers of the Zimbra tests: a wiretap between a client and a FakeZimbra."""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree


@dataclass
class Exchange:
    """One request a Wiretap passed on, and the reply it passed back."""

    path: str
    soap_action: str | None
    content_type: str | None
    body: bytes
    reply: bytes


class Wiretap:
    """Stands in front of a FakeZimbra (``served(Wiretap(sim))``) and keeps every exchange, as the
    wire shows it."""

    def __init__(self, sim):
        self.sim = sim
        self.exchanges: list[Exchange] = []

    def wsgi_app(self, environ, start_response):
        """Pass the request on to the simulator and keep both bodies."""
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        reply = b"".join(self.sim.wsgi_app(environ, start_response))
        self.exchanges.append(
            Exchange(
                environ["PATH_INFO"],
                environ.get("HTTP_SOAPACTION"),
                environ.get("CONTENT_TYPE"),
                body,
                reply,
            )
        )
        return [reply]

    def tokens(self) -> list[str]:
        """Every auth token the server handed out (the ``authToken`` of its AuthResponses), oldest
        first."""
        found = []
        for exchange in self.exchanges:
            try:
                doc = etree.fromstring(exchange.reply)
            except etree.XMLSyntaxError:
                continue
            found += [el.text for el in doc.iter() if etree.QName(el).localname == "authToken"]
        return found
