// Map: the compound drawn from configured coordinates as inline SVG (no tiles, no internet).
"use strict";

(() => {
  const { json, el, local, ago, nav } = CE;
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const W = 1000, H = 700, PAD = 30;
  let me = null;

  function svg(tag, attrs) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function projector(b) {
    // Equirectangular with the longitude scaled by cos(latitude): true shape at compound scale.
    const k = Math.cos(((b.min_lat + b.max_lat) / 2) * Math.PI / 180);
    const w = Math.max((b.max_lon - b.min_lon) * k, 1e-6), h = Math.max(b.max_lat - b.min_lat, 1e-6);
    const scale = Math.min((W - 2 * PAD) / w, (H - 2 * PAD) / h);
    // Centre the plan: a compound laid out along one axis would otherwise hug an edge.
    const dx = (W - 2 * PAD - w * scale) / 2, dy = (H - 2 * PAD - h * scale) / 2;
    return (lat, lon) => [PAD + dx + (lon - b.min_lon) * k * scale,
      H - PAD - dy - (lat - b.min_lat) * scale];
  }

  function show(kind, item) {
    const rows = kind === "camera"
      ? [["Camera", `${item.id} ${item.name && item.name !== item.id ? "· " + item.name : ""}`],
         ["Building", `${item.building}${item.zone ? " / " + item.zone : ""}`],
         ["Status", item.status], ["Since", item.since ? `${local(item.since)} (${ago(item.since)})` : "—"],
         ["fps", item.fps === null ? "—" : item.fps], ["Reason", item.reason || "—"]]
      : [["Door", `${item.id} ${item.name && item.name !== item.id ? "· " + item.name : ""}`],
         ["Building", item.building], ["Controller", item.status],
         ["Last seen", item.last_seen ? local(item.last_seen) : "—"],
         ["Cameras", (item.cameras || []).join(", ") || "—"]];
    const links = [];
    if (kind === "camera" && ["ops", "operator", "admin"].includes(me.role)) links.push(el("a", { href: `/cameras#${item.id}` }, "open on the cameras page"));
    if (kind === "door" && ["operator", "admin"].includes(me.role)) links.push(el("a", { href: "/" }, "alerts on the desk"));
    if (["investigator", "admin"].includes(me.role)) links.push(el("a", { href: "/recordings" }, "search recordings"));
    const live = el("div", { class: "live-box", id: "map-live" });
    $("info").replaceChildren(el("h3", {}, kind === "camera" ? "Camera" : "Door"),
      el("table", { class: "grid" }, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
      el("p", {}, ...links.flatMap((l, i) => (i ? [" · ", l] : [l]))), live);
    // the camera live on click, for the roles that watch live
    if (kind === "camera" && ["ops", "operator", "admin"].includes(me.role)) CELive.show(live, [item.id]);
    else CELive.show(live, []);
  }

  async function start() {
    me = await nav();
    const plan = await json("/api/map");
    const root = $("plan");
    root.setAttribute("viewBox", `0 0 ${W} ${H}`);
    if (!plan.bounds) { $("summary").textContent = "no coordinates configured"; return; }
    const project = projector(plan.bounds);
    // Devices configured at the same spot are fanned out on a small ring so each stays clickable.
    const taken = new Map();
    const at = (lat, lon) => {
      const [x, y] = project(lat, lon);
      const key = `${Math.round(x)}:${Math.round(y)}`;
      const n = taken.get(key) || 0;
      taken.set(key, n + 1);
      if (n === 0) return [x, y];
      const angle = n * 2.4;
      return [x + 9 * Math.cos(angle), y + 9 * Math.sin(angle)];
    };
    for (const b of plan.buildings) {
      const [x1, y1] = project(b.max_lat, b.min_lon), [x2, y2] = project(b.min_lat, b.max_lon);
      const box = svg("rect", { class: "building", x: x1 - 14, y: y1 - 14, width: x2 - x1 + 28,
        height: y2 - y1 + 28, rx: 4 });
      const name = svg("title", {});
      name.textContent = `building ${b.name}`;
      box.append(name);
      root.append(box);
      if (plan.buildings.length <= 60) {  // a whole compound's labels would be unreadable
        const label = svg("text", { class: "building-label", x: x1 - 12, y: y1 - 17 });
        label.textContent = b.name;
        root.append(label);
      }
    }
    // Healthy cameras first, so a camera in trouble is drawn on top and never hidden.
    const rank = { online: 0, degraded: 1, tampered: 2, offline: 3 };
    const cameras = [...plan.cameras].sort((a, b) => (rank[a.status] || 0) - (rank[b.status] || 0));
    for (const c of cameras) {
      const [x, y] = at(c.lat, c.lon);
      const dot = svg("circle", { cx: x, cy: y, r: 4, class: c.status, "data-camera": c.id });
      const title = svg("title", {});
      title.textContent = `${c.id} · ${c.status}`;
      dot.append(title);
      dot.addEventListener("click", () => show("camera", c));
      root.append(dot);
    }
    for (const d of plan.doors) {
      const [x, y] = at(d.lat, d.lon);
      const status = d.status === "online" ? "online" : d.status === "offline" ? "offline" : "unknown";
      const sq = svg("rect", { class: `door ${status}`, x: x - 4, y: y - 4, width: 8, height: 8, "data-door": d.id });
      const title = svg("title", {});
      title.textContent = `${d.id} · ${d.status}`;
      sq.append(title);
      sq.addEventListener("click", () => show("door", d));
      root.append(sq);
    }
    const down = plan.cameras.filter((c) => c.status !== "online").length;
    const b = plan.bounds, lat = (b.min_lat + b.max_lat) / 2, lon = (b.min_lon + b.max_lon) / 2;
    const where = `${Math.abs(lat).toFixed(4)} ${lat < 0 ? "S" : "N"}, ${Math.abs(lon).toFixed(4)} ${lon < 0 ? "W" : "E"}`;
    $("summary").textContent = `${plan.site ? plan.site + " · " : ""}around ${where} · ${plan.cameras.length} cameras (${down} not online) · ${plan.doors.length} doors · ${plan.buildings.length} buildings`;
  }
  start();
})();
