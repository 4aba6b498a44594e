"""The Chinese edition's catalogs (issue 30, ``scripts/i18n.py``): fast checks, no build.

- every page of ``_toc.yml`` has its catalog, and every catalog parses;
- a translated message keeps the English message's roles, code, formulas and link targets;
- a translated message uses the glossary's Chinese term where the English uses the term;
- every message is translated and none is fuzzy (the issue's bar).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import i18n  # noqa: E402

CATALOGS = i18n.CATALOGS


def toc_pages(toc: dict) -> list[str]:
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return pages


PAGES = toc_pages(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))
PO_FILES = i18n.catalog_files()


def messages(path: Path):
    """(msgid, msgstr) of every translated, not fuzzy message of a catalog."""
    return [(m.id, m.string) for m in i18n.read_catalog(path)
            if m.id and m.string and not m.fuzzy]


def translated_ids(path: Path) -> list[str]:
    return [f"{path.relative_to(CATALOGS)}: {msgid[:50]!r}" for msgid, _ in messages(path)]


# --- the catalogs exist and parse -------------------------------------------------------------

def test_the_toc_lists_every_page():
    assert "book/intro" in PAGES and "notebooks/07_agent" in PAGES
    assert len(PAGES) == len(set(PAGES)) >= 20


@pytest.mark.parametrize("page", PAGES)
def test_every_page_of_the_book_has_a_catalog(page):
    assert (CATALOGS / f"{page}.po").is_file(), (
        f"no catalog for {page}: run `python scripts/i18n.py extract`")


def test_no_catalog_for_a_page_that_left_the_book():
    stale = sorted({p.relative_to(CATALOGS).with_suffix("").as_posix() for p in PO_FILES}
                   - set(PAGES))
    assert not stale, f"catalogs of pages no longer in _toc.yml: {stale}"


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: p.relative_to(CATALOGS).as_posix())
def test_every_catalog_parses_and_has_messages(path):
    stat = i18n.catalog_stat(path)
    assert stat.total > 0
    assert stat.translated + stat.fuzzy + stat.untranslated == stat.total


def test_stat_counts_translated_fuzzy_and_untranslated(tmp_path):
    folder = tmp_path / "LC_MESSAGES"
    folder.mkdir()
    po = folder / "page.po"
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "One"\nmsgstr "一"\n\n'
                  '#, fuzzy\nmsgid "Two"\nmsgstr "二"\n\n'
                  'msgid "Three"\nmsgstr ""\n', encoding="utf-8")
    stat = i18n.catalog_stat(po, folder)
    assert (stat.catalog, stat.total, stat.translated, stat.fuzzy, stat.untranslated) == (
        "page.po", 3, 1, 1, 1)
    assert not stat.done


def test_a_translation_build_stops_if_a_notebook_was_executed():
    i18n.check_not_executed("book/intro", None)
    i18n.check_not_executed("notebooks/01_history", {})
    for method in ("cache", "inline"):
        with pytest.raises(i18n.ExecutionError, match="notebooks/01_history was executed"):
            i18n.check_not_executed("notebooks/01_history", {"method": method, "runtime": 3.0})


def test_the_chinese_build_never_executes_and_reuses_the_english_assets():
    overrides = i18n.zh_overrides()
    assert overrides["nb_execution_mode"] == "off" and overrides["language"] == "zh_CN"
    assert overrides["html_search_language"] == "zh"
    assert overrides["html_extra_path"] == []  # MathJax is the English site's copy
    assert overrides["mathjax_path"].startswith("../../_static/")


# --- what a translation must keep verbatim ----------------------------------------------------

ROLE = re.compile(r"\{([a-z][\w:+-]*)\}`([^`]*)`")
CODE = re.compile(r"(`+)(.+?)\1", re.S)
MATH = re.compile(r"(?<![\\$])\$(?!\s)([^$]+?)(?<!\s)\$(?!\d)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HREF = re.compile(r"""\b(?:href|src)=["']([^"']+)["']""")


def role_key(name: str, content: str) -> tuple[str, str]:
    """A role's name and target: what it points at or pastes, not its (translatable) text."""
    target = re.search(r"<([^<>]+)>\s*$", content)
    if target and name not in ("glue:text", "glue:any", "glue:md", "glue", "math"):
        return name, target.group(1).strip()
    return name, " ".join(content.split())


def placeholders(text: str) -> Counter:
    """Roles (by target), code spans, $...$ math and link targets of one message."""
    found: Counter = Counter()
    for match in ROLE.finditer(text):
        found[("role",) + role_key(*match.groups())] += 1
    rest = ROLE.sub(" ", text)
    for match in CODE.finditer(rest):
        found[("code", " ".join(match.group(2).split()))] += 1
    rest = CODE.sub(" ", rest)
    for match in MATH.finditer(rest):
        found[("math", " ".join(match.group(1).split()))] += 1
    for pattern, kind in ((LINK, "link"), (HREF, "href")):
        for match in pattern.finditer(rest):
            found[(kind, match.group(1))] += 1
    return found


