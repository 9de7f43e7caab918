// Audit: who did what, when: sign-ins, alert changes, searches, exports.
"use strict";

(() => {
  const { json, el, local, nav } = CE;
  const $ = (id) => document.getElementById(id);

  function summary(details) {
    const text = JSON.stringify(details || {});
    return text.length > 160 ? text.slice(0, 157) + "…" : text;
  }

  async function load() {
    const params = new URLSearchParams({ limit: "500" });
    if ($("f-action").value) params.set("action", $("f-action").value);
    if ($("f-actor").value.trim()) params.set("actor", $("f-actor").value.trim());
    const entries = await json(`/api/audit?${params}`);
    $("n").textContent = `${entries.length} entries`;
    $("audit").tBodies[0].replaceChildren(...entries.map((e) => el("tr", { "data-action": e.action },
      el("td", {}, local(e.at)), el("td", {}, e.actor), el("td", {}, e.role), el("td", {}, e.action),
      el("td", {}, e.target), el("td", { class: "muted" }, e.ip || "—"),
      el("td", { class: "muted", title: JSON.stringify(e.details) }, summary(e.details)))));
  }

  async function start() {
    await nav();
    $("f-action").addEventListener("change", load);
    $("f-actor").addEventListener("change", load);
    $("refresh").addEventListener("click", load);
    await load();
    setInterval(load, 15000);
  }
  start();
})();
