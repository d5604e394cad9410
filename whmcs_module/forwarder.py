"""Generating the PHP forwarder WHMCS loads as a provisioning module (``modules/servers/NAME/``),
and the addon module of the bridge's admin page beside it (``modules/addons/NAME/``).

The files come from the Jinja templates in ``templates/forwarder/``. They are PHP, not HTML, so the
environment does not autoescape; every value reaches the PHP source through :func:`php_string` or
:func:`php_value`, which emit literals PHP parses back to exactly the value, and the module name is
checked against ``[a-z][a-z0-9]*`` (WHMCS's rule: lower-case letters and digits, starting with a
letter) before it becomes part of function names.

MetaData, ConfigOptions and AdminCustomButtonArray are literal arrays in the generated PHP: WHMCS
calls them often (module lists, product pages), and they never wait for the bridge nor write a
module-log line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from puq_bridge import __version__
from puq_bridge.admin.query import PAGE_PARAMS
from puq_bridge.whmcs.params import (
    ACTION_FIELD_MAX,
    ACTION_FIELDS,
    CLIENT_KEYS,
    HOSTING_KEY,
    PARAM_KEYS,
    SECRET_ACTION_FIELDS,
    SECRET_PARAMS,
    SERVICE_FIELDS,
    config_options,
)
from whmcs_module.adapter import CLIENT_NOTICE, admin_custom_buttons, meta_data
from whmcs_module.selfservice_views import FALLBACK_MESSAGE
from whmcs_module.signon_views import SIGNON_NOTICE, client_area_allowed_functions
from whmcs_module.views import CLIENTAREA_TEMPLATE, CLIENTAREA_VAR

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"[a-z][a-z0-9]{0,49}")
LIFE_CYCLE = (
    "CreateAccount",
    "SuspendAccount",
    "UnsuspendAccount",
    "TerminateAccount",
    "ChangePassword",
    "ChangePackage",
)
#: what UsageUpdate reads of each service from tblhosting (developer-docs usage-update.md,
#: module-parameters.md).
HOSTING_COLUMNS = (
    "tblhosting.id",
    "tblhosting.domain",
    "tblhosting.packageid",
    "tblhosting.domainstatus",
    "tblhosting.diskusage",
    "tblhosting.disklimit",
    "tblhosting.userid",
)


def php_string(value: Any) -> str:
    """``value`` as a single-quoted PHP string literal (only ``\\`` and ``'`` need escaping
    there)."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def php_value(value: Any) -> str:
    """A PHP literal for JSON-like data: dicts and lists as ``[...]`` arrays, bools, null, numbers,
    strings."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("PHP literal of a non-finite float")
        return repr(value)
    if isinstance(value, str):
        return php_string(value)
    if isinstance(value, dict):
        return "[" + ", ".join(f"{php_value(k)} => {php_value(v)}" for k, v in value.items()) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(php_value(v) for v in value) + "]"
    raise TypeError(f"no PHP literal for {type(value).__name__}")


class PhpLiteral(str):
    """PHP source made by :func:`php_string` or :func:`php_value`: safe to print as it is."""


#: what a template may print without a PHP filter: a name, a version, a word of a comment (no
#: quote, backslash, ``$``, ``*``, ``?``, ``<``, ``>`` or line break can end a string or comment)
_BARE_RE = re.compile(r"[A-Za-z0-9 _.,:()/-]*")


def php_source(value: Any) -> Any:
    """Every ``{{ … }}`` of the forwarder's templates goes through here: the escaping of PHP
    source. A PHP literal from the filters and an int pass; a bare string passes only when it
    cannot leave the identifier or comment it stands in; anything else is refused, so a value
    that forgot its filter fails generation instead of reaching the PHP file."""
    if isinstance(value, PhpLiteral) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and _BARE_RE.fullmatch(value):
        return value
    raise TypeError(
        f"forwarder template printed a {type(value).__name__} that is not a PHP literal: "
        "pass it through the php_string or php_value filter"
    )


def _environment() -> jinja2.Environment:
    folder = resources.files("puq_bridge.templates").joinpath("forwarder")
    # These templates emit PHP source, not HTML, so HTML's escaping does not apply; PHP's does, in
    # php_source (every printed value) with the php_string / php_value filters.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=False,  # HTML escaping would corrupt PHP: php_source escapes instead
        finalize=php_source,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["php_string"] = lambda value: PhpLiteral(php_string(value))
    env.filters["php_value"] = lambda value: PhpLiteral(php_value(value))
    return env


def check_name(name: str) -> str:
    """``name`` if it is a valid WHMCS module name (``[a-z][a-z0-9]*``, at most 50 characters), else
    ``ValueError``: the folder, the file and the functions' prefix all carry it."""
    if not NAME_RE.fullmatch(name or ""):
        raise ValueError(
            f"invalid module name {name!r}: use lower-case letters and digits only, "
            "starting with a letter (WHMCS's rule)"
        )
    return name


