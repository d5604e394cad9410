"""Rendering the client-area tabs: translations and the :class:`Renderer` (the Jinja set-up is
:mod:`puq_bridge.clientarea.templating`, shared with the addon page).

Templates get plain data (:mod:`puq_bridge.clientarea.view` views, a
:class:`~puq_bridge.clientarea.i18n.Catalog`, the chart geometry) and autoescape everything. An
operator's ``[render] templates_dir`` comes first in the loader, so any template, the stylesheets,
or a translation catalog (``i18n/<lang>.json``) can be replaced without forking.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from jinja2 import TemplateError, TemplateNotFound
from markupsafe import Markup, escape

from puq_bridge.clientarea.chart import build_chart
from puq_bridge.clientarea.facts import ServiceFacts
from puq_bridge.clientarea.i18n import Catalog
from puq_bridge.clientarea.options import PageOptions
from puq_bridge.clientarea.templating import (
    FALLBACK_LANG,
    html_environment,
    inline_stylesheet,
    json_document,
    template_error,
)
from puq_bridge.clientarea.view import build_view, used_of

if TYPE_CHECKING:  # pragma: no cover
    from puq_bridge.usage.records import DailyPoint, Snapshot

log = logging.getLogger(__name__)

#: WHMCS client language names (``tblclients.language``) -> our catalogs; anything else is English.
WHMCS_LANGUAGES = {"polish": "pl"}
#: tab name -> template file.
TABS = {"server-info": "server_info.html", "resource-usage": "resource_usage.html"}
#: The mailbox table's page sizes (its script also offers "all"); it starts with the first.
PAGE_SIZES = (25, 50, 100)


class Renderer:
    """Renders the two client-area tabs, one tab, or a standalone page.

    Args:
        templates_dir: an operator's folder searched before the shipped templates.
        stale_after_hours: usage older than this gets a notice.
        default_lang: the language for clients whose WHMCS language is empty (the system default).
        bars_limit: how many of the most used mailboxes get a bar on the resource-usage tab.
    """

    def __init__(
        self,
        templates_dir: str | os.PathLike | None = None,
        *,
        stale_after_hours: float = 26.0,
        default_lang: str = FALLBACK_LANG,
        bars_limit: int = 10,
    ):
        self.templates_dir = Path(templates_dir) if templates_dir else None
        self.stale_after_hours = float(stale_after_hours)
        self.default_lang = default_lang
        self.bars_limit = bars_limit
        self.env = html_environment(self.templates_dir)
        self._catalogs: dict[str, Catalog] = {}
        self._stylesheets: dict[str, Markup] = {}

    @classmethod
    def from_config(cls, render_config: Any) -> "Renderer":
        """A renderer for the config's ``[render]`` section
        (:class:`~puq_bridge.config.RenderConfig`)."""
        return cls(
            render_config.templates_dir,
            stale_after_hours=render_config.stale_after_hours,
            default_lang=render_config.default_lang,
        )

    # --- languages --------------------------------------------------------------------------------

    def language_for(self, whmcs_language: str | None) -> str:
        """Our language code for a WHMCS client language: ``polish`` -> ``pl``, empty -> default,
        else ``en``."""
        name = (whmcs_language or "").strip().lower()
        if not name:
            return self.default_lang
        return WHMCS_LANGUAGES.get(name, FALLBACK_LANG)

    def catalog(self, lang: str) -> Catalog:
        """The catalog of ``lang`` over English (cached).

        Raises:
            ValueError: no ``i18n/<lang>.json`` exists.
            ConfigError: a catalog file is not a JSON object.
        """
        if lang not in self._catalogs:
            documents = [self._catalog_document(FALLBACK_LANG)]
            if lang != FALLBACK_LANG:
                documents.append(self._catalog_document(lang))
            self._catalogs[lang] = Catalog.from_documents(lang, *documents)
        return self._catalogs[lang]

    def _catalog_document(self, lang: str) -> dict[str, Any]:
        name = f"i18n/{lang}.json"
        try:
            return json_document(self.env, name)
        except TemplateNotFound:
            raise ValueError(f"no translations for language {lang!r} ({name} not found)") from None

    # --- rendering --------------------------------------------------------------------------------

    def client_area(
        self,
        facts: ServiceFacts,
        snapshot: "Snapshot | None",
        history: Sequence["DailyPoint"] = (),
        *,
        lang: str | None = None,
        now: dt.datetime | None = None,
        options: PageOptions | None = None,
    ) -> str:
        """Both tabs as WHMCS ClientArea HTML (Twenty-One markup, readable in Six); ``options``:
        the sign-on buttons and the plan's mailbox limit (none by default)."""
        options = options or PageOptions()
        return self._render(
            "client_area.html", facts, snapshot, history, lang, now, options=options
        )

    def tab(
        self,
        name: str,
        facts: ServiceFacts,
        snapshot: "Snapshot | None",
        history: Sequence["DailyPoint"] = (),
        *,
        lang: str | None = None,
        now: dt.datetime | None = None,
        options: PageOptions | None = None,
    ) -> str:
        """One tab's HTML: ``server-info`` or ``resource-usage``."""
        if name not in TABS:
            raise ValueError(f"unknown tab {name!r} (expected one of: {', '.join(TABS)})")
        return self._render(
            "tab.html",
            facts,
            snapshot,
            history,
            lang,
            now,
            tab_name=name,
            tab_template=TABS[name],
            options=options or PageOptions(),
        )

    def page(
        self,
        facts: ServiceFacts,
        snapshot: "Snapshot | None",
        history: Sequence["DailyPoint"] = (),
        *,
        lang: str | None = None,
        now: dt.datetime | None = None,
        brand: str | None = None,
        options: PageOptions | None = None,
    ) -> str:
        """A standalone HTML page with both tabs, our stylesheet and a tab-switching script (for the
        demo)."""
        return self._render(
            "page.html",
            facts,
            snapshot,
            history,
            lang,
            now,
            brand=brand,
            page_css=self._stylesheet("page.css"),
            options=options or PageOptions(token=""),
        )

    def _render(
        self,
        template: str,
        facts: ServiceFacts,
        snapshot: "Snapshot | None",
        history: Sequence["DailyPoint"],
        lang: str | None,
        now: dt.datetime | None,
        **extra: Any,
    ) -> str:
        context = self._context(facts, snapshot, history, lang, now)
        context.update(extra)
        try:
            return self._template(template).render(context)
        except TemplateError as err:
            raise template_error(template, err) from err

    def _context(
        self,
        facts: ServiceFacts,
        snapshot: "Snapshot | None",
        history: Sequence["DailyPoint"],
        lang: str | None,
        now: dt.datetime | None,
    ) -> dict[str, Any]:
        code = lang or self.language_for(facts.language)
        fmt = self.catalog(code)
        view = build_view(
            facts,
            snapshot,
            history,
            now=now,
            stale_after_hours=self.stale_after_hours,
            fmt=fmt,
            bars_limit=self.bars_limit,
        )
        return {
            "lang": code,
            "t": fmt.text,
            "fmt": fmt,
            "view": view,
            "facts": view.facts,
            "usage": view.usage,
            "ids": view.ids,
            "chart": build_chart(view.usage.history, fmt),
            "stale_hours": fmt.number(
                self.stale_after_hours, 0 if self.stale_after_hours.is_integer() else 1
            ),
            "cycle_label": lambda cycle: _choice(fmt, "cycle", cycle),
            "status_label": lambda status: _choice(fmt, "status", status),
            "space": lambda size: _space(fmt, size),
            "used_of": lambda used, total: used_of(fmt, used, total),
            "link": _safe_link,
            "breakable": breakable,
            "page_sizes": PAGE_SIZES,
            "client_area_css": self._stylesheet("client_area.css"),
        }

    def _template(self, name: str):
        try:
            return self.env.get_template(name)
        except TemplateNotFound:
            raise
        except TemplateError as err:
            raise template_error(name, err) from err

    def _stylesheet(self, name: str) -> Markup:
        """A stylesheet's text for an inline ``<style>`` (read once)."""
        if name not in self._stylesheets:
            self._stylesheets[name] = inline_stylesheet(self.env, name)
        return self._stylesheets[name]


