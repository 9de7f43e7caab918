// A camera's timeline for the player: recorded coverage (green), gaps (red), motion
// (amber), alerts (red marks), in/out marks (blue) and the shared time cursor (white).
// 24 h by default, zoom in to minutes with the wheel or the zoom buttons; a click seeks.
"use strict";

const CETimeline = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const WIDTH = 1000, HEIGHT = 34;

  function node(tag, attrs) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }

  // view: {start, end} in ms, shared by every timeline of a player
  function create(container, camera, view, onSeek) {
    const svg = node("svg", { class: "timeline", viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: "none", "data-camera": camera });
    const label = document.createElement("div");
    label.className = "timeline-label";
    label.textContent = camera;
    container.append(label, svg);
    let data = null;
    let cursor = null, marks = { in: null, out: null };

    const x = (t) => ((t - view.start) / (view.end - view.start)) * WIDTH;
    function rect(s, e, y, h, fill, title) {
      const a = Math.max(0, x(s)), b = Math.min(WIDTH, x(e));
      if (b <= 0 || a >= WIDTH) return null;
      const r = node("rect", { x: a.toFixed(2), y, width: Math.max(0.8, b - a).toFixed(2), height: h, fill });
      if (title) { const t = node("title", {}); t.textContent = title; r.append(t); }
      return r;
    }

    function draw() {
      svg.replaceChildren();
      svg.append(node("rect", { x: 0, y: 0, width: WIDTH, height: HEIGHT, fill: "#1c252f" }));
      if (data) {
        for (const c of data.covered) { const r = rect(Date.parse(c.start), Date.parse(c.end), 8, 16, "#46a758"); if (r) svg.append(r); }
        for (const g of data.gaps) { const r = rect(Date.parse(g.start), Date.parse(g.end), 8, 16, "#5b2a2c", "no recording"); if (r) svg.append(r); }
        for (const m of data.motion) { const r = rect(Date.parse(m.start), Date.parse(m.end), 2, 5, "#f5a524", `motion ${m.level}`); if (r) { r.setAttribute("class", "motion"); svg.append(r); } }
        for (const a of data.alerts) {
          const t = Date.parse(a.at), r = rect(t, t + (view.end - view.start) / 400, 0, HEIGHT, "#e5484d", `P${a.priority} ${a.title}`);
          if (r) { r.setAttribute("class", "alert-mark"); svg.append(r); }
        }
      }
      if (marks.in !== null && marks.out !== null) {
        const r = rect(marks.in, marks.out, 26, 6, "#3e9bff", "marked window");
        if (r) svg.append(r);
      }
      for (const t of [marks.in, marks.out]) {
        if (t !== null) { const r = rect(t, t, 0, HEIGHT, "#3e9bff"); if (r) svg.append(r); }
      }
      if (cursor !== null) { const r = rect(cursor, cursor, 0, HEIGHT, "#ffffff"); if (r) { r.setAttribute("class", "cursor"); svg.append(r); } }
      const span = view.end - view.start;
      const step = [60e3, 300e3, 900e3, 3600e3, 3 * 3600e3].find((s) => span / s <= 12) || 6 * 3600e3;
      for (let t = Math.ceil(view.start / step) * step; t < view.end; t += step) {
        const tx = x(t);
        svg.append(node("line", { x1: tx, x2: tx, y1: 24, y2: HEIGHT, stroke: "#55606d", "stroke-width": 0.6 }));
        const text = node("text", { x: tx + 2, y: HEIGHT - 1, fill: "#8b949e", "font-size": 7 });
        text.textContent = new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        svg.append(text);
      }
    }

    svg.addEventListener("click", (ev) => {
      const box = svg.getBoundingClientRect();
      onSeek(view.start + ((ev.clientX - box.left) / box.width) * (view.end - view.start));
    });

    async function load(windowStart, windowEnd) {
      const q = new URLSearchParams({ camera, start: new Date(windowStart).toISOString(), end: new Date(windowEnd).toISOString() });
      data = await CE.json(`/api/playback/timeline?${q}`);
      svg.dataset.segments = String(data.segments);
      draw();
      return data;
    }

    return {
      load, draw,
      setCursor(t) { cursor = t; draw(); },
      setMarks(m) { marks = m; draw(); },
      get data() { return data; },
    };
  }

  return { create };
})();
