"""The demo's output: one standalone client-area page per service and language, an ``index.html``,
and a tiny loopback web server for them (``puq-bridge demo --serve``).

The pages come from :meth:`puq_bridge.clientarea.render.Renderer.page` with the same data the
``render`` command uses (WHMCS's service and client, the store's snapshot and history). They
reference nothing outside themselves.

Served (``--serve``), the pages carry the sign-on buttons, and the page server plays WHMCS's
``clientarea.php`` for them: the single sign-on link and the sign-on forms go, through the demo's
forwarder and the adapter, to the Zimbra simulators, whose ``/service/preauth`` lands the browser
in their webmail or admin console pages.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from puq_bridge.simulators.server import BackgroundServer

if TYPE_CHECKING:
    from puq_bridge.demo.run import DemoEnvironment

log = logging.getLogger(__name__)

LANG_NAMES = {"pl": "Polski", "en": "English"}


def page_name(service_id: int, lang: str) -> str:
    """File name of a service's page in one language."""
    return f"service-{service_id}-{lang}.html"


def write_pages(
    env: "DemoEnvironment",
    out_dir: Path,
    *,
    now: dt.datetime,
    langs=("pl", "en"),
    signon: bool = False,
) -> list[Path]:
    """Render every service of the demo in every language into ``out_dir``, then ``index.html``.

    ``signon``: the pages get the sign-on buttons (only when :func:`serve_pages` answers them).
    """
    from puq_bridge.clientarea.facts import facts_from_service
    from puq_bridge.clientarea.options import PageOptions
    from puq_bridge.clientarea.render import Renderer

    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = Renderer()
    whmcs = env.whmcs()
    pages, rows = [], []
    for service_id, sample in env.by_service_id.items():
        service = whmcs.service(service_id)
        client = whmcs.client_details(service.client_id)
        entry = env.config.zimbra_for(service.server_id, service.server_hostname)
        facts = facts_from_service(service, client, entry)
        snapshot = env.store.latest(service_id)
        history = env.store.history(service_id, now=now)
        product = sample.product
        options = PageOptions.for_service(
            status=service.status if signon else "",
            tenancy=product.tenancy,
            mailbox_signon=True,
            max_mailboxes=product.max_mailboxes,
            token="",
        )
        for lang in langs:
            path = out_dir / page_name(service_id, lang)
            page = renderer.page(facts, snapshot, history, lang=lang, now=now, options=options)
            path.write_text(page, encoding="utf-8")
            pages.append(path)
        rows.append(
            (service, client, sample.server.hostname, len(snapshot.mailboxes) if snapshot else 0)
        )
    (out_dir / "index.html").write_text(index_html(rows, langs, now), encoding="utf-8")
    log.info("wrote %d pages to %s", len(pages), out_dir)
    return pages


