"""Print the built HTML book (_build/html) as one PDF with the system Chromium, offline.

usage: .venv/bin/python scripts/build_pdf.py [--html _build/html] [--out _build/pdf/cnnlab-book.pdf]

The pages are served from 127.0.0.1 and joined, in the order of _toc.yml, into one document: a
title page, a table of contents with page numbers, then every chapter on a new page. MathJax
typesets the math as on screen, figures stay vector (SVG), Chinese text is real text in embedded
Noto CJK fonts (selectable, searchable), code wraps at the margin (the book's print style in
book/_ext/static/cnnlab-book.css), and every page has its number in the footer. The table of
contents is printed twice: the first print tells on which page each chapter starts (from the PDF's
own links), the second prints those numbers.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import re
import shutil
import sys
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
FOOTER = ('<div style="width:100%;font-size:9px;color:#555;text-align:center;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def toc_entries(toc_file: Path) -> list[tuple[str | None, str]]:
    """(part caption or None, docname) for every page of the book, in reading order."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    entries = [(None, toc["root"])]
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            entries.append((part.get("caption"), chapter["file"]))
    return entries


# Runs in the browser on the root page: replace its article with the whole book.
ASSEMBLE = """async ({entries, title, author}) => {
  const article = document.querySelector("article.bd-article");
  const base = location.href;
  const chapters = [];
  const docOf = (url) => { const u = new URL(url); u.hash = ""; return u.href; };
  const ids = new Map(entries.map((e, i) => [docOf(new URL(e.doc + ".html", new URL("/", base)).href), "c" + i]));
  for (const [i, entry] of entries.entries()) {
    const url = new URL(entry.doc + ".html", new URL("/", base)).href;
    const html = await (await fetch(url)).text();
    const page = new DOMParser().parseFromString(html, "text/html");
    const content = page.querySelector("article.bd-article");
    if (!content) throw new Error("no article in " + url);
    // make every link and image absolute, ids unique per chapter, links between pages internal
    content.querySelectorAll("[src]").forEach(el => el.setAttribute("src", new URL(el.getAttribute("src"), url).href));
    content.querySelectorAll("[id]").forEach(el => el.id = `c${i}-${el.id}`);
    content.querySelectorAll("a[href]").forEach(a => {
      const target = new URL(a.getAttribute("href"), url);
      const chapter = ids.get(docOf(target.href));
      if (chapter) a.setAttribute("href", target.hash ? `#${chapter}-${decodeURIComponent(target.hash.slice(1))}` : `#${chapter}`);
      else a.setAttribute("href", target.href);
    });
    const h1 = content.querySelector("h1");
    const section = document.createElement("section");
    section.className = "pdf-chapter";
    section.id = "c" + i;
    section.append(...content.childNodes);
    chapters.push({section, part: entry.part, title: h1 ? h1.textContent.replace(/#$/, "").trim() : entry.doc});
  }
  // title page and table of contents
  const front = document.createElement("section");
  front.className = "pdf-front";
  let toc = `<div class="pdf-title"><h1>${title}</h1><p>${author}</p></div><nav class="pdf-toc"><h2>目录</h2><ol>`;
  let part = null;
  for (const [i, ch] of chapters.entries()) {
    if (ch.part && ch.part !== part) { toc += `<li class="pdf-toc-part">${ch.part}</li>`; part = ch.part; }
    toc += `<li><a href="#c${i}"><span class="pdf-toc-title">${ch.title}</span><span class="pdf-toc-page" data-chapter="c${i}">000</span></a></li>`;
  }
  front.innerHTML = toc + "</ol></nav>";
  article.replaceChildren(front, ...chapters.map(c => c.section));
  // on paper: answers open, folded code stays folded (its summary says nothing on paper)
  article.querySelectorAll(".toggle-hidden").forEach(el => el.classList.remove("toggle-hidden"));
  article.querySelectorAll("details:not(.hide)").forEach(d => d.open = true);
  article.querySelectorAll(".toggle-button").forEach(el => el.remove());
  if (window.MathJax && MathJax.typesetPromise) { await MathJax.startup.promise; await MathJax.typesetPromise([article]); }
  await Promise.all([...document.images].map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  return chapters.map(c => c.title);
}"""

