"""The whole book as one PDF (scripts/build_pdf.py), printed from the built HTML by the system Chromium.

Checked on the PDF itself: one page or more per chapter plus the title page and the table of
contents, a page number on every page, the table of contents' page numbers point at the chapters'
first pages, Chinese text is real text in an embedded CJK font, math is typeset (MathJax's fonts,
no TeX source left) and the text of the chapters can be extracted.
"""

from __future__ import annotations

import importlib.util
import re

import pytest

from .conftest import CHROMIUM, ROOT

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
pypdf = pytest.importorskip("pypdf")


def _build_pdf_module():
    spec = importlib.util.spec_from_file_location("build_pdf", ROOT / "scripts" / "build_pdf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def book_pdf(html_dir, tmp_path_factory, browser):
    build_pdf = _build_pdf_module()
    out = tmp_path_factory.mktemp("pdf") / "book.pdf"
    result = build_pdf.build_pdf(html_dir, out, browser=browser)  # the session's Chromium (one Playwright per process)
    reader = pypdf.PdfReader(out)
    texts = [page.extract_text() or "" for page in reader.pages]
    return {"reader": reader, "texts": texts, "chapters": result["chapters"],
            "entries": build_pdf.toc_entries(ROOT / "_toc.yml")}


def test_every_chapter_starts_on_the_page_the_contents_say(book_pdf):
    texts, chapters = book_pdf["texts"], book_pdf["chapters"]
    assert len(chapters) == len(book_pdf["entries"])
    starts = list(chapters.values())
    assert starts == sorted(starts) and len(set(starts)) == len(starts), chapters
    assert len(texts) >= starts[-1] >= len(chapters) + 2  # title page + contents before the first chapter
    squeeze = lambda s: re.sub(r"\s+", "", s)  # noqa: E731  (extracted text may break lines anywhere)
    contents = squeeze(" ".join(texts[:starts[0] - 1]))
    for title, start in chapters.items():
        assert squeeze(title) in squeeze(texts[start - 1]), f"{title!r} is not on page {start}"
        assert re.search(re.escape(squeeze(title)) + r"\.*" + str(start), contents), f"contents lack {title!r} ... {start}"


def test_every_page_has_its_number(book_pdf):
    texts = book_pdf["texts"]
    missing = [n for n, text in enumerate(texts, 1) if not re.search(rf"(?<!\d){n}\s*/\s*{len(texts)}(?!\d)", text)]
    assert not missing, f"pages without 'n / {len(texts)}' in the footer: {missing[:10]}"


def _fonts(reader) -> set[str]:
    """Families of the fonts embedded in the PDF: a font program (FontFile*) or, for the Type 3 fonts
    Chromium makes of CFF fonts such as Noto CJK, the glyph outlines themselves (CharProcs)."""
    fonts = set()
    for page in reader.pages:
        for font in ((page.get("/Resources") or {}).get("/Font") or {}).values():
            font = font.get_object()
            for f in [font, *(d.get_object() for d in font.get("/DescendantFonts") or [])]:
                descriptor = f.get("/FontDescriptor")
                descriptor = descriptor.get_object() if descriptor is not None else {}
                if {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor) or "/CharProcs" in f:
                    fonts.add(str(descriptor.get("/FontFamily") or f.get("/BaseFont")))
    return fonts


def test_chinese_text_is_embedded_and_extractable(book_pdf):
    fonts = _fonts(book_pdf["reader"])
    assert any("CJK" in f for f in fonts), f"no embedded CJK font among {sorted(fonts)}"
    text = "".join(book_pdf["texts"])
    radicals = re.findall("[\u2e80-\u2fdf]", text)
    assert not radicals, f"{len(radicals)} characters extract as radicals (e.g. {radicals[:5]}), not as the ideographs"
    for phrase in ["卷积神经网络", "人工神经元", "激活函数", "训练集", "灰度"]:
        assert phrase in re.sub(r"\s+", "", text), f"{phrase!r} cannot be extracted from the PDF"


def test_math_is_typeset_not_tex(book_pdf):
    fonts = _fonts(book_pdf["reader"])
    assert any("MathJax" in f or "MJX" in f for f in fonts), f"no MathJax font embedded: {sorted(fonts)}"
    tex = [n for n, text in enumerate(book_pdf["texts"], 1) if re.search(r"\\\(|\\\[|\\frac|\\mathbf|\\sum", text)]
    assert not tex, f"TeX source left on pages {tex}"