def render_module(name: str) -> str:
    """The PHP source of ``NAME.php``."""
    static = {
        "MetaData": meta_data(),
        "ConfigOptions": config_options(),
        "AdminCustomButtonArray": admin_custom_buttons(),
    }
    return (
        _environment()
        .get_template("module.php.j2")
        .render(
            name=check_name(name),
            life_cycle=LIFE_CYCLE,
            param_keys=PARAM_KEYS,
            client_keys=CLIENT_KEYS,
            service_fields=SERVICE_FIELDS,
            secret_params=SECRET_PARAMS,
            static=static,
            client_notice=CLIENT_NOTICE,
            client_functions=client_area_allowed_functions(),
            signon_notice=SIGNON_NOTICE,
            clientarea_template=CLIENTAREA_TEMPLATE,
            clientarea_var=CLIENTAREA_VAR,
            hosting_columns=HOSTING_COLUMNS,
            hosting_key=HOSTING_KEY,
            action_fields={k: list(v) for k, v in ACTION_FIELDS.items()},
            action_field_max=ACTION_FIELD_MAX,
            secret_action_fields=SECRET_ACTION_FIELDS,
            action_notice=FALLBACK_MESSAGE,
        )
    )


#: seconds the forwarder's UsageUpdate waits for the bridge to read a whole server (WHMCS's cron
#: waits too).
USAGE_TIMEOUT = 900


def render_config(
    name: str, bridge_url: str, secret: str, timeout: int = 30, usage_timeout: int = USAGE_TIMEOUT
) -> str:
    """The PHP source of ``NAME.config.php``."""
    return (
        _environment()
        .get_template("config.php.j2")
        .render(
            name=check_name(name),
            bridge_url=bridge_url,
            secret=secret,
            timeout=int(timeout),
            usage_timeout=int(usage_timeout),
        )
    )


def write_forwarder(
    name: str, out_dir: str | os.PathLike, bridge_url: str, secret: str, *, timeout: int = 30
) -> list[Path]:
    """Write ``out_dir/modules/servers/NAME/`` (``NAME.php``, ``templates/clientarea.tpl``,
    ``NAME.config.php``) and the addon module ``out_dir/modules/addons/NAME/``
    (:func:`write_addon`).

    The config file holds the secret and is written with mode 0600 (the addon reads the same
    file). Returns the paths written, the config file last.

    Raises:
        ValueError: invalid name, a bridge URL that is not http(s), an empty secret or a timeout
            under 1 s.
    """
    check_name(name)
    if not re.fullmatch(r"https?://[^\s'\"\\]+", bridge_url or ""):
        raise ValueError(
            f"invalid bridge URL {bridge_url!r}: expected http://HOST:PORT or https://..."
        )
    if not secret:
        raise ValueError("the shared secret is empty")
    if timeout < 1:
        raise ValueError("the timeout must be at least 1 second")
    folder = Path(out_dir) / "modules" / "servers" / name
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    module = folder / f"{name}.php"
    module.write_text(render_module(name), encoding="utf-8")
    template = folder / "templates" / "clientarea.tpl"
    source = resources.files("puq_bridge.templates").joinpath("forwarder", "clientarea.tpl")
    with source.open("rb") as src, open(template, "wb") as dst:
        shutil.copyfileobj(src, dst)
    addon = write_addon(name, out_dir)
    config = folder / f"{name}.config.php"
    _write_private(config, render_config(name, bridge_url.rstrip("/"), secret, timeout))
    log.info("wrote the forwarder for module %s in %s", name, folder)
    return [module, template, *addon, config]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (also when the file existed with wider
    modes)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)
        file.write(text)


