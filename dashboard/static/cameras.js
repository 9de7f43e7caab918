// Ops page: every camera's status and recording health (worst first), uptime and recorded
// fraction from the TSDB, fps sparklines.
// All rows come in one request; the table shows one page at a time and sparklines are
// fetched only for the rows on screen.
"use strict";

(() => {
  const { json, el, local, short, ago, pct, nav } = CE;
  const PAGE = 100;
  const $ = (id) => document.getElementById(id);
  let rows = [];
  const none = () => ({ cameras: {}, buildings: {}, recorded: { cameras: {}, buildings: {} } });
  let up24 = none();
  let up7 = none();
  let page = 0;
  const sparks = new Map();

  function filtered() {
    const b = $("f-building").value, s = $("f-status").value, rec = $("f-recording").value;
    const t = $("f-text").value.trim().toLowerCase();
    return rows.filter((r) => (!b || r.building === b) && (!s || r.status === s)
      && (!rec || (r.recording || "unknown") === rec)
      && (!t || r.id.toLowerCase().includes(t) || (r.name || "").toLowerCase().includes(t)));
  }

  function sparkline(values) {
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 120 24");
    if (!values || !values.some((v) => v !== null)) {
      const t = document.createElementNS(svgNS, "text");
      t.setAttribute("x", "2"); t.setAttribute("y", "16"); t.setAttribute("fill", "#8a97a6");
      t.setAttribute("font-size", "10"); t.textContent = "no data";
      svg.append(t);
      return svg;
    }
    const max = 1.15 * Math.max(1, ...values.filter((v) => v !== null));
    const step = 120 / Math.max(1, values.length - 1);
    const pts = values.map((v, i) => (v === null ? null : `${(i * step).toFixed(1)},${(22 - (v / max) * 20).toFixed(1)}`))
      .filter(Boolean).join(" ");
    const line = document.createElementNS(svgNS, "polyline");
    line.setAttribute("points", pts);
    svg.append(line);
    const last = pts.split(" ").pop().split(",");
    const dot = document.createElementNS(svgNS, "circle");  // the latest value (or the only one)
    dot.setAttribute("cx", last[0]); dot.setAttribute("cy", last[1]); dot.setAttribute("r", "2");
    dot.setAttribute("fill", "#5fa8d3");
    svg.append(dot);
    return svg;
  }

  async function loadSparks(ids) {
    const missing = ids.filter((id) => !sparks.has(id));
    if (!missing.length) return;
    const query = missing.map((id) => "camera=" + encodeURIComponent(id)).join("&");
    try {
      const data = await json(`/api/cameras/fps?window=1h&${query}`);
      for (const id of missing) sparks.set(id, data.fps[id] || null);
    } catch (_) {
      for (const id of missing) sparks.set(id, null);
    }
    render();
  }

  function render() {
    const list = filtered();
    const pages = Math.max(1, Math.ceil(list.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = list.slice(page * PAGE, page * PAGE + PAGE);
    $("cams").tBodies[0].replaceChildren(...shown.map((r) => el("tr", { "data-id": r.id, "data-status": r.status },
      el("td", { title: r.reason || "" }, r.id, r.name && r.name !== r.id ? el("span", { class: "muted" }, ` ${r.name}`) : null,
        " ", el("a", { class: "live-link", href: `/live?cameras=${encodeURIComponent(r.id)}`, title: "watch live" }, "▶ live")),
      el("td", {}, r.building),
      el("td", {}, el("span", { class: `badge ${r.status}`, title: r.reason || "" }, r.status)),
      recordingCell(r),
      el("td", { title: r.since ? local(r.since) : "" }, r.since ? `${short(r.since)} (${ago(r.since)})` : "—"),
      el("td", {}, r.last_frame ? ago(r.last_frame) : "—"),
      el("td", { class: "num" }, r.fps === null ? "—" : r.fps.toFixed(1)),
      pair(up24.cameras[r.id], up7.cameras[r.id]),
      pair(up24.recorded.cameras[r.id], up7.recorded.cameras[r.id], "rec"),
      el("td", {}, sparks.has(r.id) ? sparkline(sparks.get(r.id)) : el("span", { class: "muted" }, "…")))));
    $("page").textContent = `page ${page + 1} of ${pages} · ${list.length} cameras`;
    $("prev").disabled = page === 0;
    $("next").disabled = page >= pages - 1;
    loadSparks(shown.map((r) => r.id));
  }

  function renderBuildings() {
    const names = [...new Set(rows.map((r) => r.building))].sort();
    $("buildings").tBodies[0].replaceChildren(...names.map((b) => el("tr", {},
      el("td", {}, b), pair(up24.buildings[b], up7.buildings[b]),
      pair(up24.recorded.buildings[b], up7.recorded.buildings[b], "rec"))));
  }

  // Two fractions, 24 h and 7 d, in one cell.
  function pair(day, week, cls) {
    return el("td", { class: `num pair ${cls || ""}` }, pct(day), el("span", { class: "sep" }, " · "), pct(week));
  }

  // Recording health: the state, and for a failing camera why and since when.
  function recordingCell(r) {
    const state = r.recording || "unknown";
    const title = [r.recording_reason, r.recording_since ? `since ${local(r.recording_since)}` : "",
      r.last_segment ? `last segment ${local(r.last_segment)}` : "no segment yet"].filter(Boolean).join(" · ");
    const reason = state === "failing" && r.recording_reason
      ? el("span", { class: "rec-reason" }, ` ${r.recording_reason.split(": ")[0]}`) : null;
    return el("td", { class: "recording", title },
      el("span", { class: `badge rec-${state}` }, state === "failing" ? "not recording" : state), reason);
  }

  function renderCards(counts, total, recording) {
    $("cards").replaceChildren(
      ...["offline", "tampered", "degraded", "online"].map((s) => el("div", { class: `card ${s}` },
        el("div", { class: "n", id: `count-${s}` }, counts[s] || 0), el("div", { class: "muted" }, s))),
      el("div", { class: "card rec-failing" },
        el("div", { class: "n", id: "count-rec-failing" }, (recording || {}).failing || 0),
        el("div", { class: "muted" }, "not recording")),
      el("div", { class: "card" }, el("div", { class: "n" }, total), el("div", { class: "muted" }, "cameras")));
  }

  async function refresh() {
    try {
      const data = await json("/api/cameras");
      rows = data.cameras;
      renderCards(data.counts, data.total, data.recording_counts);
      render();
    } catch (_) { /* keep the last view; the next refresh tries again */ }
  }

  async function start() {
    await nav();
    if (location.hash.length > 1) $("f-text").value = decodeURIComponent(location.hash.slice(1));
    const started = performance.now();
    const data = await json("/api/cameras");
    rows = data.cameras;
    renderCards(data.counts, data.total, data.recording_counts);
    for (const b of [...new Set(rows.map((r) => r.building))].sort()) {
      $("f-building").append(el("option", { value: b }, b));
    }
    render();
    $("loaded").textContent = `statuses in ${Math.round(performance.now() - started)} ms`;
    for (const id of ["f-building", "f-status", "f-recording"]) $(id).addEventListener("change", () => { page = 0; render(); });
    $("f-text").addEventListener("input", () => { page = 0; render(); });
    $("prev").addEventListener("click", () => { page -= 1; render(); });
    $("next").addEventListener("click", () => { page += 1; render(); });
    try {
      [up24, up7] = await Promise.all([json("/api/uptime?window=24h"), json("/api/uptime?window=7d")]);
    } catch (e) {
      $("loaded").textContent += ` · uptime unavailable (${e.message})`;
    }
    render();
    renderBuildings();
    setInterval(refresh, 15000);
  }
  start();
})();
