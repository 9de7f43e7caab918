// Legal holds on the recordings page: place one on the cameras ticked over the window
// searched, list them, release one (admin), and open a case's chain of custody.
"use strict";

(() => {
  const { json, el, local } = CE;
  const $ = (id) => document.getElementById(id);
  let role = "";

  function iso(value) { return new Date(value).toISOString(); }

  async function load() {
    const params = new URLSearchParams({ limit: "500" });
    if (!$("hold-released").checked) params.set("active", "true");
    const holds = await json(`/api/holds?${params}`);
    $("hold-list").tBodies[0].replaceChildren(...holds.map((h) => el("tr", { "data-id": h.id },
      el("td", {}, h.case_id), el("td", {}, h.camera_ids.join(", ")),
      el("td", {}, `${local(h.start)} → ${local(h.end)}`),
      el("td", { class: "muted" }, `${h.placed_by} · ${local(h.placed_at)}`),
      el("td", {}, h.reason),
      el("td", {}, h.active ? "held" : `released by ${h.released_by} · ${local(h.released_at)}: ${h.release_reason}`),
      el("td", {}, h.active && role === "admin"
        ? el("button", { type: "button", class: "release", onclick: () => release(h) }, "Release") : null))));
  }

  async function release(hold) {
    const reason = prompt(`Release the hold of case ${hold.case_id}? Give the reason:`);
    if (!reason) return;
    try {
      await json(`/api/holds/${hold.id}/release`, { method: "POST", body: { reason } });
      $("hold-msg").textContent = `hold of case ${hold.case_id} released`;
    } catch (e) { $("hold-msg").textContent = e.message; }
    await load();
  }

  async function place(ev) {
    ev.preventDefault();
    const ids = [...document.querySelectorAll("input.pick:checked")].map((i) => i.value);
    if (!ids.length) { $("hold-msg").textContent = "search, then tick the cameras to hold"; return; }
    try {
      const hold = await json("/api/holds", { method: "POST", body: {
        camera_ids: ids, start: iso($("start").value), end: iso($("end").value),
        case_id: $("hold-case").value, reason: $("hold-reason").value } });
      $("hold-msg").textContent = `held: ${hold.camera_ids.length} camera(s) for case ${hold.case_id}`;
      $("custody-case").value = hold.case_id;
    } catch (e) { $("hold-msg").textContent = e.message; }
    await load();
  }

  function custodyUrl(format) {
    const params = new URLSearchParams({ case_id: $("custody-case").value.trim(), format });
    return `/api/custody/report?${params}`;
  }

  async function start() {
    role = (await json("/api/me")).role;
    $("hold-form").addEventListener("submit", place);
    $("hold-released").addEventListener("change", load);
    $("custody-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      window.open(custodyUrl("html"), "_blank", "noopener");
    });
    $("do-custody-pdf").addEventListener("click", () => {
      if ($("custody-case").value.trim()) location.href = custodyUrl("pdf");
    });
    await load();
  }
  start();
})();
