"""The rendered book, checked as a reader meets it: in a real browser, page by page."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest
from bs4 import BeautifulSoup

from .conftest import HTML, SCREENSHOTS, pages

PAGES = pages()


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

    if name.startswith("notebooks/"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / (Path(name).stem + ".png")))


def test_search_finds_a_term_from_the_attention_chapter(page, site_url):
    page.goto(f"{site_url}/search.html?q=softmax", wait_until="networkidle")
    page.wait_for_selector("#search-results li", timeout=20_000)
    hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.href)")
    assert any(re.search(r"notebooks/03_attention\.html", h) for h in hrefs), hrefs
