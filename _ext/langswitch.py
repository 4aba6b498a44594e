"""A Sphinx extension: every page links to its twin in the other edition (issue 30).

The English edition sits at the site root, the Chinese one under ``zh/`` (``scripts/i18n.py
build``), with the same page names. So ``book/setup.html`` and ``zh/book/setup.html`` are twins,
and the link between them is relative: it works on a web server and from ``file://`` alike.

An English page links to its Chinese twin only where that page has a catalog in
``locales/zh_CN/LC_MESSAGES/`` (``langswitch_catalog_dir``); a Chinese page always links back.
The link is a small line above the page body, plus ``<link rel="alternate" hreflang=...>`` in
the head for search engines.
"""

from __future__ import annotations

import html
from pathlib import Path

from sphinx.application import Sphinx

# (label shown, hreflang, the folder the edition lives in under the site root)
ENGLISH = ("English", "en", "")
CHINESE = ("中文", "zh-CN", "zh/")


def is_chinese(language: str | None) -> bool:
    return bool(language) and language.lower().replace("-", "_").startswith("zh")


def twin_url(pagename: str, chinese_page: bool) -> str:
    """The relative URL, from ``pagename`` in one edition, of the same page in the other."""
    depth = pagename.count("/")
    if chinese_page:  # zh/<pagename>.html -> <pagename>.html: one level further up
        return "../" * (depth + 1) + f"{pagename}.html"
    return "../" * depth + f"{CHINESE[2]}{pagename}.html"


def _has_catalog(app: Sphinx, pagename: str) -> bool:
    folder = Path(app.srcdir) / app.config.langswitch_catalog_dir
    return (folder / f"{pagename}.po").is_file()


def _on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict,
                     doctree) -> None:
    if "body" not in context or doctree is None:  # genindex, search: no twin to speak of
        return
    chinese_page = is_chinese(app.config.language)
    if not chinese_page and not _has_catalog(app, pagename):
        return
    label, hreflang, _ = ENGLISH if chinese_page else CHINESE
    url = html.escape(twin_url(pagename, chinese_page))
    title = "Read this page in English" if chinese_page else "阅读本页的中文版"
    aria = "语言" if chinese_page else "Language"
    link = (f'<div class="langswitch" role="navigation" aria-label="{aria}">'
            f'<a href="{url}" hreflang="{hreflang}" lang="{hreflang}" title="{title}">'
            f'{label}</a></div>')
    context["body"] = link + context["body"]
    context["metatags"] = (context.get("metatags", "")
                           + f'\n<link rel="alternate" hreflang="{hreflang}" href="{url}">')


def setup(app: Sphinx) -> dict:
    app.add_config_value("langswitch_catalog_dir", "locales/zh_CN/LC_MESSAGES", "html")
    # after runstats (default priority 500), so the language link is the first line of the page
    app.connect("html-page-context", _on_page_context, priority=600)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
