"""A Sphinx extension: the site's own labels in the Chinese edition (issue 30).

The chapters are translated through the page catalogs of ``locales/zh_CN/LC_MESSAGES/``; the site
around them is not all reachable that way. The themes write some labels into their templates
as plain English ("Toggle primary sidebar", "Search this book..."), the book theme's zh_CN
catalog writes one in traditional characters, and the table of contents' captions come from
``_toc.yml``. After a Chinese build this extension replaces each of them in every page, as a whole
attribute value or a whole text node, from one catalog, ``locales/zh_CN/site.po``
(``sitelabels_catalog``). An English build is left alone.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from babel.messages.pofile import read_po
from sphinx.application import Sphinx

# an attribute a reader sees or hears (tooltip, screen reader, placeholder) and its quoted value
_ATTRIBUTE = re.compile(r'(\s(?:title|aria-label|placeholder|alt|data-bs-title)=")([^"]*)(")')
_TEXT = re.compile(r">(\s*)([^<>]+?)(\s*)<")


def load_labels(path: Path) -> dict[str, str]:
    """msgid -> msgstr of the catalog, HTML-escaped as they appear in a page; an untranslated
    entry is an error (the Chinese edition would show English)."""
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    labels = {}
    for message in catalog:
        if not message.id:
            continue
        if not message.string:
            raise ValueError(f"{path.name}: {message.id!r} has no translation")
        labels[html.escape(message.id)] = html.escape(message.string)
    return labels


def translate_page(page: str, labels: dict[str, str]) -> str:
    """``page`` with every attribute value and text node that is exactly a label translated."""
    def attribute(match: re.Match) -> str:
        value = labels.get(match.group(2))
        return match.group(0) if value is None else match.group(1) + value + match.group(3)

    def text(match: re.Match) -> str:
        value = labels.get(match.group(2))
        return match.group(0) if value is None else f">{match.group(1)}{value}{match.group(3)}<"

    return _TEXT.sub(text, _ATTRIBUTE.sub(attribute, page))


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    language = (app.config.language or "").lower()
    if exception is not None or app.builder.format != "html" or not language.startswith("zh"):
        return
    labels = load_labels(Path(app.srcdir) / app.config.sitelabels_catalog)
    for path in Path(app.outdir).rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        translated = translate_page(page, labels)
        if translated != page:
            path.write_text(translated, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.add_config_value("sitelabels_catalog", "locales/zh_CN/site.po", "html")
    app.connect("build-finished", _on_build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
