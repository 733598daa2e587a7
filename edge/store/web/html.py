"""A tiny HTML builder that escapes everything it is not told is already HTML.

Pages are built from ``el(tag, attrs, *children)``: text children and every attribute
value go through ``html.escape``; only ``Html`` values (made by ``el`` itself or by
``raw`` for fixed markup) pass unescaped. There is no string formatting of markup with
user data anywhere in the web package.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col"})


class Html(str):
    """Markup that is safe to emit as it is."""

    __slots__ = ()


Node: TypeAlias = "Html | str | int | float | Iterable[Node] | None"
Attrs: TypeAlias = Mapping[str, str | int | float | bool | None]


def esc(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def raw(markup: str) -> Html:
    """Fixed markup written in this package (never user data)."""
    return Html(markup)


def render(node: Node) -> Html:
    if node is None or node is False:
        return Html("")
    if isinstance(node, Html):
        return node
    if isinstance(node, str | int | float):
        return esc(node)
    return Html("".join(render(n) for n in node))


def _attrs(attrs: Attrs | None) -> str:
    out = []
    for key, value in (attrs or {}).items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        out.append(f" {name}" if value is True else f' {name}="{esc(value)}"')
    return "".join(out)


def el(tag: str, attrs: Attrs | None = None, *children: Node) -> Html:
    if tag in _VOID:
        return Html(f"<{tag}{_attrs(attrs)}>")
    return Html(f"<{tag}{_attrs(attrs)}>{render(children)}</{tag}>")


def json_data(element_id: str, data: Any) -> Html:
    """Data for scripts: a non-executable JSON block ('<' escaped so it cannot close it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Html(f'<script type="application/json" id="{esc(element_id)}">{text}</script>')
