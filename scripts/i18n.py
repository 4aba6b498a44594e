"""The Chinese edition (issue 30): extract the catalogs, check them, build the Chinese HTML.

The Chinese book is the English book translated with Sphinx's own internationalisation, which
Jupyter Book 1 inherits: every translatable message of every page (prose, markdown cells,
admonitions, captions, table headers) goes to a gettext catalog, one ``.po`` file per page, in
``locales/zh_CN/LC_MESSAGES/`` (``notebooks/07_agent.po``, ``book/intro.po``, ...). Translators
fill the ``msgstr`` entries; code, outputs and glued values are never translated.

    python scripts/i18n.py extract   # _build/gettext/*.pot, then create or update the .po files
    python scripts/i18n.py stat      # per catalog: total, translated, fuzzy, untranslated
    python scripts/i18n.py build     # the Chinese HTML in _build/html/zh/

``extract`` and ``build`` never execute a notebook: both run Sphinx with myst-nb's execution off
(``nb_execution_mode = "off"``), so a chapter shows the outputs stored in its ``.ipynb``, the
same outputs the English build shows and ``make nbval`` checks. Glued values come from those
stored outputs too. A guard stops the build if myst-nb nevertheless reports an execution.

``stat`` exits 1 unless every message of every catalog is translated and none is fuzzy (the
issue's bar). ``build`` translates what is translated and leaves the rest in English.

The Chinese edition lives under ``zh/`` next to the English one at the site root; each page links
to its twin (``_ext/langswitch.py``). It reuses the English site's MathJax (``_static/mathjax``)
and, where it exists, the English build's "download all" archive and run statistics, so build the
English book first (``make book`` does both, English then Chinese).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGS = LOCALES / LANGUAGE / "LC_MESSAGES"
BUILD = ROOT / "_build"
POT_DIR = BUILD / "gettext"
ZH_HTML = BUILD / "html" / "zh"
ARCHIVE = "from-attention-to-agents.zip"

# Settings both of our builds share: notebooks are never executed.
NO_EXECUTION = {"nb_execution_mode": "off"}


def _sphinx(builder: str, outdir: Path, doctreedir: Path, overrides: dict, *,
            strict: bool = True, quiet: bool = False) -> int:
    """Run Sphinx on the book the way ``jupyter-book build`` does, with ``overrides`` on top.

    Returns Sphinx's status code (0: built without warnings where ``strict``).
    """
    from jupyter_book.config import get_final_config
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    cli = {"external_toc_path": (ROOT / "_toc.yml").as_posix(), "latex_individualpages": False,
           **overrides}
    if strict:
        cli["nitpicky"] = True
    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", cli_config=cli, sourcedir=ROOT)
    with patch_docutils(None), docutils_namespace():
        app = Sphinx(srcdir=str(ROOT), confdir=None, outdir=str(outdir), doctreedir=str(doctreedir),
                     buildername=builder, confoverrides=config,
                     status=None if quiet else sys.stdout, warning=sys.stderr,
                     warningiserror=strict, keep_going=True, parallel=1)
        # as jupyter_book.sphinx.build_sphinx: chapter numbers run on across the toc's parts
        if app.config["use_multitoc_numbering"] and "numbered: true" in yaml.dump(
                app.config.external_site_map.as_json()):
            app.setup_extension("sphinx_multitoc_numbering")
        app.connect("doctree-read", _refuse_execution)
        app.build()
        return app.statuscode


class ExecutionError(RuntimeError):
    """myst-nb reported executing (or reading from a cache) a notebook in a no-execution build."""


def check_not_executed(docname: str, exec_data: dict | None) -> None:
    """Raise unless myst-nb's execution record of ``docname`` says nothing ran."""
    if exec_data and exec_data.get("method") not in (None, "off"):
        raise ExecutionError(f"{docname} was executed ({exec_data.get('method')}); the "
                             "translation builds must only render the stored outputs")


def _refuse_execution(app, doctree) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    check_not_executed(app.env.docname, NbMetadataCollector.get_exec_data(app.env,
                                                                          app.env.docname))


# --- extract ---------------------------------------------------------------------------------

