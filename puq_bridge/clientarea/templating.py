"""The Jinja set-up both HTML pages share (the client area's tabs and the addon page): templates
from an operator's ``[render] templates_dir`` first, then the shipped ones; everything
autoescaped; JSON catalogs and stylesheets read through the same loader, so an operator can replace
them too; template errors as one :class:`~puq_bridge.errors.ConfigError` naming file and line.
"""

from __future__ import annotations

import json
import os
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from markupsafe import Markup

from puq_bridge.errors import ConfigError

TEMPLATES_PACKAGE = "puq_bridge.templates"
#: the language every catalog is layered over.
FALLBACK_LANG = "en"


def html_environment(templates_dir: str | os.PathLike | None) -> Environment:
    """The environment of an HTML page's templates (autoescaped, strict about undefined names)."""
    loaders = [FileSystemLoader(str(templates_dir))] if templates_dir else []
    loaders.append(PackageLoader(TEMPLATES_PACKAGE, "."))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            ("html", "htm", "xml", "j2"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def json_document(env: Environment, name: str) -> dict[str, Any]:
    """A translation catalog found by the loader: a JSON object of key -> text.

    Raises:
        jinja2.TemplateNotFound: no such file (the caller says what that means).
        ConfigError: it is not valid JSON, or not an object with string keys.
    """
    source, filename, _ = env.loader.get_source(env, name)
    try:
        document = json.loads(source)
    except json.JSONDecodeError as err:
        raise ConfigError(filename, None, f"translation catalog is not valid JSON: {err}") from err
    if not isinstance(document, dict) or not all(isinstance(k, str) for k in document):
        raise ConfigError(
            filename, None, "translation catalog must be a JSON object of key -> text"
        )
    return document


def inline_stylesheet(env: Environment, name: str) -> Markup:
    """A stylesheet's text for an inline ``<style>``; ``</`` is broken up so it cannot close it."""
    source, _, _ = env.loader.get_source(env, name)
    return Markup(source.replace("</", "<\\/"))


def template_error(name: str, err: TemplateError) -> ConfigError:
    """One line for a template that failed: its file (and line when known) and Jinja's message."""
    where = getattr(err, "filename", None) or name
    line = getattr(err, "lineno", None)
    return ConfigError(
        f"{where}:{line}" if line else where, None, f"template error: {err.message or err}"
    )