def _choice(fmt: Catalog, prefix: str, value: str) -> str:
    """A translated WHMCS value (billing cycle, status), or the value itself when the catalog has
    none."""
    key = f"{prefix}.{(value or '').strip().lower()}"
    return fmt.text(key) if fmt.has(key) else (value or fmt.formats["missing"])


def _space(fmt: Catalog, size: int | None) -> str:
    """A space figure: GB, "unlimited" for 0, the missing sign for ``None``."""
    if size is None:
        return fmt.formats["missing"]
    return fmt.gb(size) if size > 0 else fmt.text("value.unlimited")


#: Where a host name, address or URL may wrap: before a dot, an ``@``, a ``:`` that does not
#: start ``://``, and a ``/`` not part of ``//`` (``https://`` stays whole, no label is cut).
_BREAK_BEFORE = re.compile(r"(?<=[^\s])(?=[.@]|:(?!//)|(?<![/:])/(?!/))")


def breakable(text: str | None) -> Markup:
    """``text`` escaped, with ``<wbr>`` where it may wrap: ``mail1<wbr>.example<wbr>.com``.

    A narrow column then wraps a host name or link between its parts instead of inside a word.
    """
    return Markup("<wbr>").join(escape(part) for part in _BREAK_BEFORE.split(text or ""))


def _safe_link(url: str | None) -> str:
    """``url`` when it is an http(s) URL (fit for ``href``), else an empty string."""
    text = (url or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else ""
