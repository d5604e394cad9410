"""The demo's addon page: the bridge's own admin page as WHMCS shows it, written as ``addon.html``
(English) and ``addon-pl.html``, and served live with ``puq-bridge demo --serve``.

The demo plays WHMCS's part the way the generated ``modules/addons/NAME/NAME.php`` does: it sends
the page's own parameters, signed, to the adapter's ``/whmcs/addon/Output`` and ``Sidebar`` and
frames the answers like WHMCS's admin area (:meth:`~puq_bridge.admin.render.AdminRenderer.frame`).
Live, :func:`addon_app` answers ``/en/addonmodules.php`` and ``/pl/addonmodules.php`` (the admin's
language is the path's), checks its own form token on "Sync now" and "Test now" as WHMCS would, and
sends ``clientsservices.php`` links to the service's client-area page.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from puq_bridge.admin.query import PAGE_PARAMS
from puq_bridge.admin.render import AdminRenderer
from puq_bridge.demo.pages import page_name

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.demo.run import DemoEnvironment

log = logging.getLogger(__name__)

MODULE = "puqbridge"
MODULE_LINK = f"addonmodules.php?module={MODULE}"
#: the static pages, per language.
ADDON_PAGES = {"en": "addon.html", "pl": "addon-pl.html"}
#: a domain left on the first Zimbra by a service deleted outside WHMCS: the page lists it under
#: "domains no service points to".
LEFTOVER_DOMAIN = "stary-klient.pl"


class AddonPage:
    """What WHMCS's admin area does for the addon module, for the demo's environment: its own
    signed connection to the adapter (one page at a time), apart from the server module's.

    Args:
        env: the running demo.
        token: the admin session's form token (random per run).
    """

    def __init__(self, env: "DemoEnvironment", token: str | None = None):
        from puq_bridge import __version__
        from puq_bridge.demo.run import Forwarder

        self.env, self.token, self.version = env, token or secrets.token_hex(20), __version__
        self.renderer = AdminRenderer()
        self.forwarder = Forwarder(env.forwarder.url, env.adapter_secret)
        self._lock = threading.Lock()

    def params(self, lang: str, query: dict | None = None, action: dict | None = None) -> dict:
        """The params the generated PHP sends: only the page's own GET parameters."""
        params: dict[str, Any] = {
            "module": MODULE,
            "modulelink": MODULE_LINK,
            "lang": lang,
            "version": self.version,
            "query": {k: str(v)[:64] for k, v in (query or {}).items() if k in PAGE_PARAMS},
            "token": self.token,
            "admin_id": 1,
        }
        if action is not None:
            params["action"] = action
        return params

    def page(self, lang: str, query: dict | None = None, action: dict | None = None) -> str:
        """The whole admin page: Output (running ``action`` first) and Sidebar, framed."""
        with self._lock:
            output = self.forwarder.call("addon/Output", self.params(lang, query, action))
            sidebar = self.forwarder.call("addon/Sidebar", self.params(lang, query))
        return self.renderer.frame(
            output["html"], sidebar["html"], lang=lang, brand="WHMCS (puq-bridge demo)"
        )

    def act(self, lang: str, action: dict) -> None:
        """Send an action as the admin's form would (the page it answers is not needed)."""
        with self._lock:
            self.forwarder.call("addon/Output", self.params(lang, action=action))

    def close(self) -> None:
        """Close the connection to the adapter."""
        self.forwarder.close()

    def settle(self, lang: str = "en", timeout: float = 20.0) -> str:
        """The page once no job runs and every server's domains are read."""
        deadline = time.monotonic() + timeout
        while True:
            html = self.page(lang)
            if 'data-puq-busy="1"' not in html or time.monotonic() > deadline:
                return html
            time.sleep(0.05)


def write_addon_pages(env: "DemoEnvironment", out_dir: Path) -> list[Path]:
    """Test every server now (as an admin would with "Test now"), wait for the outcome, and
    write the addon page in English and Polish; returns the paths."""
    first = env.sample.servers[0].key
    env.zimbra_sims[first].add_domain(LEFTOVER_DOMAIN)
    page = AddonPage(env)
    try:
        for server in env.sample.servers:
            page.act("en", {"name": "test", "server": server.key, "token_ok": True})
        page.settle()
        paths = []
        for lang, name in ADDON_PAGES.items():
            path = out_dir / name
            path.write_text(page.page(lang), encoding="utf-8")
            paths.append(path)
    finally:
        page.close()
    log.info("wrote the addon page to %s", ", ".join(str(p) for p in paths))
    return paths


def addon_app(env: "DemoEnvironment", token: str | None = None):
    """A WSGI app standing in for WHMCS's admin area: ``/<lang>/addonmodules.php`` (GET, and
    POST with the form token) and ``/<lang>/clientsservices.php`` (to the client-area page)."""
    from werkzeug.wrappers import Request, Response

    page = AddonPage(env, token)

    def app(environ, start_response):
        request = Request(environ)
        parts = request.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ADDON_PAGES:
            return Response("not found\n", 404, mimetype="text/plain")(environ, start_response)
        lang, name = parts
        if name == "clientsservices.php" and request.args.get("id", "").isdigit():
            target = "/" + page_name(int(request.args["id"]), lang)
            return Response(status=302, headers={"Location": target})(environ, start_response)
        if name != "addonmodules.php" or request.args.get("module") != MODULE:
            return Response("not found\n", 404, mimetype="text/plain")(environ, start_response)
        action = None
        if request.method == "POST" and request.form.get("puq_action"):
            given = request.form.get("token", "")
            action = {
                "name": request.form.get("puq_action", "")[:16],
                "server": request.form.get("puq_server", "")[:64],
                "token_ok": secrets.compare_digest(given, page.token),
            }
        html = page.page(lang, dict(request.args), action)
        return Response(html, mimetype="text/html")(environ, start_response)

    return app
