// Layout problems of the page as the reader sees it now (run after MathJax has typeset the page).
// Returns {pageWidth, clippedMath, clippedTables, charWrapped}: each a list of short descriptions.
() => {
  const describe = (el) => [...(el.innerText || el.textContent || "").replace(/\s+/g, " ").trim()].slice(0, 50).join("");
  const main = document.querySelector("main") || document.body;
  const column = (main.querySelector("article") || main).getBoundingClientRect();
  const out = {pageWidth: [], clippedMath: [], clippedTables: [], charWrapped: []};

  // the page itself never scrolls sideways
  const doc = document.scrollingElement || document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) out.pageWidth.push(`page is ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);

  // an element is clipped when an ancestor cuts it off without letting the reader scroll to it,
  // or when it reaches past the text column
  const clipping = (el) => {
    const box = el.getBoundingClientRect();
    if (box.right > column.right + 1 || box.left < column.left - 1) return `reaches ${Math.round(box.left)}..${Math.round(box.right)} px, column is ${Math.round(column.left)}..${Math.round(column.right)} px`;
    for (let a = el.parentElement; a && a !== main.parentElement; a = a.parentElement) {
      const style = getComputedStyle(a);
      if (style.overflowX === "visible") continue;
      const scrolls = ["auto", "scroll"].includes(style.overflowX);
      const r = a.getBoundingClientRect();
      if (!scrolls && (box.right > r.right + 1 || box.left < r.left - 1)) return `cut by ${a.tagName.toLowerCase()}.${a.className}`;
    }
    return null;
  };

  // display math fits the column: no sideways scrolling needed to read an equation
  for (const m of main.querySelectorAll('mjx-container[display="true"]')) {
    const formula = m.querySelector("mjx-math") || m;
    const width = formula.getBoundingClientRect().width;
    const room = m.getBoundingClientRect().width;
    const why = width > room + 1 ? `${Math.round(width)} px wide in ${Math.round(room)} px` : clipping(formula);
    if (why) out.clippedMath.push(`${describe(m.closest(".math") || m) || "equation"}: ${why}`);
  }

  // a table fits, or scrolls inside its own box (which fits the column)
  for (const t of main.querySelectorAll("table")) {
    if (t.closest("mjx-container")) continue;
    let box = t.parentElement;
    while (box !== main && getComputedStyle(box).overflowX === "visible") box = box.parentElement;
    const scrolls = ["auto", "scroll"].includes(getComputedStyle(box).overflowX);
    let why = null;
    if (scrolls && box !== main) why = clipping(box);
    else why = clipping(t);
    if (why) out.clippedTables.push(`table "${describe(t)}": ${why}`);
    // no column so narrow that a cell shows one character per line
    for (const cell of t.querySelectorAll("th, td")) {
      // the lines the cell's characters sit on (math excluded: MathJax boxes have their own tops)
      const tops = [];
      let chars = 0;
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement.closest("mjx-container")) continue;
        for (let i = 0; i < node.length; i++) {
          if (/\s/.test(node.data[i])) continue;
          const range = document.createRange();
          range.setStart(node, i); range.setEnd(node, i + 1);
          const r = range.getBoundingClientRect();
          chars += 1;
          if (r.width > 0 && !tops.some(t => Math.abs(t - r.top) < 4)) tops.push(r.top);
        }
      }
      if (tops.length >= 2 && chars / tops.length < 2.5) out.charWrapped.push(`cell "${describe(cell)}" wraps into ${tops.length} lines`);
    }
  }
  return out;
}