#: WHMCS admin language file -> the bridge's catalog of the addon page.
ADDON_LANGUAGES = {"english": "en", "polish": "pl"}

ADDON_NAME = "puq-bridge: Zimbra mail"
ADDON_DESCRIPTION = (
    "The bridge's own page: usage sync runs, Zimbra servers (Test now), usage overview, client "
    "actions, and Sync now. The page is drawn by puq-bridge; the module stores nothing in WHMCS."
)
ADDON_ACTIVATE = (
    "Nothing to create in WHMCS's database: puq-bridge keeps its data in its own store. Give "
    "your admin roles access under Setup > Addon Modules, then open Addons > " + ADDON_NAME + "."
)
ADDON_DEACTIVATE = (
    "Nothing to remove from WHMCS's database: the module created nothing there. The bridge's "
    "store is untouched."
)


def _addon_texts(lang: str) -> dict[str, str]:
    """The texts the addon's PHP needs itself (when the bridge cannot be reached), in ``lang``."""
    source = resources.files("puq_bridge.templates").joinpath("addon", "i18n", f"{lang}.json")
    catalog = json.loads(source.read_text(encoding="utf-8"))
    return {
        "puq_lang": lang,
        "puq_unreachable": catalog["php.unreachable"],
        "puq_unreachable_help": catalog["php.unreachable_help"],
    }


def render_addon(name: str) -> str:
    """The PHP source of the addon module ``modules/addons/NAME/NAME.php``."""
    check_name(name)
    settings = f"modules/servers/{name}/{name}.config.php"
    config = {
        "name": ADDON_NAME,
        "description": ADDON_DESCRIPTION,
        "version": __version__,
        "author": "puq-bridge",
        "language": "english",
        "fields": {},
    }
    return (
        _environment()
        .get_template("addon.php.j2")
        .render(
            name=name,
            display_name=ADDON_NAME,
            version=__version__,
            config=config,
            activate=ADDON_ACTIVATE,
            deactivate=ADDON_DEACTIVATE,
            missing_settings=(
                f"the bridge's settings file {settings} is missing or unreadable: run "
                "puq-bridge whmcs-module again and copy its modules folder into WHMCS (the file "
                "must be readable by the web server's user)"
            ),
            page_params=list(PAGE_PARAMS),
            english=_addon_texts("en"),
        )
    )


def render_addon_lang(name: str, language: str) -> str:
    """The PHP source of ``lang/<language>.php`` of the addon (``english`` or ``polish``)."""
    return (
        _environment()
        .get_template("addon_lang.php.j2")
        .render(
            name=check_name(name),
            language=language,
            texts=_addon_texts(ADDON_LANGUAGES[language]),
        )
    )


def write_addon(name: str, out_dir: str | os.PathLike) -> list[Path]:
    """Write the addon module ``out_dir/modules/addons/NAME/`` (``NAME.php`` and one
    ``lang/<language>.php`` per language); it uses the server module's ``NAME.config.php``, so it
    holds no secret. Returns the paths written."""
    folder = Path(out_dir) / "modules" / "addons" / check_name(name)
    (folder / "lang").mkdir(parents=True, exist_ok=True)
    module = folder / f"{name}.php"
    module.write_text(render_addon(name), encoding="utf-8")
    paths = [module]
    for language in ADDON_LANGUAGES:
        path = folder / "lang" / f"{language}.php"
        path.write_text(render_addon_lang(name, language), encoding="utf-8")
        paths.append(path)
    log.info("wrote the addon module %s in %s", name, folder)
    return paths

