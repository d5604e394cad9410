"""What the addon page is asked: its own page parameters, an action, and the request's frame (module
link, language, the generated PHP's version, WHMCS's form token).

Everything here is read defensively: a parameter that is not one of the page's own is ignored, a
value that does not parse falls back to its default, and the module link, token and version must
look like what WHMCS and the forwarder send, so nothing a browser controls reaches the page's links
or markup unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping
from urllib.parse import urlencode

#: the page's own GET parameters (the forwarder passes on only these): name -> what it selects.
PAGE_PARAMS = {
    "puq_runs": "page of the sync runs table",
    "puq_origin": "only the runs of one origin",
    "puq_run": "the run whose failed and skipped services are listed",
    "puq_problems": "page of that run's failed and skipped services",
    "puq_near": "page of the domains nearest their limit",
    "puq_large": "page of the largest domains",
    "puq_missing": "page of the services Zimbra does not know",
    "puq_orphans": "page of the domains no service points to",
    "puq_actions": "page of the client actions",
    "puq_service": "only the client actions of one service",
}
#: the fields of the page's forms (POST): the action, the server it is for, WHMCS's token.
FORM_FIELDS = ("puq_action", "puq_server", "token")
ACTIONS = ("sync", "test")
ORIGIN_FILTERS = ("sync-usage", "UsageUpdate", "SyncUsage", "addon")
LANGS = ("en", "pl")

_MODULE_RE = re.compile(r"[a-z][a-z0-9_]{0,49}")
_LINK_RE = re.compile(r"addonmodules\.php\?module=([a-z][a-z0-9_]{0,49})")
_TOKEN_RE = re.compile(r"[A-Za-z0-9]{1,128}")
_VERSION_RE = re.compile(r"[0-9A-Za-z.+\-]{1,32}")
_SERVER_RE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_MAX_INT = 2**31 - 1

#: query field -> GET parameter.
_PARAM_OF = {
    "runs": "puq_runs",
    "origin": "puq_origin",
    "run": "puq_run",
    "problems": "puq_problems",
    "near": "puq_near",
    "large": "puq_large",
    "missing": "puq_missing",
    "orphans": "puq_orphans",
    "actions": "puq_actions",
    "service": "puq_service",
}


def _int(value: Any, default: int | None, low: int = 1) -> int | None:
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if not text.isdigit() or len(text) > 10:
        return default
    number = int(text)
    return number if low <= number <= _MAX_INT else default


@dataclass(frozen=True)
class PageQuery:
    """The page's parameters: table pages (1-based), the origin filter of the runs, the run whose
    problems are listed, and the service the client actions are filtered by."""

    runs: int = 1
    origin: str | None = None
    run: int | None = None
    problems: int = 1
    near: int = 1
    large: int = 1
    missing: int = 1
    orphans: int = 1
    actions: int = 1
    service: int | None = None

    @classmethod
    def read(cls, query: Any) -> "PageQuery":
        """The page's parameters out of ``query`` (GET parameters); anything else is ignored."""
        if not isinstance(query, Mapping):
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = query.get(_PARAM_OF[f.name])
            if raw is None:
                continue
            if f.name == "origin":
                values["origin"] = raw if raw in ORIGIN_FILTERS else None
            elif f.name in ("run", "service"):
                values[f.name] = _int(raw, None)
            else:
                values[f.name] = _int(raw, 1)
        return cls(**values)

    def params(self, **changes: Any) -> dict[str, str]:
        """The GET parameters of this query with ``changes`` (field -> value), defaults left out."""
        query = replace(self, **changes)
        default = PageQuery()
        return {
            _PARAM_OF[f.name]: str(getattr(query, f.name))
            for f in fields(self)
            if getattr(query, f.name) != getattr(default, f.name)
        }

    def link(self, modulelink: str, anchor: str = "", **changes: Any) -> str:
        """``modulelink`` with this query's parameters, ``changes`` applied, and ``#anchor``."""
        params = self.params(**changes)
        tail = ("&" + urlencode(params)) if params else ""
        return modulelink + tail + (f"#{anchor}" if anchor else "")


@dataclass(frozen=True)
class Action:
    """A form the admin sent back: ``sync`` (one server or all) or ``test`` (one server), and
    whether WHMCS's form token matched (checked by the forwarder, which holds the session)."""

    name: str
    server: str | None
    token_ok: bool

    @classmethod
    def read(cls, value: Any) -> "Action | None":
        """The action in the forwarder's ``action`` block; ``None`` when none or not ours."""
        if not isinstance(value, Mapping) or value.get("name") not in ACTIONS:
            return None
        server = value.get("server")
        if not isinstance(server, str) or not _SERVER_RE.fullmatch(server):
            server = None
        return cls(value["name"], server, value.get("token_ok") is True)


@dataclass(frozen=True)
class AddonRequest:
    """One call of the addon's ``_output`` or ``_sidebar``, as the forwarder sent it."""

    module: str = "puqbridge"
    modulelink: str = "addonmodules.php?module=puqbridge"
    lang: str | None = None
    version: str | None = None
    query: PageQuery = PageQuery()
    action: Action | None = None
    token: str = ""
    admin_id: int | None = None

    @classmethod
    def read(cls, params: Mapping[str, Any]) -> "AddonRequest":
        """Read the forwarder's params; every part that does not look right gets its default."""
        module = params.get("module")
        module = module if isinstance(module, str) and _MODULE_RE.fullmatch(module) else "puqbridge"
        link = params.get("modulelink")
        if not (isinstance(link, str) and _LINK_RE.fullmatch(link)):
            link = f"addonmodules.php?module={module}"
        lang = params.get("lang")
        version = params.get("version")
        if not (isinstance(version, str) and _VERSION_RE.fullmatch(version)):
            version = None
        token = params.get("token")
        return cls(
            module=module,
            modulelink=link,
            lang=lang if lang in LANGS else None,
            version=version,
            query=PageQuery.read(params.get("query")),
            action=Action.read(params.get("action")),
            token=token if isinstance(token, str) and _TOKEN_RE.fullmatch(token) else "",
            admin_id=_int(params.get("admin_id"), None),
        )
