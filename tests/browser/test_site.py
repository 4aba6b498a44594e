"""The rendered book, checked as a reader meets it: in a real browser, page by page."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
from bs4 import BeautifulSoup

from .conftest import HTML, SCREENSHOTS, pages

PAGES = pages()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
DESKTOP, PHONE = 1400, 390

# Elements of a code cell (its input, its outputs) that scroll sideways: a box that shows a
# scroll bar because its content is wider than the box.
SCROLLING_IN_CELLS = """() => Array.from(document.querySelectorAll('article div.cell *'))
  .filter(el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
                && el.scrollWidth > el.clientWidth + 1)
  .map(el => el.tagName.toLowerCase() + ': ' + el.textContent.trim().slice(0, 70))"""

# A display equation is clipped when its content is wider than its box and the reader cannot
# scroll to the rest, or when the box itself runs off the screen. Scrolling is tried, not assumed.
CLIPPED_EQUATIONS = """() => Array.from(document.querySelectorAll('mjx-container[display="true"]'))
  .filter(el => {
    const box = el.getBoundingClientRect();
    if (box.right > window.innerWidth + 1 || box.left < -1) return true;
    if (el.scrollWidth <= el.clientWidth + 1) return false;
    el.scrollLeft = el.scrollWidth;
    const scrolled = el.scrollLeft > 0;
    el.scrollLeft = 0;
    return !scrolled;
  })
  .map(el => (el.getAttribute('aria-label') || el.textContent).slice(0, 70))"""


def _ids(path: Path) -> set[str]:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return {tag["id"] for tag in soup.find_all(id=True)} | {
        tag["name"] for tag in soup.find_all("a", attrs={"name": True})}


def test_the_book_has_chapters():
    chapters = [p for p in PAGES if p.startswith("notebooks/")]
    assert len(chapters) >= 1, "no chapter pages were built"


def test_internal_links_resolve():
    """Every relative link points at a file of the site, and every #anchor exists there."""
    broken: list[str] = []
    id_cache: dict[Path, set[str]] = {}
    for name in PAGES:
        source = HTML / name
        soup = BeautifulSoup(source.read_text(encoding="utf-8"), "html.parser")
        for a in soup.find_all("a", href=True):
            href = a["href"]
            if urlparse(href).scheme or href.startswith(("mailto:", "javascript:")):
                continue
            target_part, fragment = urldefrag(href)
            target = (source.parent / unquote(target_part)).resolve() if target_part else source
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{name}: {href} (no such file)")
                continue
            if fragment and target.suffix == ".html":
                ids = id_cache.setdefault(target, _ids(target))
                if unquote(fragment) not in ids:
                    broken.append(f"{name}: {href} (no anchor #{fragment})")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:40])


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_cleanly(page, site_url, name):
    """No console errors, every image loaded, math typeset, no traceback on the page."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400
            else None)
    page.goto(f"{site_url}/{name}", wait_until="networkidle")

    broken_images = page.evaluate(
        "() => Array.from(document.images)"
        ".filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src)")
    assert not broken_images, f"images that did not load: {broken_images}"

    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", state="attached", timeout=15_000)
        unrendered = page.evaluate(
            "() => Array.from(document.querySelectorAll('.math'))"
            ".filter(el => !el.querySelector('mjx-container')).length")
        assert unrendered == 0, f"{unrendered} formulas were not typeset by MathJax"

    body = page.inner_text("article") if page.locator("article").count() else ""
    assert "Traceback (most recent call last)" not in body, "a traceback is shown on the page"
    assert not errors, f"console errors: {errors}"


MACHINE_PATH = re.compile(r"(/root/|/home/\w+/|/work/|site-packages|/\.venv/)")


@pytest.mark.parametrize("name", PAGES)
def test_no_page_shows_a_path_of_the_build_machine(name):
    """A warning or error that names the build machine's files (a venv path, a home folder) must
    not reach a reader, nor the search index."""
    soup = BeautifulSoup((HTML / name).read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article") or soup
    hits = sorted({m.group(0) for m in MACHINE_PATH.finditer(article.get_text())})
    assert not hits, f"{name} shows machine paths: {hits}"


def test_flags_keep_their_two_hyphens():
    """`--cpu` is not typeset as an en dash anywhere (smartquotes_action leaves dashes alone)."""
    dashed = [name for name in PAGES
              if re.search(r"\u2013(cpu|multi_gpu|no-deps|min-confidence|trace)\b",
                           (HTML / name).read_text(encoding="utf-8"))]
    assert not dashed, f"flags shown with an en dash in: {dashed}"


def test_search_finds_a_term_from_the_attention_chapter(page, site_url):
    page.goto(f"{site_url}/search.html?q=softmax", wait_until="networkidle")
    page.wait_for_selector("#search-results li", timeout=20_000)
    hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    assert any(re.search(r"notebooks/03_attention\.html", h) for h in hrefs), hrefs


def _open_chapter(page, site_url: str, name: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{site_url}/{name}", wait_until="networkidle")
    if page.locator(".math").count():
        page.wait_for_selector("mjx-container", state="attached", timeout=15_000)
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")


def _screenshot(page, name: str, width: int) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}_{width}px.png"), full_page=True)


def _assert_page_fits(page, width: int) -> None:
    page_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert page_width <= width, f"the page is {page_width} px wide in a {width} px window"


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_code_cell_or_output_scrolls_sideways_at_desktop_width(page, site_url, name):
    """At 1400 px every line of code and every output fits the text column (they wrap)."""
    _open_chapter(page, site_url, name, DESKTOP)
    _screenshot(page, name, DESKTOP)
    scrolling = page.evaluate(SCROLLING_IN_CELLS)
    assert not scrolling, f"{len(scrolling)} cell parts scroll sideways: {scrolling[:10]}"
    _assert_page_fits(page, DESKTOP)


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_display_equation_is_clipped_on_a_phone(page, site_url, name):
    """At 390 px a wide equation scrolls inside its box; nothing is cut off, the page does not
    scroll sideways."""
    _open_chapter(page, site_url, name, PHONE)
    _screenshot(page, name, PHONE)
    clipped = page.evaluate(CLIPPED_EQUATIONS)
    assert not clipped, f"{len(clipped)} display equations are clipped: {clipped}"
    _assert_page_fits(page, PHONE)


def test_gpu_cells_are_marked(page, site_url):
    """A GPU-only cell (tag `gpu`) is visibly marked, and its skip line is shown."""
    checked = 0
    for name in CHAPTERS:
        if 'tag_gpu' not in (HTML / name).read_text(encoding="utf-8"):
            continue
        _open_chapter(page, site_url, name, DESKTOP)
        cell = page.locator("div.cell.tag_gpu").first
        badge = cell.evaluate("el => getComputedStyle(el, '::before').content")
        border = cell.evaluate("el => getComputedStyle(el).borderLeftWidth")
        assert "GPU" in badge and border != "0px", (name, badge, border)
        assert "[skipped]" in cell.inner_text(), f"{name}: the GPU cell shows no skip line"
        checked += 1
    assert checked, "no chapter has a GPU cell to check"