PDF_CSS = """
@media print {
  .pdf-front .pdf-title { text-align: center; margin-top: 30vh; break-after: page; }
  .pdf-front .pdf-title h1 { font-size: 2.2em; }
  .pdf-toc ol { list-style: none; padding: 0; }
  .pdf-toc li { margin: 0.25em 0; }
  .pdf-toc li.pdf-toc-part { font-weight: bold; margin-top: 0.8em; }
  .pdf-toc a { display: flex; gap: 0.5em; color: inherit; }
  .pdf-toc .pdf-toc-title { flex: 1; border-bottom: 1px dotted #999; }
  .pdf-toc .pdf-toc-page { min-width: 2.5em; text-align: right; }
  section.pdf-chapter { break-before: page; }
  details.hide > summary { display: none; }
}
"""


def chapter_pages(pdf_bytes: bytes) -> dict[str, int]:
    """chapter id ("c3") -> 1-based page where it starts, from the PDF's named destinations.

    Chromium writes one named destination for each element a link points at: the table of
    contents links every chapter, so every chapter's start is one.
    """
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf_bytes))
    pages = {}
    for name, dest in reader.named_destinations.items():
        key = name.lstrip("/")
        if re.fullmatch(r"c\d+", key):
            pages[key] = reader.get_destination_page_number(dest) + 1
    return pages


# Chromium writes the text of a CJK glyph as the lowest code point the font maps to it. Noto CJK draws
# the Kangxi radicals (U+2F00-2FDF) and the CJK radicals supplement (U+2E80-2EFF) with the same glyphs
# as common characters, so 网 would be copied and searched as the radical ⽹. Map them back.
RADICALS = range(0x2E80, 0x2FE0)
UNIFIED = (range(0x3400, 0xA000), range(0xF900, 0xFB00), range(0x20000, 0x32000))


@functools.lru_cache(maxsize=None)
def _radical_map(family: str) -> dict[int, int]:
    """radical code point -> the ideograph the font family draws with the same glyph."""
    import subprocess

    import matplotlib.ft2font as ft2font

    found = subprocess.run(["fc-match", "-f", "%{file}\n%{index}", family], capture_output=True, text=True).stdout.split("\n")
    if len(found) < 2 or not found[0]:
        return {}
    font = ft2font.FT2Font(found[0], face_index=int(found[1] or 0))
    charmap = font.get_charmap()  # code point -> glyph
    by_glyph: dict[int, list[int]] = {}
    for code, glyph in charmap.items():
        by_glyph.setdefault(glyph, []).append(code)
    mapping = {}
    for code, glyph in charmap.items():
        if code in RADICALS:
            same = [c for c in by_glyph[glyph] if any(c in block for block in UNIFIED)]
            if same:
                mapping[code] = min(same)
    return mapping


def _fix_cmap(cmap: str, mapping: dict[int, int]) -> str:
    """Rewrite a ToUnicode CMap: radicals become ideographs (ranges through radicals become single entries)."""
    single = []

    def char(match):
        source, target = match.group(1), int(match.group(2), 16)
        return f"<{source}> <{mapping.get(target, target):04X}>"

    def ranges(block):
        kept = []
        for line in block.group(1).strip().splitlines():
            m = re.fullmatch(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]{4})>", line.strip())
            if not m:
                kept.append(line)
                continue
            first, last, target = int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)
            if not any(target + k in mapping for k in range(last - first + 1)):
                kept.append(line)
                continue
            width = len(m.group(1))
            single += [f"<{first + k:0{width}X}> <{mapping.get(target + k, target + k):04X}>" for k in range(last - first + 1)]
        return f"{len(kept)} beginbfrange\n" + "\n".join(kept) + "\nendbfrange" if kept else ""

    cmap = re.sub(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]{4})>(?=\s*(?:<[0-9A-Fa-f]+>\s*<|endbfchar))", char, cmap)
    cmap = re.sub(r"\d+\s+beginbfrange(.*?)endbfrange", ranges, cmap, flags=re.S)
    blocks = [single[k:k + 100] for k in range(0, len(single), 100)]
    extra = "".join(f"{len(b)} beginbfchar\n" + "\n".join(b) + "\nendbfchar\n" for b in blocks)
    return cmap.replace("endcmap", extra + "endcmap", 1)


