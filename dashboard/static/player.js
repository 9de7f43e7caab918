// Playback of recordings: up to 4 cameras in sync on one time cursor, each played by
// hls.js (vendored from npm) from an audited playback session's HLS playlists, which the
// dashboard builds from the recordings layout. /recordings?camera=ID&at=ISO plays from
// that instant. Pause, seek (timeline click), 1/2/4/8x, frame step, in/out marks, export.
"use strict";

const CEPlayer = (() => {
  const { json, api, el, cookie } = CE;
  const $ = (id) => document.getElementById(id);
  const HALF_DAY = 12 * 3600e3;
  let session = null;
  let players = [];       // {camera, video, hls, frags, fps, timeline, info}
  let view = { start: 0, end: 0 };
  let cursor = null;      // wall time in ms
  let marks = { in: null, out: null };
  let syncTimer = null;

  // -- wall time <-> media time, from each segment's PROGRAM-DATE-TIME ----------------
  function toMedia(p, wall) {
    for (const f of p.frags) {
      const pdt = f.programDateTime;
      if (wall < pdt) return { t: f.start, gap: true };
      if (wall < pdt + f.duration * 1000) return { t: f.start + (wall - pdt) / 1000, gap: false };
    }
    return null;
  }
  function toWall(p, media) {
    for (const f of p.frags) {
      if (media < f.start + f.duration) return f.programDateTime + Math.max(0, media - f.start) * 1000;
    }
    return null;
  }

  function status(p, text, kind = "info") {
    p.state.textContent = text;
    p.state.className = `state ${kind}`;
    p.box.dataset.state = kind;
  }

  function seekOne(p, wall) {
    const m = p.frags.length ? toMedia(p, wall) : null;
    if (!m) { status(p, "no recording at this time", "error"); return; }
    if (m.gap) status(p, "gap in the recording: showing the next recorded moment", "info");
    p.video.currentTime = m.t;
  }

  function seek(wall) {
    cursor = wall;
    for (const p of players) if (p.ready) seekOne(p, wall);
    paint();
  }

  function paint() {
    if (cursor !== null) $("pb-clock").textContent = new Date(cursor).toLocaleString();
    for (const p of players) p.timeline.setCursor(cursor);
    $("pb-marks").textContent = marks.in !== null || marks.out !== null
      ? `in ${marks.in !== null ? new Date(marks.in).toLocaleTimeString() : "—"} · out ${marks.out !== null ? new Date(marks.out).toLocaleTimeString() : "—"}`
      : "no marks";
  }

  // The first playing camera leads; the others follow within a quarter second.
  function sync() {
    const lead = players.find((p) => p.ready && !p.video.seeking && p.video.readyState >= 2);
    if (!lead) return;
    const wall = toWall(lead, lead.video.currentTime);
    if (wall === null) return;
    cursor = wall;
    for (const p of players) {
      if (p === lead || !p.ready || p.video.seeking) continue;
      const theirs = toWall(p, p.video.currentTime);
      if (theirs === null || Math.abs(theirs - wall) > 250) seekOne(p, wall);
      if (p.video.paused !== lead.video.paused) (lead.video.paused ? p.video.pause() : p.video.play().catch(() => {}));
      p.video.playbackRate = lead.video.playbackRate;
    }
    paint();
  }

  function makePlayer(cam) {
    const video = el("video", { muted: true, playsinline: true, "data-camera": cam.id });
    video.muted = true;
    const state = el("div", { class: "state" }, "loading…");
    const box = el("div", { class: "tile", "data-camera": cam.id }, video,
      el("span", { class: "label" }, cam.id), state);
    const p = { camera: cam.id, video, box, state, hls: null, frags: [], ready: false,
                fps: cam.fps || 15, info: cam, timeline: null };
    p.timeline = CETimeline.create($("pb-timelines"), cam.id, view, (t) => seek(t));
    if (!cam.playable) {
      const q = new URLSearchParams({ camera: cam.id, start: new Date((cursor || view.start) - 300e3).toISOString(),
                                      end: new Date((cursor || view.start) + 300e3).toISOString() });
      status(p, cam.reason || "cannot be played here", "error");
      box.append(el("a", { class: "download", href: `/api/recordings/clip?${q}`, download: `${cam.id}.mp4` },
        "Download these 10 minutes"));
      return p;
    }
    const hls = new Hls({ enableWorker: false, autoStartLoad: false, maxBufferLength: 20,
                          backBufferLength: 30, maxBufferHole: 0.5, startFragPrefetch: true });
    p.hls = hls;
    hls.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
      p.frags = data.details.fragments.filter((f) => f.programDateTime);
      const m = cursor !== null ? toMedia(p, cursor) : null;
      const start = m ? m.t : 0;
      p.ready = true;
      hls.startLoad(start);
      video.currentTime = start;
      status(p, "ready", "info");
    });
    hls.on(Hls.Events.ERROR, (_e, data) => { if (data.fatal) status(p, `playback error: ${data.details}`, "error"); });
    video.addEventListener("seeked", () => { if (p.ready) status(p, video.paused ? "paused" : "playing", "live"); });
    video.addEventListener("playing", () => status(p, "playing", "live"));
    hls.attachMedia(video);
    hls.loadSource(cam.playlist);
    return p;
  }

  function close() {
    if (syncTimer) clearInterval(syncTimer);
    for (const p of players) if (p.hls) p.hls.destroy();
    players = [];
    $("pb-videos").replaceChildren();
    $("pb-timelines").replaceChildren();
    if (session) {
      const id = session.id;
      session = null;
      api(`/api/playback/sessions/${id}/close`, { method: "POST", keepalive: true }).catch(() => {});
    }
  }

  // Open a session for up to 4 cameras around the instant `at` (ms) and play from there.
  async function open(cameras, at) {
    close();
    $("player").hidden = false;
    cursor = at;
    view.start = at - HALF_DAY;
    view.end = at + HALF_DAY;
    marks = { in: null, out: null };
    $("pb-msg").textContent = "opening…";
    try {
      session = await json("/api/playback/sessions", { method: "POST", body: {
        cameras: cameras.slice(0, 4), start: new Date(view.start).toISOString(),
        end: new Date(Math.min(view.end, Date.now() + 60e3)).toISOString(), at: new Date(at).toISOString() } });
    } catch (e) { $("pb-msg").textContent = e.message; return; }
    $("pb-msg").textContent = "";
    $("pb-videos").dataset.count = String(session.cameras.length);
    players = session.cameras.map(makePlayer);
    $("pb-videos").replaceChildren(...players.map((p) => p.box));
    await Promise.all(players.map((p) => p.timeline.load(view.start, view.end).catch((e) => { $("pb-msg").textContent = e.message; })));
    paint();
    syncTimer = setInterval(sync, 250);
    const url = new URL(location.href);
    url.searchParams.delete("camera");
    url.searchParams.set("cameras", cameras.join(","));
    url.searchParams.set("at", new Date(at).toISOString());
    history.replaceState(null, "", url);
  }

  function zoom(factor) {
    const centre = cursor !== null ? cursor : (view.start + view.end) / 2;
    const span = Math.min(2 * HALF_DAY, Math.max(60e3, (view.end - view.start) * factor));
    view.start = centre - span / 2;
    view.end = centre + span / 2;
    for (const p of players) p.timeline.draw();
  }

  function step(frames) {
    for (const p of players) p.video.pause();
    const lead = players.find((p) => p.ready);
    if (!lead) return;
    // to the middle of the next (or previous) frame, never onto a frame boundary
    const t = lead.video.currentTime;
    const frag = lead.frags.find((f) => t < f.start + f.duration) || lead.frags[lead.frags.length - 1];
    if (!frag) return;
    const index = Math.floor((t - frag.start) * lead.fps + 1e-3);
    const target = Math.max(0, frag.start + (index + frames + 0.5) / lead.fps);
    const wall = toWall(lead, target);
    if (wall !== null) seek(wall);
  }

  async function exportMarked(ev) {
    ev.preventDefault();
    if (marks.in === null || marks.out === null || marks.out <= marks.in) {
      $("pb-export-msg").textContent = "set an in mark before an out mark first";
      return;
    }
    try {
      const job = await json("/api/exports", { method: "POST", body: {
        camera_ids: players.map((p) => p.camera), start: new Date(marks.in).toISOString(),
        end: new Date(marks.out).toISOString(), case_id: $("pb-case").value, reason: $("pb-reason").value } });
      $("pb-export-msg").textContent = `export ${job.id} started`;
      const poll = async () => {
        const s = await json(`/api/exports/${job.id}`);
        if (s.state === "done") {
          $("pb-download").href = s.download_url;
          $("pb-download").hidden = false;
          $("pb-export-msg").textContent = `export done: ${s.manifest ? s.manifest.cameras.length : ""} camera(s)`;
        } else if (s.state === "failed") $("pb-export-msg").textContent = `export failed: ${s.error}`;
        else setTimeout(poll, 700);
      };
      poll();
    } catch (e) { $("pb-export-msg").textContent = e.message; }
  }

  function wire() {
    $("pb-play").addEventListener("click", () => {
      const lead = players.find((p) => p.ready);
      if (!lead) return;
      if (lead.video.paused) for (const p of players) p.video.play().catch(() => {});
      else for (const p of players) p.video.pause();
    });
    $("pb-rate").addEventListener("change", () => { for (const p of players) p.video.playbackRate = Number($("pb-rate").value); });
    $("pb-back").addEventListener("click", () => step(-1));
    $("pb-fwd").addEventListener("click", () => step(1));
    $("pb-in").addEventListener("click", () => { marks.in = cursor; for (const p of players) p.timeline.setMarks(marks); paint(); });
    $("pb-out").addEventListener("click", () => { marks.out = cursor; for (const p of players) p.timeline.setMarks(marks); paint(); });
    $("pb-zoom-in").addEventListener("click", () => zoom(1 / 4));
    $("pb-zoom-out").addEventListener("click", () => zoom(4));
    $("pb-timelines").addEventListener("wheel", (ev) => { ev.preventDefault(); zoom(ev.deltaY < 0 ? 0.5 : 2); }, { passive: false });
    $("pb-export").addEventListener("submit", exportMarked);
    $("pb-close").addEventListener("click", () => { close(); $("player").hidden = true; });
    window.addEventListener("pagehide", close);
  }

  return { open, wire, seek, get players() { return players; }, get cursor() { return cursor; },
           get marks() { return marks; }, get session() { return session; }, toMedia, toWall, csrf: () => cookie("ce_csrf") };
})();