def extract(args: argparse.Namespace) -> int:
    """The .pot templates from the English sources, then the .po catalogs created or updated."""
    from sphinx_intl import basic

    start = time.perf_counter()
    if POT_DIR.exists():
        shutil.rmtree(POT_DIR)  # a page removed from the book must not keep its template
    overrides = {**NO_EXECUTION, "runstats_file": str(BUILD / "runstats.json")}  # read only
    status = _sphinx("gettext", POT_DIR, BUILD / ".doctrees-gettext", overrides, strict=False,
                     quiet=args.quiet)
    if status:
        return status
    result = basic.update(str(LOCALES), str(POT_DIR), (LANGUAGE,), jobs=1)
    print(f"catalogs in {CATALOGS.relative_to(ROOT)}: {result['create']} created, "
          f"{result['update']} updated, {result['notchanged']} unchanged "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


# --- stat ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stat:
    catalog: str
    total: int
    translated: int
    fuzzy: int

    @property
    def untranslated(self) -> int:
        return self.total - self.translated - self.fuzzy

    @property
    def done(self) -> bool:
        return self.translated == self.total


def catalog_files(folder: Path = CATALOGS) -> list[Path]:
    return sorted(folder.rglob("*.po"))


def read_catalog(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGE, abort_invalid=True)


def catalog_stat(path: Path, folder: Path = CATALOGS) -> Stat:
    """Messages of one catalog, the header and obsolete entries left out."""
    total = translated = fuzzy = 0
    for message in read_catalog(path):
        if not message.id:
            continue
        total += 1
        if message.fuzzy:
            fuzzy += 1
        elif message.string:
            translated += 1
    return Stat(path.relative_to(folder).as_posix(), total, translated, fuzzy)


def stat(args: argparse.Namespace) -> int:
    stats = [catalog_stat(path) for path in catalog_files()]
    if not stats:
        print(f"no catalogs in {CATALOGS.relative_to(ROOT)}: run `scripts/i18n.py extract`")
        return 1
    width = max(len(s.catalog) for s in stats)
    print(f"{'catalog':<{width}}  {'total':>6} {'transl.':>7} {'fuzzy':>6} {'untransl.':>9}")
    for s in stats:
        mark = "" if s.done else "  <-"
        print(f"{s.catalog:<{width}}  {s.total:>6} {s.translated:>7} {s.fuzzy:>6} "
              f"{s.untranslated:>9}{mark}")
    total = sum(s.total for s in stats)
    translated = sum(s.translated for s in stats)
    fuzzy = sum(s.fuzzy for s in stats)
    print(f"{'all':<{width}}  {total:>6} {translated:>7} {fuzzy:>6} "
          f"{total - translated - fuzzy:>9}  ({100 * translated / max(total, 1):.1f}% translated)")
    return 0 if all(s.done for s in stats) else 1


# --- build -----------------------------------------------------------------------------------

def zh_overrides() -> dict:
    """What the Chinese build changes in the book's configuration."""
    english_html = BUILD / "html"
    overrides = {
        **NO_EXECUTION,
        "language": LANGUAGE,
        "html_title": "从注意力到智能体",  # the book's title ("title" in _config.yml), in Chinese
        "author": "《从注意力到智能体》作者团队",  # "author" in _config.yml
        "html_search_language": "zh",  # Sphinx's Chinese search, which segments words with jieba
        # MathJax is the English site's copy (html_extra_path there), two levels up from a page's
        # _static/ here; Sphinx prefixes "_static/" to this path and makes it relative per page.
        "mathjax_path": "../../_static/mathjax/tex-mml-chtml.js",
        "html_extra_path": [],
        # the English build's run time and peak memory for the chapter badges (_ext/runstats.py)
        "runstats_file": str(BUILD / "runstats.json"),
    }
    if (english_html / ARCHIVE).is_file():  # the same archive, copied rather than zipped again
        overrides["download_all_source"] = str(english_html / ARCHIVE)
    return overrides


def build(args: argparse.Namespace) -> int:
    if not catalog_files():
        print(f"no catalogs in {CATALOGS.relative_to(ROOT)}: run `scripts/i18n.py extract`")
        return 1
    if not (BUILD / "html" / "_static" / "mathjax").is_dir():
        print("warning: no _build/html/_static/mathjax (the English build's MathJax); "
              "the Chinese pages will show TeX until the English book is built", file=sys.stderr)
    try:  # jieba segments the Chinese search index; its progress lines are not news
        import jieba

        jieba.setLogLevel(logging.WARNING)
    except ImportError:
        print("warning: jieba is not installed: Chinese search will not split words",
              file=sys.stderr)
    start = time.perf_counter()
    status = _sphinx("html", ZH_HTML, BUILD / ".doctrees-zh", zh_overrides(),
                     strict=not args.no_strict, quiet=args.quiet)
    print(f"Chinese edition: {ZH_HTML.relative_to(ROOT)}/index.html "
          f"(status {status}, {time.perf_counter() - start:.0f} s)")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-q", "--quiet", action="store_true", help="only Sphinx's warnings")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("extract", help="build _build/gettext/*.pot, then create or update "
                        f"the catalogs in locales/{LANGUAGE}/LC_MESSAGES")
    commands.add_parser("stat", help="total / translated / fuzzy / untranslated per catalog; "
                        "exit 1 unless all are translated and none is fuzzy")
    build_parser = commands.add_parser("build", help="the Chinese HTML in _build/html/zh "
                                       "(no notebook is executed)")
    build_parser.add_argument("--no-strict", action="store_true",
                              help="do not turn Sphinx warnings into errors (-n -W as make book)")
    args = parser.parse_args(argv)
    return {"extract": extract, "stat": stat, "build": build}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