def searchable_cjk(pdf_bytes: bytes) -> bytes:
    """The PDF with the text of every CJK font mapped to ideographs instead of radicals."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes)))
    done = set()
    for page in writer.pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for ref in fonts.values():
            font = ref.get_object()
            descriptors = [font.get("/FontDescriptor")] + [d.get_object().get("/FontDescriptor")
                                                            for d in font.get("/DescendantFonts") or []]
            family = next((str(d.get_object().get("/FontFamily")) for d in descriptors
                           if d is not None and "CJK" in str(d.get_object().get("/FontFamily", ""))), None)
            to_unicode = font.get("/ToUnicode")
            if family is None or to_unicode is None or id(to_unicode.get_object()) in done:
                continue
            stream = to_unicode.get_object()
            done.add(id(stream))
            fixed = _fix_cmap(stream.get_data().decode("latin-1"), _radical_map(family))
            stream.set_data(fixed.encode("latin-1"))  # pypdf compresses it again with the stream's filter
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def build_pdf(html_dir: Path, out: Path, chromium: str | None = None, browser=None) -> dict:
    """Print html_dir as one PDF into out; returns {"chapters": {title: first page}, "bytes": size}.

    Give either the Chromium executable or a running Playwright browser (the tests share theirs).
    """
    if not (html_dir / "index.html").is_file():
        raise SystemExit(f"build_pdf: no built book in {html_dir}; run `bash scripts/build-book.sh` first")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    entries = [{"part": part, "doc": doc} for part, doc in toc_entries(ROOT / "_toc.yml")]
    missing = [e["doc"] for e in entries if not (html_dir / f"{e['doc']}.html").is_file()]
    if missing:
        raise SystemExit(f"build_pdf: pages of _toc.yml missing from {html_dir}: {missing}")

    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        if browser is not None:
            pdf, starts, titles = _print(browser, base, entries, config)
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                own = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
                try:
                    pdf, starts, titles = _print(own, base, entries, config)
                finally:
                    own.close()
    finally:
        server.shutdown()
        server.server_close()
    pdf = searchable_cjk(pdf)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    return {"chapters": dict(zip(titles, (starts[f"c{i}"] for i in range(len(titles))))), "bytes": len(pdf)}


def _print(browser, base: str, entries: list[dict], config: dict) -> tuple[bytes, dict[str, int], list[str]]:
    """The book joined into one page of the browser and printed twice (the second time with page numbers in
    the table of contents); returns the PDF, each chapter's first page and the chapter titles."""
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    try:
        outside = []
        page.on("request", lambda r: r.url.startswith(("http:", "https:")) and not r.url.startswith(base)
                and outside.append(r.url))
        page.goto(base + entries[0]["doc"] + ".html", wait_until="networkidle")
        titles = page.evaluate(ASSEMBLE, {"entries": entries, "title": config["title"], "author": config["author"]})
        page.add_style_tag(content=PDF_CSS)
        page.emulate_media(media="print")
        options = dict(format="A4", print_background=True, display_header_footer=True, header_template="<div></div>",
                       footer_template=FOOTER, margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
                       outline=True, tagged=True)
        starts = chapter_pages(page.pdf(**options))
        if len(starts) != len(entries):
            raise SystemExit(f"build_pdf: found the first page of {len(starts)} of {len(entries)} chapters in the PDF")
        page.evaluate("""starts => document.querySelectorAll(".pdf-toc-page").forEach(
            el => el.textContent = starts[el.dataset.chapter])""", starts)
        pdf = page.pdf(**options)
    finally:
        page.close()
    if outside:
        raise SystemExit(f"build_pdf: the pages asked for files from another host: {outside[:5]}")
    return pdf, starts, titles


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "cnnlab-book.pdf")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = parser.parse_args(argv)
    if not args.chromium:
        raise SystemExit("build_pdf: needs the system Chromium (Debian: apt-get install chromium fonts-noto-cjk)")
    result = build_pdf(args.html, args.out, args.chromium)
    for title, start in result["chapters"].items():
        print(f"{start:4d}  {title}")
    print(f"build_pdf: {args.out} ({result['bytes'] / 1e6:.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
