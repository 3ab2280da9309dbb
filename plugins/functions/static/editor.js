// The dashboard's code editors (templates/functions/_editor.html): the gutter numbers the
// textarea's lines as they are typed and scrolls with it; the lines a refusal named stay
// marked, and a refusal's "Line N" link puts the caret at the start of that line.
"use strict";

function numberLines(editor) {
  const area = editor.querySelector("textarea");
  const gutter = editor.querySelector(".gutter");
  const marked = new Set((editor.dataset.marked || "").split(" ").filter(Boolean).map(Number));

  function follow() {
    gutter.scrollTop = area.scrollTop;
  }

  function number() {
    const count = area.value.split("\n").length;
    if (gutter.childElementCount !== count) {
      const lines = [];
      for (let line = 1; line <= count; line += 1) {
        const span = document.createElement("span");
        span.textContent = String(line);
        if (marked.has(line)) span.className = "marked";
        lines.push(span);
      }
      gutter.replaceChildren(...lines);
    }
    follow();
  }

  area.addEventListener("input", number);
  area.addEventListener("scroll", follow);
  number();
}

function goToLine(event) {
  const link = event.target.closest("a[data-line]");
  if (!link) return;
  const area = document.getElementById(link.getAttribute("href").slice(1));
  if (!area) return;
  event.preventDefault();
  const lines = area.value.split("\n").slice(0, Number(link.dataset.line) - 1);
  const start = lines.reduce((length, line) => length + line.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
  area.scrollTop = Math.max(0, (lines.length - 3) * lineHeight);
}

document.querySelectorAll(".code-editor").forEach(numberLines);
document.addEventListener("click", goToLine);
