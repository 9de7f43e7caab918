// Security desk: live alerts over Server-Sent Events, lifecycle actions, clip and snapshot.
"use strict";

(() => {
  const { json, el, local, ago, nav } = CE;
  const alerts = new Map();
  let selected = null;
  let me = null;
  let source = null;
  let audio = null;
  let muted = localStorage.getItem("ce-muted") === "1";
  const $ = (id) => document.getElementById(id);

  // ---- sound: a short two-tone beep for priority 1, through WebAudio ----
  function beep() {
    if (muted) return;
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
      const now = audio.currentTime;
      [0, 0.25].forEach((offset, i) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = i ? 660 : 880;
        gain.gain.setValueAtTime(0.0001, now + offset);
        gain.gain.exponentialRampToValueAtTime(0.25, now + offset + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.2);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + offset);
        osc.stop(now + offset + 0.22);
      });
    } catch (_) { /* no audio device: the red flash still shows */ }
  }
  // Browsers only start audio after a gesture on this page: any click unlocks it.
  document.addEventListener("click", () => {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
    } catch (_) { /* no audio */ }
  });
  function showMute() {
    $("mute").textContent = muted ? "Sound off (P1)" : "Sound on (P1)";
    $("mute").setAttribute("aria-pressed", muted ? "true" : "false");
  }
  $("mute").addEventListener("click", () => {
    muted = !muted;
    localStorage.setItem("ce-muted", muted ? "1" : "0");
    if (!muted && !audio) { try { audio = new AudioContext(); } catch (_) { /* none */ } }
    showMute();
  });

  // ---- list ----
  function matches(a) {
    const b = $("f-building").value, k = $("f-kind").value, s = $("f-status").value;
    if (b && a.building !== b) return false;
    if (k && a.rule !== k) return false;
    if (s === "open") return a.status !== "resolved";
    return !s || a.status === s;
  }
  function order(a, b) {
    const ra = a.status === "resolved" ? 1 : 0, rb = b.status === "resolved" ? 1 : 0;
    if (ra !== rb) return ra - rb;
    if (a.priority !== b.priority) return a.priority - b.priority;
    return (b.created_at || "").localeCompare(a.created_at || "");
  }
  function addOption(select, value) {
    if (!value || [...select.options].some((o) => o.value === value)) return;
    select.append(el("option", { value }, value));
  }
  function render(freshId) {
    const list = $("alerts");
    const shown = [...alerts.values()].filter(matches).sort(order);
    list.replaceChildren(...shown.slice(0, 500).map((a) => el("li", {
      class: `alert-item p${a.priority} status-${a.status}` + (a.id === selected ? " selected" : "")
        + (a.id === freshId ? " fresh" : ""),
      "data-id": a.id, "data-status": a.status, onclick: () => open(a.id),
    },
    el("div", { class: "prio" }, `P${a.priority}`),
    el("div", {},
      el("div", { class: "alert-title" }, a.title),
      el("div", { class: "alert-meta" },
        `${a.rule} · ${a.source.type} ${a.source.id} · ${a.building || "—"} · ${local(a.created_at)}`
        + (a.assignee ? ` · ${a.assignee}` : "") + (a.count > 1 ? ` · ×${a.count}` : ""))),
    el("span", { class: `badge ${a.status}` }, a.status))));
    $("empty").hidden = shown.length > 0;
    const open_ = [...alerts.values()].filter((a) => a.status !== "resolved").length;
    $("count").textContent = `${open_} open · ${alerts.size} loaded`;
  }
  function upsert(a) {
    alerts.set(a.id, a);
    addOption($("f-building"), a.building);
    addOption($("f-kind"), a.rule);
  }

  // ---- detail ----
  async function open(id) {
    selected = id;
    render();
    const pane = $("detail");
    let a;
    try { a = await json(`/api/alerts/${encodeURIComponent(id)}`); } catch (e) {
      pane.replaceChildren(el("p", { class: "error" }, e.message)); return;
    }
    const camSelect = el("select", { id: "clip-camera" },
      (a.cameras || []).map((c) => el("option", { value: c }, c)));
    const video = el("video", { id: "clip", controls: true, muted: true, playsinline: true,
      autoplay: true, preload: "auto" });
    const clipNote = el("div", { class: "muted", id: "clip-note" });
    video.addEventListener("error", () => {
      clipNote.textContent = "clip not available (yet): no recording of this window on disk";
    });
    const setClip = async () => {
      if (!a.cameras || !a.cameras.length || !a.clip_start) return;
      const q = `camera=${encodeURIComponent(camSelect.value)}`;
      const src = `/api/alerts/${encodeURIComponent(a.id)}/clip?${q}`;
      let media = null;
      try { media = await json(`/api/alerts/${encodeURIComponent(a.id)}/clip/media?${q}`); } catch (e) { media = null; }
      if (media && media.segments > 0 && !media.playable) {
        // e.g. H.265: Chromium cannot decode it. Say so and offer the file, never a black box.
        video.hidden = true;
        video.removeAttribute("src");
        clipNote.replaceChildren(el("span", { class: "error", id: "clip-unplayable" }, media.reason || "this clip cannot be played in the browser"), " ",
          el("a", { class: "download", id: "clip-download", href: src, download: `${camSelect.value}.mp4` }, "Download the clip (MP4)"));
        return;
      }
      video.hidden = false;
      clipNote.textContent = "";
      video.src = src;
    };
    camSelect.addEventListener("change", setClip);
    const snapshot = a.snapshot
      ? el("img", { src: `/api/alerts/${encodeURIComponent(a.id)}/snapshot`, alt: "snapshot" })
      : el("div", { class: "muted" }, "no snapshot");
    const note = el("textarea", { id: "note", placeholder: "note (optional for actions)" });
    const assignee = el("input", { id: "assignee", placeholder: "assignee", value: me.name });
    const act = (action, body) => async () => {
      try {
        const updated = await json(`/api/alerts/${encodeURIComponent(a.id)}/${action}`,
          { method: "POST", body });
        upsert(updated);
        note.value = "";
        open(a.id);
      } catch (e) { alert(`${action}: ${e.message}`); }
    };
    const resolved = a.status === "resolved";
    pane.replaceChildren(
      el("h2", {}, `P${a.priority} · ${a.title}`),
      el("div", { class: "muted" }, `${a.rule} · ${a.source.type} ${a.source.id} · building ${a.building || "—"}`),
      el("div", {}, el("span", { class: `badge ${a.status}` }, a.status),
        " ", a.assignee ? `assigned to ${a.assignee}` : "unassigned",
        ` · opened ${local(a.created_at)} (${ago(a.created_at)})`),
      el("div", { class: "media" }, snapshot,
        a.cameras && a.cameras.length && a.clip_start
          ? el("div", {}, video, el("div", { class: "muted" }, "camera ", camSelect,
            ` · ${local(a.clip_start)} → ${local(a.clip_end)}`), clipNote)
          : el("div", { class: "muted" }, "no linked clip"),
        el("div", { class: "live-box wall", id: "alert-live", "data-layout": "4" })),
      el("div", { class: "actions" },
        el("button", { id: "btn-ack", class: "primary", disabled: a.status !== "new",
          onclick: () => act("ack", { note: note.value || null })() }, "Acknowledge"),
        assignee,
        el("button", { id: "btn-assign", disabled: resolved,
          onclick: () => act("assign", { assignee: assignee.value || null, note: note.value || null })() }, "Assign"),
        el("button", { id: "btn-note",
          onclick: () => note.value ? act("notes", { note: note.value })() : note.focus() }, "Add note"),
        el("button", { id: "btn-resolve", class: "danger", disabled: resolved,
          onclick: () => act("resolve", { note: note.value || null })() }, "Resolve")),
      note,
      el("h3", {}, "History"),
      el("ul", { class: "history", id: "history" }, (a.history || []).map((h) => el("li", {},
        `${local(h.at)} · ${h.actor} · ${h.action}`
        + (h.to_status && h.from_status !== h.to_status ? ` (${h.from_status || "—"} → ${h.to_status})` : "")
        + (h.note ? ` · “${h.note}”` : "")))),
    );
    setClip();
    if (typeof CELive !== "undefined") CELive.show($("alert-live"), (a.cameras || []).slice(0, 4));  // live beside the clip
  }

  // ---- live stream: EventSource resends Last-Event-ID itself when it reconnects ----
  let lastId = "0-0";
  function connect(after) {
    lastId = after;
    source = new EventSource(`/api/alerts/stream?after=${encodeURIComponent(after)}`);
    const live = $("live");
    source.onopen = () => { live.replaceChildren(el("span", { class: "dot live-on" }), "live"); };
    source.onerror = () => {
      live.replaceChildren(el("span", { class: "dot live-off" }), "reconnecting…");
      // The browser retries by itself after a network error, but gives up for good after
      // an HTTP error (e.g. 503 while Redis restarts): then reconnect from the last id.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => connect(lastId), 3000);
      }
    };
    source.addEventListener("alert", (ev) => {
      if (ev.lastEventId) lastId = ev.lastEventId;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      const a = msg.alert || msg;
      const isNew = !alerts.has(a.id);
      upsert(a);
      render(isNew ? a.id : null);
      if (isNew && a.priority === 1 && a.status === "new") beep();
      if (a.id === selected && msg.action !== "created") open(a.id);
    });
  }

  async function start() {
    showMute();
    me = await nav();
    const response = await CE.api("/api/alerts?limit=500");
    const streamId = response.headers.get("X-Stream-Id") || "0-0";
    for (const a of await response.json()) upsert(a);
    render();
    for (const id of ["f-building", "f-kind", "f-status"]) $(id).addEventListener("change", () => render());
    connect(streamId);
  }
  start();
})();
