"""Fixtures for the tests of the built book in _build/html (scripts/test.sh builds it first).

CNNLAB_BOOK_HTML=/path/to/html points the tests at another build (e.g. one made by a partial build).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("CNNLAB_BOOK_HTML", ROOT / "_build" / "html"))


@pytest.fixture(scope="session")
def html_dir() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book in {HTML}: run `bash scripts/build-book.sh` (scripts/test.sh does it first)")
    return HTML


@pytest.fixture(scope="session")
def book_pages(html_dir) -> list[Path]:
    """Every page of the book proper (not Sphinx's generated index and search pages)."""
    skip = {"genindex.html", "search.html", "index.html"}
    return sorted(p for p in html_dir.rglob("*.html") if p.name not in skip and "_static" not in p.parts
                  and "_sources" not in p.parts)


@pytest.fixture(scope="session")
def book_server(html_dir):
    """Serve _build/html on 127.0.0.1 (a free port) for the browser tests; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output for failures
        pass


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a root user on a machine with no network (see the machine notes in the README).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


class PageVisit:
    """A page opened in a fresh tab, with every problem it reported."""

    def __init__(self, browser, url: str, width: int = 1280, height: int = 900):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.problems: list[str] = []
        host = urlparse(url).netloc
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.on("request", lambda r: urlparse(r.url).scheme in ("http", "https")
                     and urlparse(r.url).netloc != host and self.problems.append(f"request to another host: {r.url}"))
        self.page.goto(url, wait_until="networkidle")

    def close(self):
        self.page.close()
