"""The built HTML book: offline, searchable in Chinese, no stray spaces inside Chinese text, a link to the
repository on every page, no empty index page, one output box per printed stream."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
import yaml

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


# A space between two Chinese characters (or Chinese punctuation): in the HTML it comes from a line
# break inside a paragraph of the Markdown source (never hard-wrap Chinese prose).
CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d"
STRAY_SPACE = re.compile(f"[{CJK}][ \t\r\n]+(?=[{CJK}])")


class _ProseText(HTMLParser):
    """The text of a page as a reader sees it: code, math, scripts and styles become a placeholder "X",
    and the edges of block elements a boundary, so that only spaces inside a run of text are seen."""

    SKIP = {"script", "style", "pre", "code", "kbd", "math", "svg", "noscript", "mjx-container"}
    INLINE = {"a", "span", "strong", "em", "b", "i", "sup", "sub", "abbr", "small", "mark", "u", "s", "q", "cite", "time"}
    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area", "base", "embed", "param", "track"}

    def __init__(self):
        super().__init__()
        self.skipping: list[bool] = []  # per open element: inside something that is not prose?
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.INLINE:
            self.chunks.append("\x00")  # a block edge: text on either side is not one run
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        skip = tag in self.SKIP or "math" in classes
        if skip and not (self.skipping and self.skipping[-1]):
            self.chunks.append("X")
        self.skipping.append(bool(self.skipping and self.skipping[-1]) or skip)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.skipping:
            self.skipping.pop()
        if tag not in self.INLINE:
            self.chunks.append("\x00")

    def handle_data(self, data):
        if not (self.skipping and self.skipping[-1]):
            self.chunks.append(data)


def _prose(page) -> str:
    parser = _ProseText()
    parser.feed(page.read_text(encoding="utf-8"))
    return "".join(parser.chunks)


def test_no_stray_spaces_between_chinese_characters(html_dir, book_pages):
    found = {}
    for page in book_pages:
        text = _prose(page)
        hits = [text[max(0, m.start() - 8):m.end() + 8].replace("\n", "⏎") for m in STRAY_SPACE.finditer(text)]
        if hits:
            found[str(page.relative_to(html_dir))] = hits
    total = sum(len(v) for v in found.values())
    assert not found, f"{total} stray spaces inside Chinese text (join the source lines of each paragraph): {found}"


def test_stray_space_detector_sees_a_hard_wrapped_paragraph(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<p>包含关系；\n再讲</p><pre>代码 里\n的空格</pre><p>样例图片 （颐和园）</p><p>ReLU 函数 and x</p>"
                    "<ul><li>图像</li>\n<li>激活</li></ul><p>向量 <span class=\"math\">\\(x\\)</span> 的<code>f</code> 值</p>",
                    encoding="utf-8")
    assert [m.group() for m in STRAY_SPACE.finditer(_prose(page))] == ["；\n", "片 "]


def _repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"]


def test_every_page_links_the_repository(html_dir, book_pages):
    url = _repository_url()
    assert url.startswith("https://"), url
    missing = [str(p.relative_to(html_dir)) for p in book_pages if f'href="{url}' not in p.read_text(encoding="utf-8")]
    assert not missing, f"pages without a link to {url}: {missing}"


def test_no_empty_index_page(html_dir):
    """The book has no index entries: no general index page, and no link to one."""
    assert not (html_dir / "genindex.html").exists()
    linking = [str(p.relative_to(html_dir)) for p in html_dir.rglob("*.html") if "genindex.html" in p.read_text(encoding="utf-8")]
    assert not linking, linking


def test_one_output_box_per_stream(html_dir, book_pages):
    """Consecutive prints of a cell show in one box (myst-nb merges the chunks the kernel sent)."""
    split = {}
    for page in book_pages:
        html = page.read_text(encoding="utf-8")
        twice = re.findall(r'<div class="output stream[^"]*">(?:(?!<div class="cell[ _]).)*?</div>\s*</div>\s*'
                           r'<div class="output stream', html, flags=re.S)
        if twice:
            split[str(page.relative_to(html_dir))] = len(twice)
    assert not split, split


def test_no_markdown_emphasis_marks_left_in_prose(html_dir, book_pages):
    """`**粗体。**后文` is not bold in Markdown (a closing ** after punctuation needs a space or punctuation
    after it): end the bold before the punctuation, `**粗体**。后文`."""
    left = {}
    for page in book_pages:
        text = _prose(page)
        hits = [text[max(0, m.start() - 10):m.end() + 10] for m in re.finditer(r"\*\*|__", text)]
        if hits:
            left[str(page.relative_to(html_dir))] = hits
    assert not left, left
