"""The Chinese edition (under zh/), checked in a real browser: its pages are Chinese, its
search finds Chinese words, its glyphs have a font, and each page links to its English twin."""

from __future__ import annotations

import re
import subprocess

import pytest

from .conftest import HTML, pages
from .test_site import DESKTOP, PHONE, _open_chapter, _screenshot

ZH_CHAPTERS = [p for p in pages() if p.startswith("zh/notebooks/")]

# Paragraphs of the page's prose (not code, not outputs, not the bibliography) that read as
# English: no Chinese character, and, once citations ([Vaswani et al., 2017]) are set aside, four
# or more lower-case words (names of models and libraries are capitalised or in code).
ENGLISH_PARAGRAPHS = """() => Array.from(document.querySelectorAll('article p, article li'))
  .filter(e => !e.closest('div.cell_output, div.output, pre, .bibliography, .citation, nav'))
  .map(e => e.innerText.trim())
  .filter(t => !/[\\u4e00-\\u9fff]/.test(t)
    && (t.replace(/\\[[^\\]]*\\]/g, '').match(/\\b[a-z]{2,}\\b/g) || []).length >= 4)"""


def test_the_chinese_edition_was_built_with_a_page_per_chapter():
    assert len(ZH_CHAPTERS) == 7, ZH_CHAPTERS
    assert (HTML / "zh" / "searchindex.js").is_file()


def test_a_font_with_chinese_glyphs_is_installed():
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    assert fonts.stdout.strip(), "no font covers Chinese: `make browser` installs fonts-noto-cjk"


@pytest.mark.parametrize("name", ZH_CHAPTERS)
def test_a_chinese_chapter_has_no_english_prose_left(page, site_url, name):
    _open_chapter(page, site_url, name, PHONE)
    assert page.evaluate("document.documentElement.lang").startswith("zh")
    english = page.evaluate(ENGLISH_PARAGRAPHS)
    assert not english, english[:5]
    _screenshot(page, name.replace("/", "_"), PHONE)


def test_chinese_search_finds_attention(page, site_url):
    page.goto(f"{site_url}/zh/search.html?q=注意力", wait_until="networkidle")
    page.wait_for_selector("#search-results li", timeout=20_000)
    hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    assert any(re.search(r"zh/notebooks/03_attention\.html", h) for h in hrefs), hrefs


def test_each_edition_links_to_its_twin(page, site_url):
    page.set_viewport_size({"width": DESKTOP, "height": 900})
    page.goto(f"{site_url}/notebooks/03_attention.html", wait_until="networkidle")
    page.click("div.langswitch a")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/zh/notebooks/03_attention.html"), page.url
    page.click("div.langswitch a")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/notebooks/03_attention.html") and "/zh/" not in page.url, page.url


def test_the_english_prose_check_flags_the_english_twin(page, site_url):
    """The check above can fail: on an English chapter it finds paragraph after paragraph."""
    _open_chapter(page, site_url, "notebooks/03_attention.html", PHONE)
    assert len(page.evaluate(ENGLISH_PARAGRAPHS)) > 10


# What the site around a chapter shows or says in English: the sidebar's captions, the search
# box, tooltips and screen-reader labels (_ext/sitelabels.py translates them in zh/).
ENGLISH_LABELS = """() => {
  const shown = Array.from(document.querySelectorAll('.bd-sidebar-primary .caption-text'))
    .map(e => e.innerText.trim());
  const said = Array.from(document.querySelectorAll('[title], [aria-label], [placeholder]'))
    .filter(e => !e.closest('article'))
    .flatMap(e => ['title', 'aria-label', 'placeholder'].map(a => e.getAttribute(a)));
  return [...shown, ...said].filter(t => t && /[A-Za-z]{3,}/.test(t)
    && !/[\\u4e00-\\u9fff]/.test(t) && !/^Read this page in English$/.test(t));
}"""


def test_the_site_around_a_chinese_chapter_speaks_chinese(page, site_url):
    _open_chapter(page, site_url, "zh/notebooks/07_agent.html", DESKTOP)
    assert not page.evaluate(ENGLISH_LABELS)
    _open_chapter(page, site_url, "notebooks/07_agent.html", DESKTOP)  # the check can fail
    assert "Chapters" in page.evaluate(ENGLISH_LABELS)
