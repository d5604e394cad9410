"""LDAP search filters (RFC 4515) for the fake Zimbra's SearchDirectory ``query``.

The real server ANDs the query with the object classes of the requested types and hands it to its
LDAP directory; the simulator evaluates the same filter over an entry's attributes. Supported:
``&``, ``|``, ``!``, equality, presence (``attr=*``) and substrings (``attr=ab*cd``), attribute
names and values compared without regard to case (Zimbra's attributes use case-insensitive matching
rules), ``\\XX`` escapes. A bare ``attr=value`` is wrapped in parentheses as the server does. Not
modelled: ``>=``, ``<=``, ``~=`` and extensible matches.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

#: An entry's attributes: name → value or list of values.
Attrs = Mapping[str, "str | list[str]"]
Matcher = Callable[[Attrs], bool]

_ESCAPE = re.compile(r"\\([0-9a-fA-F]{2})")


def compile_filter(text: str) -> Matcher:
    """A function telling whether an entry's attributes match the filter ``text``.

    Raises:
        ValueError: ``text`` is not a filter this module understands (the message says where).
    """
    text = text.strip()
    if not text.startswith("("):
        text = f"({text})"
    matcher, end = _parse(text, 0)
    if end != len(text):
        raise ValueError(f"unexpected text after the filter at position {end}: {text[end:][:20]!r}")
    return matcher


def _parse(text: str, pos: int) -> tuple[Matcher, int]:
    """The filter starting with ``(`` at ``pos``, and the position after its ``)``."""
    if pos >= len(text) or text[pos] != "(":
        raise ValueError(f"expected '(' at position {pos}")
    pos += 1
    if pos < len(text) and text[pos] in "&|!":
        operator = text[pos]
        parts, pos = _parse_list(text, pos + 1)
        if operator == "!":
            if len(parts) != 1:
                raise ValueError("'!' takes exactly one filter")
            inner = parts[0]
            return (lambda attrs: not inner(attrs)), pos
        combine = all if operator == "&" else any
        return (lambda attrs: combine(part(attrs) for part in parts)), pos
    end = text.find(")", pos)
    if end < 0:
        raise ValueError(f"unclosed '(' at position {pos - 1}")
    return _item(text[pos:end]), end + 1


def _parse_list(text: str, pos: int) -> tuple[list[Matcher], int]:
    parts = []
    while pos < len(text) and text[pos] == "(":
        part, pos = _parse(text, pos)
        parts.append(part)
    if pos >= len(text) or text[pos] != ")":
        raise ValueError(f"expected ')' at position {pos}")
    if not parts:
        raise ValueError(f"empty filter list before position {pos}")
    return parts, pos + 1


def _item(item: str) -> Matcher:
    """``attr=value``, ``attr=*`` or ``attr=a*b`` (the only comparisons the simulator supports)."""
    name, sep, value = item.partition("=")
    if not sep or not name or name[-1] in "<>~:" or not re.fullmatch(r"[\w;.-]+", name):
        raise ValueError(f"unsupported filter item ({item})")
    name = name.lower()
    if value == "*":
        return lambda attrs: bool(_values(attrs, name))
    if "*" in value:
        parts = [re.escape(_unescape(p).lower()) for p in value.split("*")]
        pattern = re.compile(".*".join(parts), re.S)
        return lambda attrs: any(pattern.fullmatch(v.lower()) for v in _values(attrs, name))
    wanted = _unescape(value).lower()
    return lambda attrs: any(v.lower() == wanted for v in _values(attrs, name))


def _unescape(value: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


def _values(attrs: Attrs, name: str) -> list[str]:
    for key, value in attrs.items():
        if key.lower() == name:
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return []
