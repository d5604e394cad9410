"""Drawing the addon page: the Jinja environment over ``templates/addon/``, the admin's language,
and the helpers the templates use (dates, sizes, durations, links).

Templates get plain data (:mod:`puq_bridge.admin.view`) and autoescape everything. The texts come
from ``addon/i18n/<lang>.json`` layered over English, with the number and date rules of the client
area's catalogs (``i18n/<lang>.json``), so both pages format alike. An operator's ``[render]
templates_dir`` comes first in the loader, as for the client area.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from jinja2 import TemplateError, TemplateNotFound
from markupsafe import Markup

from puq_bridge.admin.view import NEARLY_FULL, WARN, AdminView
from puq_bridge.clientarea.i18n import Catalog
from puq_bridge.clientarea.templating import (
    FALLBACK_LANG,
    html_environment,
    inline_stylesheet,
    json_document,
    template_error,
)
from puq_bridge.errors import ConfigError
from puq_bridge.units import GB
from puq_bridge.usage.store_overview import SampleRow

#: what a service link in WHMCS's admin area looks like (relative to addonmodules.php).
SERVICE_LINK = "clientsservices.php?userid={client}&id={service}"
SERVICE_LINK_NO_CLIENT = "clientsservices.php?id={service}"


class AdminRenderer:
    """Renders the addon page's output, its sidebar, and (for the demo) a page framing both.

    Args:
        templates_dir: an operator's folder searched before the shipped templates.
        default_lang: the language when the forwarder did not say the admin's.
    """

    def __init__(self, templates_dir: str | os.PathLike | None = None, *, default_lang="en"):
        self.default_lang = default_lang if default_lang in ("en", "pl") else FALLBACK_LANG
        self.env = html_environment(templates_dir)
        self._catalogs: dict[str, Catalog] = {}
        self._styles: dict[str, Markup] = {}

    @classmethod
    def from_config(cls, render_config: Any) -> "AdminRenderer":
        """A renderer for ``[render]`` (its ``templates_dir`` and ``default_lang``)."""
        return cls(render_config.templates_dir, default_lang=render_config.default_lang)

    # --- languages -------------------------------------------------------------------------------

    def catalog(self, lang: str | None) -> Catalog:
        """The page's texts in ``lang`` (``en`` or ``pl``; else the default) over English."""
        code = lang if lang in ("en", "pl") else self.default_lang
        if code not in self._catalogs:
            langs = [FALLBACK_LANG] + ([code] if code != FALLBACK_LANG else [])
            documents = []
            for one in langs:
                documents.append({"_format": self._document(f"i18n/{one}.json").get("_format", {})})
                documents.append(self._document(f"addon/i18n/{one}.json"))
            self._catalogs[code] = Catalog.from_documents(code, *documents)
        return self._catalogs[code]

    def _document(self, name: str) -> dict[str, Any]:
        try:
            return json_document(self.env, name)
        except TemplateNotFound:
            raise ConfigError(name, None, "translation catalog not found") from None

    # --- rendering -------------------------------------------------------------------------------

    def output(self, view: AdminView) -> str:
        """The page WHMCS prints in its admin area (``NAME_output``)."""
        return self._render("addon/output.html", view)

    def sidebar(self, view: AdminView) -> str:
        """The short status WHMCS shows beside the page (``NAME_sidebar``)."""
        return self._render("addon/sidebar.html", view)

    def frame(self, output: str, sidebar: str, *, lang: str | None, brand: str = "") -> str:
        """A standalone page framing ``output`` and ``sidebar`` in a WHMCS-like admin area (the
        demo's ``addon.html``); both are this renderer's own escaped markup."""
        fmt = self.catalog(lang)
        context = {
            "lang": fmt.code,
            "t": fmt.text,
            "brand": brand,
            "output": Markup(output),
            "sidebar": Markup(sidebar),
            "admin_css": self._style("addon/admin.css"),
        }
        return self._template("addon/frame.html").render(context)

    def _render(self, name: str, view: AdminView) -> str:
        try:
            return self._template(name).render(self._context(view))
        except TemplateError as err:
            raise template_error(name, err) from err

    def _template(self, name: str):
        try:
            return self.env.get_template(name)
        except TemplateNotFound:
            raise
        except TemplateError as err:
            raise template_error(name, err) from err

    def _style(self, name: str) -> Markup:
        if name not in self._styles:
            self._styles[name] = inline_stylesheet(self.env, name)
        return self._styles[name]

    def _context(self, view: AdminView) -> dict[str, Any]:
        fmt = self.catalog(view.request.lang)
        request = view.request

        def link(anchor: str = "", **changes: Any) -> str:
            return request.query.link(request.modulelink, anchor, **changes)

        return {
            "view": view,
            "request": request,
            "lang": fmt.code,
            "t": fmt.text,
            "fmt": fmt,
            "link": link,
            "when": fmt.datetime,
            "ago": lambda moment: _ago(fmt, view.now, moment),
            "duration": lambda seconds: _duration(fmt, seconds),
            "size": lambda size: _size(fmt, size),
            "share": fmt.percent,
            "level": _level,
            "service_link": _service_link,
            "addon_css": self._style("addon/addon.css"),
            "nearly_full": NEARLY_FULL,
        }


def _level(percent: float | None) -> str:
    """``danger`` from :data:`NEARLY_FULL`, ``warning`` from :data:`WARN`, else ``success``."""
    if percent is None:
        return "default"
    return "danger" if percent >= NEARLY_FULL else "warning" if percent >= WARN else "success"


def _size(fmt: Catalog, size: int | None) -> str:
    """A size in GB from 1 GB up, else in MB (an admin wants to tell 3 MB from 90 MB)."""
    if size is None:
        return fmt.formats["missing"]
    return fmt.gb(size) if size >= GB else fmt.mb(size)


def _service_link(sample: SampleRow) -> str:
    """The service's page in WHMCS's admin area."""
    if sample.client_id:
        return SERVICE_LINK.format(client=sample.client_id, service=sample.service_id)
    return SERVICE_LINK_NO_CLIENT.format(service=sample.service_id)


def _ago(fmt: Catalog, now: dt.datetime, moment: dt.datetime | None) -> str:
    """How long ago ``moment`` was, roughly (``5 min ago``)."""
    if moment is None:
        return fmt.formats["missing"]
    seconds = max((now - moment).total_seconds(), 0)
    if seconds < 60:
        return fmt.text("time.just_now")
    if seconds < 3600:
        return fmt.text("time.minutes_ago", n=int(seconds // 60))
    if seconds < 172800:
        return fmt.text("time.hours_ago", n=int(seconds // 3600))
    return fmt.text("time.days_ago", n=int(seconds // 86400))


def _duration(fmt: Catalog, seconds: float | None) -> str:
    """A run's length: ``0.4 s``, ``2 min 5 s``, ``1 h 3 min``."""
    if seconds is None:
        return fmt.formats["missing"]
    if seconds < 60:
        return fmt.unit(fmt.number(seconds, 1), "s")
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