_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:16px;
color:#1d2733;background:#f4f6f8}
main{max-width:1100px;margin:0 auto;background:#fff;border-radius:8px;padding:16px 20px;
box-shadow:0 1px 3px #0002}
h1{font-size:1.4em;margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e3e7eb;vertical-align:top}
th{font-size:.85em;color:#5b6b7b;font-weight:600}
.status{font-size:.8em;padding:1px 6px;border-radius:9px;background:#e6f4ea;color:#17652f}
.status.Suspended{background:#fdecea;color:#8a1f11}
a{color:#0b62c4}
.langs a{margin-right:.6em;white-space:nowrap}
small{color:#5b6b7b}
@media (max-width:640px){thead{display:none}
tr{display:block;padding:8px 0;border-bottom:1px solid #e3e7eb}
td{display:block;border:0;padding:2px 0}
td[data-label]::before{content:attr(data-label) ": ";color:#5b6b7b}}
"""


def index_html(rows, langs, now: dt.datetime) -> str:
    """The index page: every service with its client, server, status, mailbox count and a link per
    language."""
    e = html.escape
    body = []
    for service, client, hostname, mailboxes in rows:
        links = " ".join(
            f'<a href="{page_name(service.id, lang)}" '
            f'hreflang="{lang}">{LANG_NAMES.get(lang, lang)}'
            f"</a>"
            for lang in langs
        )
        who = client.companyname or f"{client.firstname} {client.lastname}"
        body.append(
            f"<tr><td>{e(who)}<br><small>{e(client.firstname)} {e(client.lastname)}, "
            f"{e(client.language)}</small>"
            f"</td><td>{e(service.domain)}<br><small>{e(service.product_name)}</small></td>"
            f'<td data-label="Zimbra server">{e(hostname)}</td>'
            f'<td><span class="status {e(service.status)}">{e(service.status)}</span></td>'
            f'<td data-label="Mailboxes">{mailboxes}</td><td class="langs">{links}</td></tr>'
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>puq-bridge demo</title><style>{_STYLE}</style></head><body><main>"
        "<h1>puq-bridge demo: client-area pages</h1>"
        "<p>Each service's page shows the two tabs a client sees in WHMCS, "
        "<em>Server information</em> and <em>Resource usage</em>, "
        "from data the bridge provisioned and synced against the built-in simulators.</p>"
        '<p>The bridge\'s own admin page inside WHMCS (the addon module): <a href="addon.html" '
        'hreflang="en">English</a> <a href="addon-pl.html" hreflang="pl">Polski</a>; with '
        "<code>--serve</code>, live at <a href=\"en/addonmodules.php?module=puqbridge\">"
        "en/addonmodules.php</a> (Sync now, Test now).</p>"
        "<table><thead><tr><th>Client</th><th>Domain</th><th>Zimbra server</th>"
        "<th>Status</th><th>Mailboxes</th>"
        f"<th>Pages</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p><small>Generated {e(now.strftime('%Y-%m-%d %H:%M UTC'))} "
        "by <code>puq-bridge demo</code>.</small></p>"
        "</main></body></html>\n"
    )


def pages_app(directory: Path, env: "DemoEnvironment | None" = None, addon=None):
    """A WSGI app serving the files of ``directory`` (``/`` is ``index.html``), with ``env``
    WHMCS's ``clientarea.php`` for the sign-on buttons and the self-service forms, and the live
    addon page's app (``addon``) under ``/en/`` and ``/pl/``; nothing else."""
    from werkzeug.middleware.shared_data import SharedDataMiddleware
    from werkzeug.wrappers import Request, Response

    signon = _SignOnDesk(env) if env is not None else None
    details = _product_details(env)

    def fallback(environ, start_response):
        request = Request(environ)
        if addon is not None and request.path.startswith(("/en/", "/pl/")):
            return addon(environ, start_response)
        if request.path == "/":
            response = Response(status=302, headers={"Location": "/index.html"})
        elif details is not None and details.handles(request):
            response = details.answer(request)
        elif request.path == "/clientarea.php" and signon is not None:
            response = signon.answer(request)
        else:
            response = Response("not found\n", status=404, mimetype="text/plain")
        return response(environ, start_response)

    return SharedDataMiddleware(fallback, {"/": str(directory)}, cache=False)


def _product_details(env):
    """WHMCS's productdetails page with the self-service forms (``None`` without ``env``)."""
    if env is None:
        return None
    from puq_bridge.demo.productdetails import ProductDetailsDesk

    # its forwarder folder goes when the process ends (TemporaryDirectory's finaliser)
    return ProductDetailsDesk(env)


def serve_pages(
    directory: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    env: "DemoEnvironment | None" = None,
    addon=None,
) -> BackgroundServer:
    """Serve ``directory`` on loopback in a background thread (with ``env``: the sign-ons and the
    self-service forms too; with ``addon``: the live addon page); returns the started server."""
    return BackgroundServer(pages_app(directory, env, addon), host=host, port=port).start()


class _SignOnDesk:
    """What WHMCS's ``clientarea.php`` does with the sign-on buttons of a service page: the module
    function through the forwarder, then the browser sent on (or WHMCS's error box)."""

    FORMS = ("MailboxSignOn", "AdminPanelSignOn")

    def __init__(self, env: "DemoEnvironment"):
        self.env = env
        self._lock = threading.Lock()  # one forwarder session

    def answer(self, request):
        from werkzeug.wrappers import Response

        function, params = self._call_of(request)
        if function is None:
            return Response("not found\n", status=404, mimetype="text/plain")
        with self._lock:
            result: Any = self.env.forwarder.call(function, params)
        if isinstance(result, dict) and result.get("success"):
            url = str(result.get("redirectTo", ""))
            if url.startswith(("http://", "https://")):
                return Response(status=303, headers={"Location": url, "Cache-Control": "no-store"})
        message = result.get("errorMsg", "") if isinstance(result, dict) else str(result)
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Client Area</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
            f'<div class="alert alert-danger" data-puq="signon-error">{html.escape(message)}</div>'
            "</body></html>"
        )
        return Response(body, status=400, mimetype="text/html")

    def _call_of(self, request) -> tuple[str | None, dict]:
        try:
            service_id = int(request.values.get("id", ""))
        except ValueError:
            return None, {}
        if service_id not in self.env.by_service_id:
            return None, {}
        params = self.env.module_params(service_id)
        if request.method == "GET" and request.args.get("dosinglesignon") == "1":
            return "ServiceSingleSignOn", params
        function = request.form.get("a", "")
        if request.method == "POST" and request.form.get("modop") == "custom":
            if function in self.FORMS:
                if function == "MailboxSignOn":
                    params["signon_mailbox"] = request.form.get("mailbox", "")[:320]
                return function, params
        return None, {}
