"""The book reads well on a desktop (1280 px), a tablet (800 px) and a phone (390 px), in Chromium.

Over every page: nothing is clipped and the page never scrolls sideways (layout.js), figures are
sharp and their text is as large as the body text, and a click shows a figure full size. Below
992 px the chapter list and the page's table of contents open from their buttons and lead to
other pages. The interface speaks Chinese, and search results show clean snippets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import CHROMIUM, PageVisit
from .test_html import STRAY_SPACE

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")

WIDTHS = (1280, 800, 390)
LAYOUT_JS = (Path(__file__).with_name("layout.js")).read_text(encoding="utf-8")
CHAPTER = "book/part1/02_neuron.html"  # a chapter with math, tables, figures and folded code


def _typeset(page) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")


def test_nothing_is_clipped_at_any_width(browser, book_server, book_pages, html_dir):
    """Equations fit the column, tables fit or scroll in their own box, no column wraps per character."""
    failures = {}
    for path in book_pages:
        rel = path.relative_to(html_dir).as_posix()
        visit = PageVisit(browser, book_server + rel)
        try:
            _typeset(visit.page)
            for width in WIDTHS:
                visit.page.set_viewport_size({"width": width, "height": 900})
                visit.page.wait_for_timeout(150)  # let the layout settle at the new width
                problems = [f"{kind}: {what}" for kind, found in visit.page.evaluate(LAYOUT_JS).items() for what in found]
                if problems:
                    failures[f"{rel} at {width} px"] = problems
        finally:
            visit.close()
    assert not failures, failures


FIGURE_TEXT_JS = """async () => {
  const body = parseFloat(getComputedStyle(document.querySelector("main p") || document.body).fontSize);
  const out = [];
  for (const img of document.querySelectorAll(".cell_output img")) {
    const name = img.getAttribute("src").split("/").pop();
    const shown = img.getBoundingClientRect().width;
    if (!img.src.endsWith(".svg")) {
      if (img.naturalWidth < 2 * shown) out.push(`${name}: a ${img.naturalWidth} px raster shown ${Math.round(shown)} px wide (needs 2x, or SVG)`);
      continue;
    }
    // matplotlib draws each text as a group scaled by fontsize/100 (pt); the SVG's units are pt
    const svg = await (await fetch(img.src)).text();
    const sizes = [...svg.matchAll(/scale\\(([0-9.]+) -\\1\\)/g)].map(m => 100 * parseFloat(m[1]));
    if (!sizes.length) continue;
    const px = Math.min(...sizes) * (96 / 72) * shown / img.naturalWidth;
    if (px < body - 1) out.push(`${name}: smallest text ${Math.min(...sizes).toFixed(1)} pt shows as ${px.toFixed(1)} px, body text is ${body} px`);
  }
  return out;
}"""


def test_figures_are_sharp_and_their_text_is_body_size(browser, book_server, book_pages, html_dir):
    """At 1280 px (the 688 px column): SVG, or a raster at twice its displayed size; text >= body text - 1 px."""
    with_figures = [p for p in book_pages if 'class="cell_output' in p.read_text(encoding="utf-8")
                    and "<img" in p.read_text(encoding="utf-8")]
    assert with_figures, "no page of the book has a figure"
    failures = {}
    for path in with_figures:
        rel = path.relative_to(html_dir).as_posix()
        visit = PageVisit(browser, book_server + rel, width=1280)
        try:
            problems = visit.page.evaluate(FIGURE_TEXT_JS)
        finally:
            visit.close()
        if problems:
            failures[rel] = problems
    assert not failures, failures


def test_a_click_shows_a_figure_full_size(browser, book_server):
    visit = PageVisit(browser, book_server + CHAPTER, width=390)
    try:
        page = visit.page
        figure = page.locator(".cell_output img").first
        figure.scroll_into_view_if_needed()
        shown = figure.bounding_box()["width"]
        figure.click()
        big = page.locator(".cnnlab-lightbox img")
        big.wait_for(state="visible")
        natural = page.evaluate("() => document.querySelector('.cell_output img').naturalWidth")
        assert big.bounding_box()["width"] >= max(natural, 390) - 1 > shown
        page.keyboard.press("Escape")
        assert page.locator(".cnnlab-lightbox").count() == 0
    finally:
        visit.close()
    assert visit.problems == []


@pytest.mark.parametrize("width", [390, 800])
def test_chapter_list_opens_and_leads_to_another_chapter_below_992px(browser, book_server, width):
    visit = PageVisit(browser, book_server + CHAPTER, width=width)
    try:
        page = visit.page
        page.locator(".bd-header-article .primary-toggle").click()
        dialog = page.locator("#pst-primary-sidebar-modal")
        dialog.wait_for(state="visible", timeout=5_000)
        dialog.get_by_role("link", name="激活函数", exact=True).click()
        page.wait_for_url("**/03_activations.html")
        # the page's own table of contents opens too
        page.locator(".bd-header-article .secondary-toggle").click()
        toc = page.locator("#pst-secondary-sidebar-modal")
        toc.wait_for(state="visible", timeout=5_000)
        assert toc.locator("nav a").count() > 2
    finally:
        visit.close()
    assert visit.problems == []


# Words of the interface (buttons, tooltips, labels, menus); the book's own text is checked elsewhere.
INTERFACE_JS = """() => {
  const words = [];
  // the book's own words: chapter titles in the navigation, search results (checked by test_search_snippets_are_clean)
  const skip = "script, style, noscript, code, pre, kbd, .math, mjx-container, nav.bd-docs-nav, nav.bd-toc-nav, #search-results";
  for (const el of document.querySelectorAll("body *")) {
    for (const attr of ["title", "aria-label", "placeholder", "data-bs-title"]) {
      const value = el.getAttribute(attr);
      if (value) words.push(value);
    }
    if (el.closest(skip)) continue;
    const inArticle = el.closest("article.bd-article");
    const control = el.closest("button, summary, label, .toggle-button, .dropdown-menu, .admonition-title");
    if (inArticle && !control) continue;
    for (const node of el.childNodes) {
      if (node.nodeType === 3 && node.data.trim()) words.push(node.data.trim());
    }
  }
  return words;
}"""
# Names, not words of a language: file types, keys, the package and the tools the book is about.
ALLOWED = {"cnnlab", "Ctrl", "PDF", "pdf", "ipynb", "md", "GitHub", "Python", "Jupyter", "JupyterLab", "PyTorch",
           "NumPy", "CNN"}


@pytest.mark.parametrize("page_url", ["book/intro.html", CHAPTER, "search.html?q=卷积"])
def test_the_interface_speaks_chinese(browser, book_server, page_url):
    visit = PageVisit(browser, book_server + page_url)
    try:
        strings = visit.page.evaluate(INTERFACE_JS)
    finally:
        visit.close()
    english = sorted({s for s in strings
                      if [w for w in re.findall(r"[A-Za-z]{2,}", re.sub(r"https?://\S+", "", s)) if w not in ALLOWED]})
    assert not english, f"English interface words on {page_url}: {english}"


def test_search_snippets_are_clean(browser, book_server):
    """No raw TeX, no words of the page's buttons and menus, no stray spaces inside Chinese."""
    visit = PageVisit(browser, book_server + "search.html?q=权重")
    try:
        page = visit.page
        page.wait_for_selector("#search-results li p.context", timeout=30_000)
        page.wait_for_function("() => document.querySelector('#search-results .search-summary, #search-results p')")
        page.wait_for_timeout(2_000)  # snippets arrive one page at a time
        snippets = page.eval_on_selector_all("#search-results li p.context", "ps => ps.map(p => p.textContent)")
    finally:
        visit.close()
    assert len(snippets) >= 3, snippets
    bad = [s for s in snippets if re.search(r"\\\(|\\\[|\\mathbf|\\frac|\$", s) or re.search(r"\.ipynb\s*\.pdf|下载此页面|全屏模式|打印本页", s)
           or STRAY_SPACE.search(s)]
    assert not bad, bad


def test_code_wraps_on_paper(browser, book_server):
    """Printed (the PDF), a long code line wraps at the margin instead of being cut."""
    visit = PageVisit(browser, book_server + CHAPTER, width=800)
    try:
        page = visit.page
        page.emulate_media(media="print")
        cut = page.evaluate("""() => [...document.querySelectorAll("article pre")]
            .filter(pre => pre.offsetParent && pre.scrollWidth > pre.clientWidth + 1)
            .map(pre => pre.textContent.slice(0, 60))""")
    finally:
        visit.close()
    assert cut == []
