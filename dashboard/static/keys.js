// Audit page: the export-signing public keys with their fingerprints, and whether the
// audit trail's hash chain is whole.
"use strict";

(() => {
  const { json, el, local } = CE;
  const $ = (id) => document.getElementById(id);

  async function keys() {
    const ring = await json("/api/signing-keys");
    $("key-list").tBodies[0].replaceChildren(...ring.keys.map((k) => el("tr", { "data-key": k.key_id },
      el("td", { class: "mono" }, k.key_id),
      el("td", { class: "mono fingerprint" }, k.fingerprint_grouped),
      el("td", {}, local(k.created_at)),
      el("td", {}, k.current ? "current" : `retired ${local(k.retired_at)} (still verifies old exports)`))));
  }

  async function chain() {
    const report = await json("/api/audit/verify");
    $("chain").textContent = report.ok
      ? `Audit chain intact: ${report.rows} rows; head row ${report.head_id}, hash ${report.head_hash}`
      : `AUDIT CHAIN BROKEN at row ${report.broken_id}: ${report.problem}`;
    $("chain").className = report.ok ? "muted" : "error";
  }

  keys().catch((e) => { $("key-list").tBodies[0].replaceChildren(el("tr", {}, el("td", { colspan: 4 }, e.message))); });
  chain().catch((e) => { $("chain").textContent = e.message; });
})();
