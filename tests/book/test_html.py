"""The built book is offline and searchable in Chinese."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from .conftest import ROOT

SEARCH_TERMS = ["梯度下降", "激活函数", "卷积层", "反向传播"]


class _Loads(HTMLParser):
    """Collect every URL a page loads by itself: scripts, styles, images, frames, media, fonts."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "video", "audio", "source", "embed") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("href") and ({"stylesheet", "preload", "icon", "modulepreload"}
                                                    & set((attrs.get("rel") or "").split())):
            self.urls.append(attrs["href"])
        self.urls += re.findall(r"url\(['\"]?(https?:)?//[^)'\"]+", attrs.get("style") or "")


def test_pages_load_nothing_from_another_host(html_dir):
    remote = {}
    for page in html_dir.rglob("*.html"):
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        bad = [u for u in parser.urls if re.match(r"(https?:)?//", u)]
        if bad:
            remote[str(page.relative_to(html_dir))] = bad
    assert not remote, f"pages load from other hosts: {remote}"


def test_css_loads_nothing_from_another_host(html_dir):
    remote = {str(css.relative_to(html_dir)): re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", css.read_text("utf-8", "replace"))
              for css in html_dir.rglob("*.css")}
    assert not {k: v for k, v in remote.items() if v}


def test_mathjax_is_served_from_the_build(html_dir, book_pages):
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()
    intro = (html_dir / "book" / "intro.html").read_text(encoding="utf-8")
    assert re.search(r'<script[^>]+src="\.\./_static/mathjax/tex-chtml\.js', intro), "intro does not load the local MathJax"
    assert "cdn.jsdelivr" not in intro


def _search_index(html_dir) -> dict:
    text = (html_dir / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def _page_text(docname: str) -> str:
    source = next(p for p in (ROOT / f"{docname}.md", ROOT / f"{docname}.ipynb") if p.is_file())
    return source.read_text(encoding="utf-8")


@pytest.mark.parametrize("term", SEARCH_TERMS)
def test_chinese_search_finds_whole_terms(html_dir, term):
    index = _search_index(html_dir)
    pages = set()
    for table in ("terms", "titleterms"):  # the search page looks in both
        hits = index[table].get(term, [])
        pages |= {index["docnames"][i] for i in ([hits] if isinstance(hits, int) else hits)}
    using = {d for d in index["docnames"] if term in _page_text(d)}
    assert using, f"no page of the book uses {term}"
    assert using <= pages, f"search for {term} returns {sorted(pages)}, but it is used in {sorted(using)}"
