"""Open the built book in headless Chromium, as a reader would.

Each page: math is typeset by the local MathJax (no raw $...$ left), every image loads, no request
fails or leaves 127.0.0.1, no console error, and Chinese text is drawn with a CJK font. The search
page finds a Chinese term. Skips with the reason where Chromium is absent (.ci/run installs it).
"""

from __future__ import annotations

import re

import pytest

from .conftest import CHROMIUM, PageVisit

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")


def _visit_every_page(browser, book_server, book_pages, html_dir, check):
    failures = {}
    for path in book_pages:
        rel = path.relative_to(html_dir).as_posix()
        visit = PageVisit(browser, book_server + rel)
        try:
            problems = visit.problems + check(visit.page, path)
        finally:
            visit.close()
        if problems:
            failures[rel] = problems
    assert not failures, failures


def test_pages_load_cleanly_with_all_images(browser, book_server, book_pages, html_dir):
    def check(page, path):
        broken = page.evaluate("""() => [...document.images]
            .filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src)""")
        return [f"image did not load: {src}" for src in broken]

    _visit_every_page(browser, book_server, book_pages, html_dir, check)


def test_math_is_typeset(browser, book_server, book_pages, html_dir):
    with_math = [p for p in book_pages if 'class="math' in p.read_text(encoding="utf-8")]
    assert with_math, "no page of the book has math"

    def check(page, path):
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        problems = []
        math = page.locator(".math").count()
        typeset = page.locator("mjx-container").count()
        if typeset < math:
            problems.append(f"{math} math elements but only {typeset} typeset by MathJax")
        text = page.evaluate("""() => { const main = document.querySelector('main') || document.body;
            const copy = main.cloneNode(true); copy.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
            return copy.innerText; }""")
        raw = re.findall(r"\$\$?[^$\n]{1,80}\$\$?|\\\(|\\\[", text)
        if raw:
            problems.append(f"raw TeX left on the page: {raw[:3]}")
        return problems

    _visit_every_page(browser, book_server, with_math, html_dir, check)


def test_chinese_text_renders_with_a_cjk_font(browser, book_server, html_dir):
    visit = PageVisit(browser, book_server + "book/intro.html")
    try:
        cdp = visit.page.context.new_cdp_session(visit.page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        paragraph = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "main p"})["nodeId"]
        assert paragraph, "intro has no paragraph in <main>"
        # the fonts Chromium really drew the paragraph's glyphs with, not the CSS font stack
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": paragraph})["fonts"]
    finally:
        visit.close()
    assert visit.problems == []
    cjk = [f for f in fonts if any(word in f["familyName"] for word in ("CJK", "Hei", "Song", "Ming", "Kai"))]
    assert cjk and max(f["glyphCount"] for f in cjk) > 20, \
        f"Chinese text drawn with {fonts}; install a CJK font (Debian: fonts-noto-cjk)"


def test_search_page_finds_a_chinese_term(browser, book_server):
    visit = PageVisit(browser, book_server + "search.html?q=梯度下降")
    try:
        visit.page.wait_for_selector("#search-results li a", timeout=30_000)
        hits = visit.page.eval_on_selector_all("#search-results li a", "links => links.map(a => a.href)")
    finally:
        visit.close()
    assert visit.problems == []
    assert any("intro" in h for h in hits), hits
