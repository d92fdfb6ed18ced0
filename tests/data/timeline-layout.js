// Injected into the page `sundown report --html` writes, then read back
// from headless Chromium's --dump-dom: measures every text label and bar
// of the picture as the browser laid them out, and writes its verdict into
// the page, in the element "verdict": "ok", or "FAIL" and what is wrong.
(function () {
  const problems = [];
  const svg = document.querySelector("figure svg");
  if (!svg) {
    problems.push("no picture");
  } else {
    const texts = Array.from(svg.querySelectorAll("text"))
      .filter((t) => t.textContent.trim() !== "" && t.closest("title") === null);
    const boxes = texts.map((t) => [t, t.getBoundingClientRect()]);
    for (let i = 0; i < boxes.length; i++) {
      const [ta, a] = boxes[i];
      if (a.width <= 0 || a.height <= 0) problems.push("empty label " + ta.textContent);
      for (let j = i + 1; j < boxes.length; j++) {
        const [tb, b] = boxes[j];
        const apart = a.right <= b.left + 0.5 || b.right <= a.left + 0.5 ||
          a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5;
        if (!apart) problems.push("`" + ta.textContent + "` overlaps `" + tb.textContent + "`");
      }
      if (a.right > svg.getBoundingClientRect().right + 0.5) {
        problems.push("`" + ta.textContent + "` runs off the picture");
      }
    }
    const axis = svg.querySelector("g.axis line").getBoundingClientRect();
    const bars = Array.from(svg.querySelectorAll("g.bar rect"));
    if (bars.length === 0) problems.push("no bars");
    for (const bar of bars) {
      const r = bar.getBoundingClientRect();
      const who = bar.closest("g.bar").dataset.name + " run " + bar.dataset.run + " " + bar.getAttribute("class");
      if (!(r.width > 0 && r.height > 0)) problems.push(who + " has no size");
      if (r.left < axis.left - 1 || r.right > axis.right + 6) {
        problems.push(who + " lies outside the plot");
      }
    }
    const runs = new Set(bars.map((b) => b.closest("g.bar").dataset.name + "/" + b.dataset.run));
    document.body.dataset.runs = String(runs.size);
    document.body.dataset.labels = String(texts.length);
  }
  const out = document.createElement("pre");
  out.id = "verdict";
  out.textContent = problems.length === 0
    ? "ok: " + document.body.dataset.labels + " labels, " + document.body.dataset.runs + " runs"
    : "FAIL: " + problems.join("; ");
  document.body.appendChild(out);
})();