def test_placeholders_sees_roles_code_math_and_links():
    text = ("BERT has {glue:text}`bert_m:.0f` M parameters, see "
            "{term}`an encoder <Encoder (编码器)>`, {doc}`setup` and {cite:p}`devlin2019bert`; "
            "`x = 1` and $\\frac{a}{b}$ costs $5 "
            "and $6. [the site](https://example.org) <a href=\"../a.zip\" download>a</a>")
    found = placeholders(text)
    assert found == Counter({
        ("role", "glue:text", "bert_m:.0f"): 1, ("role", "term", "Encoder (编码器)"): 1,
        ("role", "doc", "setup"): 1, ("role", "cite:p", "devlin2019bert"): 1,
        ("code", "x = 1"): 1, ("math", "\\frac{a}{b}"): 1,
        ("link", "https://example.org"): 1, ("href", "../a.zip"): 1})
    # the text of a term reference is translatable; its target is not
    assert placeholders("{term}`编码器 <Encoder (编码器)>`") == Counter(
        {("role", "term", "Encoder (编码器)"): 1})


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: p.relative_to(CATALOGS).as_posix())
def test_a_translation_keeps_every_role_code_span_formula_and_link(path):
    problems = []
    for msgid, msgstr in messages(path):
        source, target = placeholders(msgid), placeholders(msgstr)
        if source != target:
            problems.append(f"{msgid[:60]!r}\n    missing: {dict(source - target)}"
                            f"\n    extra:   {dict(target - source)}")
    assert not problems, "\n".join(problems)


# --- terminology ------------------------------------------------------------------------------

TERM_LINE = re.compile(r"^(\S.*) \(([^()]+)\)$")


def glossary_terms() -> dict[str, list[str]]:
    """English term -> the Chinese forms a translation may use, from ``book/glossary.md``.

    ``Attention (注意力)`` gives ``attention -> [注意力]``; an English acronym or gloss in
    parentheses is dropped (``Large language model (LLM)`` -> ``large language model``); a Chinese
    form with its own gloss, ``ReAct（推理与行动）``, also accepts the part before the gloss.
    """
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    terms: dict[str, list[str]] = {}
    for line in block.splitlines():
        match = TERM_LINE.match(line)
        if not match or line.startswith(" "):
            continue
        english = re.sub(r"\s*\([^()]*\)", "", match.group(1)).strip().lower()
        chinese = match.group(2).strip()
        forms = [chinese] + ([chinese.split("（")[0].strip()] if "（" in chinese else [])
        terms[english] = forms
    return terms


TERMS = glossary_terms()


#: a display formula: $$...$$ (with an optional label) or a LaTeX environment
DISPLAY_MATH = re.compile(r"\$\$.*?\$\$(?:\s*\([^()]*\))?|\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S)

#: a LaTeX command with its first argument: \operatorname{Attention}, \text{head}
LATEX_COMMAND = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?")


def english_uses(msgid: str) -> list[str]:
    """The glossary terms an English message uses, longest first; a longer term hides the shorter
    ones inside it ("rotary position embedding" is not "embedding"). Role targets, code and
    formulas are not prose and do not count."""
    prose = ROLE.sub(lambda m: " " + re.sub(r"<[^<>]*>\s*$", "", m.group(2)) + " ", msgid)
    prose = CODE.sub(" ", prose)
    prose = DISPLAY_MATH.sub(" ", prose)
    prose = MATH.sub(" ", prose)
    prose = LATEX_COMMAND.sub(" ", prose)  # a formula message without its $$ fences
    used = []
    for term in sorted(TERMS, key=len, reverse=True):
        pattern = re.compile(r"(?<![\w-])" + re.escape(term) + r"(?:s|es)?(?![\w-])", re.I)
        if pattern.search(prose):
            used.append(term)
            prose = pattern.sub(" ", prose)
    return used


def test_glossary_terms_are_read_with_their_chinese_forms():
    assert TERMS["attention"] == ["注意力"]
    assert TERMS["large language model"] == ["大语言模型"]
    assert TERMS["react"] == ["ReAct（推理与行动）", "ReAct"]
    assert len(TERMS) >= 45


def test_a_longer_term_hides_the_shorter_ones_inside_it():
    assert english_uses("Rotary position embedding, then self-attention over tokens.") == [
        "rotary position embedding", "self-attention", "token"]
    assert english_uses("see {term}`logits <Logits (未归一化得分)>` and `attention()`") == [
        "logits"]


@pytest.mark.parametrize("path", PO_FILES, ids=lambda p: p.relative_to(CATALOGS).as_posix())
def test_a_translation_uses_the_glossary_terms(path):
    problems = []
    for msgid, msgstr in messages(path):
        for term in english_uses(msgid):
            if not any(form in msgstr for form in TERMS[term]):
                problems.append(f"{msgid[:60]!r} uses {term!r}: expected {TERMS[term][0]!r}")
    assert not problems, "\n".join(problems)


# --- the bar ----------------------------------------------------------------------------------

def test_every_message_is_translated_and_none_is_fuzzy():
    unfinished = [f"{s.catalog}: {s.untranslated} untranslated, {s.fuzzy} fuzzy"
                  for s in map(i18n.catalog_stat, PO_FILES) if not s.done]
    assert not unfinished, "\n".join(unfinished)


def test_site_labels_are_all_translated_and_replace_only_whole_labels():
    sys.path.insert(0, str(ROOT / "_ext"))
    import sitelabels

    labels = sitelabels.load_labels(ROOT / "locales/zh_CN/site.po")
    assert labels["Chapters"] == "章节" and labels["Search this book..."] == "搜索本书……"
    page = ('<input placeholder="Search this book..."/><p class="caption"><span>Chapters</span>'
            '</p><a title="Link to this heading">#</a><p>Chapters of the book</p>'
            '<code>title="Chapters"</code>')
    out = sitelabels.translate_page(page, labels)
    assert 'placeholder="搜索本书……"' in out and "<span>章节</span>" in out
    assert 'title="链接到此标题"' in out
    assert "<p>Chapters of the book</p>" in out  # only a whole text node is a label
    assert not any("\u4e00" <= c <= "\u9fff" for c in sitelabels.translate_page(
        "<p>Main ideas</p>", labels))
