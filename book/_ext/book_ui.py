"""Sphinx extension: the book reads well on a phone, a tablet, a desktop and on paper, in Chinese.

- Layout (static/cnnlab-book.css): display math and tables never widen the page (a wide table
  scrolls in its own box), narrow table columns do not wrap one character per line, figures are
  shown at most column-wide and open full size on a click (static/cnnlab-book.js), and a print
  style that scripts/build-pdf.sh uses for the PDF of the whole book.
- Navigation below 992 px: templates/sections/header.html drops the pydata header's hidden sidebar
  toggles, so the theme's script binds its sidebar dialogs to the visible buttons.
- Chinese interface: the theme words that have no Chinese translation come from locale/ (compiled at
  build time) or templates/; the few hard-coded in theme templates are replaced in the page (HARD_CODED).
  The general index is not built (the book has no index entries, so it was an empty page).
- Search snippets (static/cnnlab-book.js): no raw TeX, no text of the page's buttons and menus.
- Chinese line breaks: a line break between two Chinese characters inside a paragraph of the source
  is dropped, not turned into a space (as pandoc's east_asian_line_breaks does); authors still write
  one paragraph per line, and tests/book/test_html.py counts any space left between Chinese characters.
- The way to the code: the repository URL of _config.yml (``repository: url:``) is linked from the
  header and the footer of every page and is the MyST substitution ``{{ repository_link }}``.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.errors import ConfigError

HERE = Path(__file__).resolve().parent

# Interface words that theme templates and myst-nb write in English without asking gettext.
HARD_CODED = {
    'aria-label="Main"': 'aria-label="章节目录"',
    '<nav aria-label="Page">': '<nav aria-label="本页目录">',
    'aria-label="Toggle hidden content"': 'aria-label="显示或隐藏内容"',
}

# Book-theme header buttons: tooltips as they should read in a Chinese book (theme's zh_CN says 列印).
BUTTON_TOOLTIPS = {"列印成 PDF": "打印本页（或存为 PDF）", "Print to PDF": "打印本页（或存为 PDF）",
                   "Source repository": "代码仓库", "Download source file": "下载源文件",
                   "Download this page": "下载此页面", "Fullscreen mode": "全屏模式"}


def _compile_catalog(app) -> Path:
    """locale/zh_CN/LC_MESSAGES/sphinx.po -> a .mo in the build's doctree folder (nothing in the source tree)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    out = Path(app.doctreedir) / "cnnlab_locale"
    for po in (HERE / "locale").glob("*/LC_MESSAGES/*.po"):
        mo = out / po.relative_to(HERE / "locale").with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as source, mo.open("wb") as target:
            write_mo(target, read_po(source))
    return out


def _configure(app, config) -> None:
    config.html_static_path.append(str(HERE / "static"))
    config.templates_path.insert(0, str(HERE / "templates"))
    config.html_use_index = False  # no index entries in the book: the page would be empty
    # myst-nb's folded code cells and sphinx-togglebutton's hints, in Chinese
    config.nb_code_prompt_show = "显示代码"
    config.nb_code_prompt_hide = "隐藏代码"
    config.togglebutton_hint = "点击显示"
    config.togglebutton_hint_hide = "点击隐藏"
    # one output box per print: without this, a print that reaches the kernel in two chunks shows as two boxes
    config.nb_merge_streams = True

    options = config.html_theme_options
    url = options.get("repository_url", "")
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"book_ui: _config.yml must give the course repository as repository: url: "
                          f"https://..., got {url!r}")
    link = f'<a href="{url}">{url}</a>'
    options["extra_footer"] = f"<p>本书、<code>cnnlab</code> 程序包与全部实验的源代码：{link}</p>"
    config.myst_substitutions = {**(config.myst_substitutions or {}), "repository_link": f"[{url}]({url})",
                                 "repository_url": url}


def _chinese_context(app, pagename, templatename, context, doctree) -> None:
    for button in context.get("header_buttons", []):
        for entry in [button, *button.get("buttons", [])]:
            for key in ("tooltip", "label"):
                if entry.get(key) in BUTTON_TOOLTIPS:
                    entry[key] = BUTTON_TOOLTIPS[entry[key]]


CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d"
SOFT_BREAK = re.compile(f"(?<=[{CJK}])[ \t]*\n[ \t]*(?=[{CJK}])")
NOT_PROSE = (nodes.literal_block, nodes.literal, nodes.math, nodes.math_block, nodes.raw, nodes.comment)


def _block(node):
    """The paragraph (or title, list item text, ...) a text node belongs to."""
    parent = node.parent
    while isinstance(parent, nodes.Inline) and parent.parent is not None:
        parent = parent.parent
    return parent


def _join_chinese_line_breaks(app, doctree, docname) -> None:
    texts = [t for t in doctree.findall(nodes.Text)
             if not any(isinstance(a, NOT_PROSE) for a in _ancestors(t))]
    new = {id(t): str(t) for t in texts}
    for t in texts:
        new[id(t)] = SOFT_BREAK.sub("", new[id(t)])
    # a break at the edge of an inline element: "**树突**\n（dendrite）"
    for before, after in zip(texts, texts[1:]):
        a, b = new[id(before)], new[id(after)]
        if _block(before) is not _block(after):
            continue
        head, tail = a.rstrip(" \t\n"), b.lstrip(" \t\n")
        gap = a[len(head):] + b[:len(b) - len(tail)]
        if "\n" in gap and head and tail and re.match(f"[{CJK}]", head[-1]) and re.match(f"[{CJK}]", tail[0]):
            new[id(before)], new[id(after)] = head, tail
    for t in texts:
        if new[id(t)] != str(t):
            t.parent.replace(t, nodes.Text(new[id(t)]))


def _ancestors(node):
    while node.parent is not None:
        node = node.parent
        yield node


def _replace_hard_coded(app) -> None:
    if app.builder.format != "html":
        return
    templates = app.builder.templates
    render = templates.render

    def render_in_chinese(template, context):
        html = render(template, context)
        for english, chinese in HARD_CODED.items():
            html = html.replace(english, chinese)
        return html

    templates.render = render_in_chinese


def setup(app):
    app.add_message_catalog("sphinx", str(_compile_catalog(app)))
    app.connect("config-inited", _configure, priority=400)  # before sphinx-togglebutton reads its hints (500)
    app.connect("builder-inited", _replace_hard_coded)
    app.connect("html-page-context", _chinese_context, priority=900)
    app.connect("doctree-resolved", _join_chinese_line_breaks)
    app.add_css_file("cnnlab-book.css")
    app.add_js_file("cnnlab-book.js", defer="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
