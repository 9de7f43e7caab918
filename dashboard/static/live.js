// Live wall: 1, 4, 9 or 16 tiles chosen by building, zone, door or camera ids
// (?cameras=ID,ID&layout=N in the address). One tile plays the main stream, a wall the
// sub streams. Every tile rides the page's single WebSocket (CELive).
"use strict";

(() => {
  const { json, el } = CE;
  const $ = (id) => document.getElementById(id);
  let plan = null;
  let playing = [];

  function showBy() {
    const by = $("by").value;
    for (const k of ["building", "zone", "door", "camera"]) $(`l-${k}`).hidden = by !== k;
  }

  function chosen() {
    const by = $("by").value;
    if (by === "camera") return $("cameras").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (by === "door") {
      const door = plan.doors.find((d) => d.id === $("door").value);
      return door ? door.cameras : [];
    }
    if (by === "zone") {
      const [b, z] = $("zone").value.split("\u0000");
      return plan.cameras.filter((c) => c.building === b && c.zone === z).map((c) => c.id);
    }
    return plan.cameras.filter((c) => c.building === $("building").value).map((c) => c.id);
  }

  const tile = CELive.tile;

  function show(ids, layout) {
    for (const p of playing) p.handle.stop();
    const n = Number(layout);
    const list = ids.slice(0, n);
    const single = n === 1 || list.length === 1;
    $("wall").dataset.layout = single ? "1" : String(n);
    playing = list.map((id) => tile(id, single ? "main" : "sub", { expand: !single }));
    $("wall").replaceChildren(...playing.map((p) => p.box));
    $("note").textContent = ids.length > n ? `showing ${n} of ${ids.length} cameras` :
      (list.length ? "" : "no camera matches");
    const url = new URL(location.href);
    url.searchParams.set("cameras", list.join(","));
    url.searchParams.set("layout", String(n));
    history.replaceState(null, "", url);
  }

  async function start() {
    await CE.nav();
    CELive.onConnection((state, detail) => { $("conn").textContent = detail ? `${state}: ${detail}` : state; });
    plan = await json("/api/map");
    for (const b of plan.buildings) $("building").append(el("option", { value: b.name }, b.name));
    const zones = new Set(plan.cameras.map((c) => `${c.building}\u0000${c.zone || ""}`));
    for (const z of [...zones].sort()) {
      const [b, zone] = z.split("\u0000");
      $("zone").append(el("option", { value: z }, `${b} / ${zone || "(none)"}`));
    }
    for (const d of plan.doors) $("door").append(el("option", { value: d.id }, `${d.id} (${d.building})`));
    $("by").addEventListener("change", showBy);
    $("pick").addEventListener("submit", (ev) => { ev.preventDefault(); show(chosen(), $("layout").value); });
    const params = new URLSearchParams(location.search);
    const ids = (params.get("cameras") || "").split(",").map((s) => s.trim()).filter(Boolean);
    let layout = params.get("layout");
    if (!["1", "4", "9", "16"].includes(layout)) {
      layout = ids.length <= 1 ? "1" : ids.length <= 4 ? "4" : ids.length <= 9 ? "9" : "16";
    }
    $("layout").value = layout;
    if (ids.length) {
      $("by").value = "camera";
      $("cameras").value = ids.join(",");
      showBy();
      show(ids, layout);
    } else {
      showBy();
      if (plan.buildings.length) show(chosen(), layout);
    }
  }
  start();
})();
