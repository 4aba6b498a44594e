"""A Sphinx extension: glued values keep working inside translated notebook text (issue 30).

Sphinx translates a paragraph by parsing its ``msgstr`` on its own, as a small document of its
own (``sphinx.transforms.i18n.Locale``); myst-nb parses such a "<translated>" source as plain
MyST Markdown. A ``{glue:text}`` role in it then looks for the notebook's glue data in that small
document, finds none and the value silently disappears from the translated page. Here the
notebook's element renderer (which holds its glue data, read from the stored outputs) is handed
on to the translated fragments, so a ``{glue:text}`` role in a Chinese ``msgstr`` shows the same
executed value as in the English page.

myst-nb keeps the renderer on the document only while it parses the notebook (``nb_renderer``,
popped at the end); we keep it past that, for the document being read, until Sphinx has applied
its transforms (translations included) to it, and give it to every translated fragment.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

# docname -> the renderer of the notebook being read; dropped once its doctree is read (it must
# not reach the pickled doctree or environment)
_RENDERERS: dict[str, object] = {}


class _KeepRenderer(dict):
    """A document's attributes that remember the notebook renderer myst-nb pops at the end."""

    renderer = None

    def pop(self, key, *default):
        value = super().pop(key, *default)
        if key == "nb_renderer":
            self.renderer = value
        return value


def _parser_class():
    from myst_nb.sphinx_ import Parser

    class TranslatingParser(Parser):
        """myst-nb's parser, giving translated fragments their notebook's glue data."""

        def parse(self, inputstring: str, document: nodes.document) -> None:
            if document.current_source.endswith("<translated>"):
                renderer = _RENDERERS.get(document.settings.env.docname)
                if renderer is not None:
                    document["nb_renderer"] = renderer
                super().parse(inputstring, document)
                document.attributes.pop("nb_renderer", None)
                return
            attributes = _KeepRenderer(document.attributes)
            document.attributes = attributes
            try:
                super().parse(inputstring, document)
            finally:
                document.attributes = dict(attributes)
                if attributes.renderer is not None:  # None: not a notebook, no glue to hand on
                    _RENDERERS[document.settings.env.docname] = attributes.renderer

    return TranslatingParser


def _forget(app: Sphinx, doctree: nodes.document) -> None:
    _RENDERERS.pop(app.env.docname, None)


def setup(app: Sphinx) -> dict:
    app.setup_extension("myst_nb")  # so that our parser replaces its own, not the other way
    app.add_source_parser(_parser_class(), override=True)
    app.connect("doctree-read", _forget)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
