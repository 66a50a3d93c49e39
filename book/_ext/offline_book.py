"""Sphinx extension that keeps the book offline and searchable in Chinese.

- MathJax is served from the build's ``_static/mathjax`` (installed by scripts/build-book.sh from the npm
  registry), never from a CDN: a build without that copy stops with a message saying how to get it.
- Chinese search: Sphinx splits Chinese text with jieba; our user dictionary makes course terms
  such as 梯度下降 single index entries, so a search for the whole term finds its page. Words
  inside longer words are indexed too: a page about 随机梯度下降 is found by 梯度下降.
- No console errors: each script is included once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sphinx.errors import ConfigError
from sphinx.search.zh import SearchChinese

HERE = Path(__file__).resolve().parent
USER_DICT = HERE.parent / "_search" / "userdict.txt"


def _check_config(app, config) -> None:
    # Sphinx resolves the dictionary relative to the working directory; make it absolute.
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(USER_DICT)}
    candidates = [Path(app.confdir) / static / config.mathjax_path for static in config.html_static_path]
    if config.mathjax_path.startswith(("http://", "https://", "//")) or not any(p.is_file() for p in candidates):
        raise ConfigError(
            f"offline_book: MathJax must be served from the book, expected one of {[str(p) for p in candidates]}; "
            "run scripts/build-book.sh, which installs it from the npm registry")
    try:
        import jieba
    except ImportError as error:
        raise ConfigError("offline_book: Chinese search needs jieba (pip install -r requirements.txt)") from error
    jieba.setLogLevel(logging.WARNING)  # jieba prints its start-up chatter to stderr otherwise


class SearchChineseWithSubwords(SearchChinese):
    """jieba's search cut, plus every dictionary word inside a longer word.

    ``jieba.cut_for_search`` adds only the 2- and 3-character words inside a longer one, so
    随机梯度下降 would not index 梯度下降 and a reader's search for it would miss the page.
    """

    def split(self, input: str) -> list[str]:
        import jieba  # present: _check_config stops the build without it

        words = super().split(input)  # initialises jieba's dictionary
        known = jieba.dt.FREQ  # word -> frequency; prefixes of words are there with 0
        # words of 4 or more characters strictly inside w (jieba already adds those of 2 and 3)
        inner = [w[i:j] for w in words if len(w) > 4
                 for i in range(len(w)) for j in range(i + 4, len(w) + 1)
                 if j - i < len(w) and known.get(w[i:j])]
        return words + inner


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    # sphinx-thebe registers its inline config script on every env-before-read-docs event; a
    # second copy redeclares a const, which is an error in the reader's console.
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # inline scripts have filename None or "" depending on who added them
        key = (getattr(script, "filename", script) or None, getattr(script, "attributes", {}).get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def setup(app):
    app.connect("config-inited", _check_config, priority=100)
    app.add_search_language(SearchChineseWithSubwords)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=999)  # after others add theirs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
