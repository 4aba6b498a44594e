"""Small fixes to the HTML pages that a reader would otherwise see as console errors.

sphinx-thebe 0.3.1 registers its inline configuration script once per page it renders, so every
page after the first carries it twice and the browser reports ``THEBE_JS_URL has already been
declared``. We drop exact duplicate scripts from each page's list before it is written.
"""

from __future__ import annotations

import html
from pathlib import Path

from sphinx.application import Sphinx

REDIRECT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
{icon}<meta http-equiv="Refresh" content="0; url={target}">
</head>
<body><p><a href="{target}">{title}</a></p></body>
</html>
"""


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                    doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        attributes = getattr(script, "attributes", {}) or {}
        # an inline script's filename is None on one registration and "" on the other
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _write_index_redirect(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or app.config.root_doc == "index":
        return
    favicon = app.config.html_favicon
    icon = f'<link rel="icon" href="_static/{Path(favicon).name}">\n' if favicon else ""
    page = REDIRECT.format(title=html.escape(app.config.html_title or app.config.project),
                           icon=icon, target=f"{app.config.root_doc}.html")
    (Path(app.outdir) / "index.html").write_text(page, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    # before sphinx-external-toc's own stub (default priority 500), which then finds ours
    app.connect("build-finished", _write_index_redirect, priority=100)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
