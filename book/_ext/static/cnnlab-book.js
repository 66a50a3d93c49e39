// The course book's reader helpers (book_ui.py adds this file to every page).
"use strict";

// Click a figure to see it full size (on a phone a figure is shown at half its size or less);
// click again or press Escape to close.
function cnnlabLightbox() {
  document.querySelectorAll(".cell_output img").forEach((img) => {
    img.title = img.title || "点击查看大图";
    img.addEventListener("click", () => {
      const box = document.createElement("div");
      box.className = "cnnlab-lightbox";
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-label", "大图（点击或按 Esc 关闭）");
      const big = img.cloneNode();
      big.removeAttribute("title");
      // full size: the figure's own width, and never less than the window
      const natural = img.naturalWidth || img.width;
      big.style.setProperty("--cnnlab-full-width", `${Math.max(natural, window.innerWidth)}px`);
      box.appendChild(big);
      const close = () => { box.remove(); document.removeEventListener("keydown", onKey); };
      const onKey = (event) => { if (event.key === "Escape") close(); };
      box.addEventListener("click", close);
      document.addEventListener("keydown", onKey);
      document.body.appendChild(box);
    });
  });
}

// Search result snippets: Sphinx takes them from the text of each page's main element, which
// holds raw TeX (MathJax has not run on a fetched page) and the words of buttons and menus.
const CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d";
const CJK_GAP = new RegExp(`([${CJK}]) (?=[${CJK}])`, "g");

// TeX as plain text for a search snippet: \\(\\mathbf{w}^\\top \\mathbf{x}\\) -> w^ᵀ x
const TEX_SYMBOLS = {top: "ᵀ", cdot: "·", times: "×", le: "≤", ge: "≥", leq: "≤", geq: "≥", ne: "≠", approx: "≈",
  sum: "Σ", prod: "Π", partial: "∂", infty: "∞", to: "→", rightarrow: "→", leftarrow: "←", in: "∈", odot: "⊙",
  alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η", theta: "θ", lambda: "λ",
  mu: "μ", pi: "π", sigma: "σ", tau: "τ", phi: "φ", omega: "ω", Delta: "Δ", Sigma: "Σ", ell: "ℓ", dots: "…",
  ldots: "…", cdots: "…", sqrt: "√", nabla: "∇", mid: "|", lvert: "|", rvert: "|"};
function cnnlabTexToText(tex) {
  return tex
    .replace(/^\s*\\[(\[]|\\[)\]]\s*$/g, "")
    .replace(/\\[td]?frac\{([^{}]*)\}\{([^{}]*)\}/g, "($1)/($2)")
    .replace(/\\([A-Za-z]+)/g, (m, name) => TEX_SYMBOLS[name] ?? "")
    .replace(/\\[,;:! ]/g, " ")
    .replace(/[{}]/g, "")
    .replace(/\s+/g, " ").trim();
}

function cnnlabCleanSearchSnippets() {
  // searchtools.js declares `const Search` (a global binding, not a property of window)
  if (typeof Search === "undefined" || !Search.htmlToText || Search.cnnlabClean) return;
  Search.cnnlabClean = true;
  const original = Search.htmlToText;
  const noise = [".cell_input", "mjx-container", ".bd-header-article", ".header-article", ".dropdown-menu",
                 ".prev-next-area", ".bd-footer-article", "button", ".copybtn", ".toggle-details__summary",
                 "details.hide > summary", "#jb-print-toc", "#print-main-content"];
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    noise.forEach((query) => doc.querySelectorAll(query).forEach((el) => el.remove()));
    doc.querySelectorAll(".math").forEach((el) => { el.textContent = cnnlabTexToText(el.textContent); });
    // the text of block elements is joined by line breaks: one space between words, none inside Chinese
    return original(doc.documentElement.outerHTML, anchor).replace(/\s+/g, " ").replace(CJK_GAP, "$1");
  };
}

cnnlabCleanSearchSnippets();  // now if searchtools.js came first, else when the page is read
// sphinx-togglebutton writes its buttons' label in English when the page is read (it ran before us)
function cnnlabToggleLabels() {
  document.querySelectorAll('.toggle-button[aria-label="Toggle hidden content"]')
    .forEach((button) => button.setAttribute("aria-label", "显示或隐藏内容"));
}

document.addEventListener("DOMContentLoaded", () => {
  cnnlabLightbox();
  cnnlabToggleLabels();
  cnnlabCleanSearchSnippets();
});
