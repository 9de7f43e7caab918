// Police page: which cameras saw a place in a window, and an evidence export with its manifest.
"use strict";

(() => {
  const { json, el, local, nav } = CE;
  const $ = (id) => document.getElementById(id);
  let found = null;
  let place = null;  // the searched place, sent with the export so the manifest records it

  function toLocalInput(d) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  function iso(value) { return new Date(value).toISOString(); }

  function showPlace() {
    const kind = $("kind").value;
    $("l-building").hidden = !(kind === "building" || kind === "zone");
    $("l-zone").hidden = kind !== "zone";
    $("l-door").hidden = kind !== "door";
    $("l-near").hidden = kind !== "near";
    $("l-radius").hidden = !(kind === "near" || kind === "door");
    $("l-camera").hidden = kind !== "camera";
  }

  function coverageBar(c, start, end) {
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("class", "coverage");
    svg.setAttribute("viewBox", "0 0 260 14");
    const t0 = new Date(start).getTime(), span = new Date(end).getTime() - t0;
    const rect = (s, e, colour) => {
      const r = document.createElementNS(svgNS, "rect");
      const x = ((new Date(s).getTime() - t0) / span) * 260;
      const w = Math.max(1, ((new Date(e).getTime() - new Date(s).getTime()) / span) * 260);
      r.setAttribute("x", x.toFixed(1)); r.setAttribute("y", "2");
      r.setAttribute("width", w.toFixed(1)); r.setAttribute("height", "10");
      r.setAttribute("fill", colour);
      return r;
    };
    svg.append(rect(start, end, "#1c252f"));
    for (const s of c.covered) svg.append(rect(s.start, s.end, "#46a758"));
    for (const g of c.gaps) {
      const r = rect(g.start, g.end, "#e5484d");
      const title = document.createElementNS(svgNS, "title");
      title.textContent = `${local(g.start)} → ${local(g.end)}: ${g.reason || "no recording"}`;
      r.append(title);
      svg.append(r);
    }
    return svg;
  }

  async function search(ev) {
    ev.preventDefault();
    const params = new URLSearchParams();
    params.set("start", iso($("start").value));
    params.set("end", iso($("end").value));
    const kind = $("kind").value;
    const radius = Number($("radius").value);
    const ids = $("cameras").value.split(",").map((s) => s.trim()).filter(Boolean);
    let asked = null;
    if (kind === "building") asked = { building: $("building").value };
    if (kind === "zone") asked = { building: $("building").value, zone: $("zone").value };
    if (kind === "door") asked = { door: $("door").value, radius_m: radius };
    if (kind === "near") {
      const [lat, lon] = $("near").value.split(",").map(Number);
      asked = { lat, lon, radius_m: radius };
      params.set("near", $("near").value);
    }
    if (kind === "camera") asked = { camera_ids: ids };
    for (const [k, v] of Object.entries(asked)) {
      if (k === "camera_ids") for (const id of v) params.append("camera", id);
      else if (k !== "lat" && k !== "lon") params.set(k, v);
    }
    if ($("case").value.trim()) params.set("case_id", $("case").value.trim());  // for the custody report
    $("search-msg").textContent = "searching…";
    try {
      found = await json(`/api/recordings/search?${params}`);
    } catch (e) { $("search-msg").textContent = e.message; return; }
    place = asked;
    $("search-msg").textContent = `${found.cameras.length} camera(s)`;
    $("place").textContent = `· ${found.place} · ${local(found.start)} → ${local(found.end)}`;
    $("coverage").tBodies[0].replaceChildren(...found.cameras.map((c) => el("tr", { "data-id": c.camera_id },
      el("td", {}, el("input", { type: "checkbox", class: "pick", value: c.camera_id, checked: c.segments > 0 })),
      el("td", {}, c.camera_id, c.name ? el("span", { class: "muted" }, ` ${c.name}`) : null),
      el("td", {}, `${c.location.building}${c.location.zone ? " / " + c.location.zone : ""}`),
      el("td", { class: "muted" }, c.matched_by + (c.distance_m !== null && c.distance_m !== undefined ? ` (${c.distance_m} m)` : "")),
      el("td", { class: "num" }, `${(c.coverage * 100).toFixed(0)}% · ${Math.round(c.recorded_seconds)} s`),
      el("td", {}, coverageBar(c, found.start, found.end)),
      el("td", { class: "muted" }, c.gaps.length ? c.gaps.map((g) => `${local(g.start)}–${new Date(g.end).toLocaleTimeString()}`).join(", ") : "none"))));
    $("results").hidden = false;
  }

  async function poll(id) {
    const s = await json(`/api/exports/${id}`);
    $("job-bar").style.width = `${Math.round((s.progress || 0) * 100)}%`;
    $("job-state").textContent = `${s.state} · ${s.phase || ""}` + (s.error ? ` · ${s.error}` : "");
    if (s.state === "done") {
      $("download").href = s.download_url;
      $("download").hidden = !s.download_url;
      $("download").textContent = `Download case ${s.case_id}`;
      $("manifest").textContent = JSON.stringify(s.manifest, null, 2);
      $("manifest-box").hidden = false;
      return;
    }
    if (s.state !== "failed") setTimeout(() => poll(id), 700);
  }

  async function exportSelected(ev) {
    ev.preventDefault();
    const ids = [...document.querySelectorAll("input.pick:checked")].map((i) => i.value);
    if (!ids.length) { $("export-msg").textContent = "select at least one camera"; return; }
    try {
      const job = await json("/api/exports", { method: "POST", body: {
        camera_ids: ids, start: found.start, end: found.end,
        case_id: $("case").value, reason: $("reason").value, place } });
      // Said before the investigator waits: which cameras recorded how much, and the gaps.
      const gaps = (job.coverage || []).filter((c) => c.gaps.length);
      $("export-msg").textContent = "export started" + (gaps.length ? " · gaps: " + gaps.map((c) =>
        `${c.camera_id} ${(c.coverage * 100).toFixed(0)}% recorded (${c.gaps.map((g) =>
          `${local(g.start)}–${new Date(g.end).toLocaleTimeString()}`).join(", ")})`).join("; ") : "");
      $("job").hidden = false;
      $("job-id").textContent = job.id;
      $("download").hidden = true;
      $("manifest-box").hidden = true;
      poll(job.id);
    } catch (e) { $("export-msg").textContent = e.message; }
  }

  async function start() {
    // Defaults first, before anything is awaited: never overwrite what someone typed.
    const now = new Date();
    if (!$("end").value) $("end").value = toLocalInput(now);
    if (!$("start").value) $("start").value = toLocalInput(new Date(now.getTime() - 15 * 60 * 1000));
    await nav();
    const plan = await json("/api/map");
    for (const b of plan.buildings) $("building").append(el("option", { value: b.name }, b.name));
    for (const d of plan.doors) $("door").append(el("option", { value: d.id }, `${d.id} (${d.building})`));
    $("kind").addEventListener("change", showPlace);
    $("search").addEventListener("submit", search);
    $("export").addEventListener("submit", exportSelected);
    $("do-play").addEventListener("click", () => {
      const ids = [...document.querySelectorAll("input.pick:checked")].map((i) => i.value);
      if (ids.length) CEPlayer.open(ids.slice(0, 4), new Date(found.start).getTime());
    });
    CEPlayer.wire();
    const params = new URLSearchParams(location.search);
    const wanted = (params.get("cameras") || params.get("camera") || "").split(",").filter(Boolean);
    // a "+" of an offset arrives as a space when the address was not encoded
    const at = params.get("at") ? Date.parse(params.get("at").replace(" ", "+")) : NaN;
    if (wanted.length) CEPlayer.open(wanted, Number.isNaN(at) ? Date.now() - 60e3 : at);
    $("all").addEventListener("change", () => { for (const i of document.querySelectorAll("input.pick")) i.checked = $("all").checked; });
    showPlace();
    document.body.dataset.ready = "1";
  }
  start();
})();
