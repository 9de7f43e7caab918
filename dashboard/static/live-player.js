// Live video for every page: one WebSocket to the live engine per page, multiplexing every
// tile (first byte of each binary message = channel), each channel played by mpegts.js
// (vendored from npm, see static/vendor/README.md) through a loader fed from that socket.
// Needs common.js (CE) and vendor/mpegts.js loaded first.
"use strict";

const CELive = (() => {
  const HEVC = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
  let ws = null;
  let ready = null;       // promise of an open, authenticated socket
  let retry = 0;
  const channels = new Map();  // ch -> channel
  const listeners = new Set(); // connection state listeners

  function say(state, detail) { for (const f of listeners) f(state, detail); }

  class ChannelLoader extends mpegts.BaseLoader {
    constructor(_seekHandler, config) {
      super("ce-live-loader");
      this._needStash = false;
      this._channel = config.ceChannel;
      this._received = 0;
    }
    open() {
      this._status = mpegts.LoaderStatus.kBuffering;
      this._channel.loader = this;
      for (const chunk of this._channel.pending.splice(0)) this.push(chunk);
    }
    abort() {
      if (this._channel.loader === this) this._channel.loader = null;
      this._status = mpegts.LoaderStatus.kComplete;
    }
    push(buffer) {
      const start = this._received;
      this._received += buffer.byteLength;
      if (this._onDataArrival) this._onDataArrival(buffer, start, this._received);
    }
  }

  function freeChannel() {
    for (let ch = 0; ch < 256; ch++) if (!channels.has(ch)) return ch;
    throw new Error("too many live tiles on one page");
  }

  function dispatch(ev) {
    if (typeof ev.data === "string") {
      const m = JSON.parse(ev.data);
      if (m.ch === undefined) { if (m.event === "error") say("error", m.reason); return; }
      const c = channels.get(m.ch);
      if (c) c.event(m);
      return;
    }
    const bytes = new Uint8Array(ev.data, 0, 1);
    const c = channels.get(bytes[0]);
    if (!c) return;
    const chunk = ev.data.slice(1);
    c.bytes += chunk.byteLength;
    if (c.loader) c.loader.push(chunk);
    else if (c.pending.length < 64) c.pending.push(chunk);
  }

  function connect() {
    if (ready) return ready;
    ready = (async () => {
      say("connecting");
      const t = await CE.json("/api/live/ticket", { method: "POST", body: {} });
      const socket = new WebSocket(t.url);
      socket.binaryType = "arraybuffer";
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("live engine unreachable"));
      });
      socket.send(JSON.stringify({ ticket: t.ticket }));
      socket.onmessage = dispatch;
      socket.onclose = (e) => {
        ws = null; ready = null;
        const slow = e.code === 4008;
        say("closed", slow ? "connection too slow: reconnecting" : (e.reason || "connection closed"));
        if (channels.size) setTimeout(reconnect, Math.min(10000, 500 * 2 ** retry++));
      };
      ws = socket;
      retry = 0;
      say("open");
      return socket;
    })();
    ready.catch((e) => {
      ready = null;
      say("error", e.message);
      if (channels.size) setTimeout(reconnect, Math.min(10000, 500 * 2 ** retry++));
    });
    return ready;
  }

  async function reconnect() {
    if (ws || !channels.size) return;
    try { await connect(); } catch (_) { return; }
    for (const c of channels.values()) c.restart();
  }

  function makePlayer(c) {
    const player = mpegts.createPlayer(
      { type: "mpegts", isLive: true, url: `ce-live:${c.camera}/${c.stream}` },
      { customLoader: ChannelLoader, ceChannel: c, enableWorker: false, enableStashBuffer: false,
        liveBufferLatencyChasing: true, liveBufferLatencyMaxLatency: 0.9,
        liveBufferLatencyMinRemain: 0.25, liveSync: true, liveSyncTargetLatency: 0.4,
        liveSyncMaxLatency: 0.7, liveSyncPlaybackRate: 1.1, lazyLoad: false,
        autoCleanupSourceBuffer: true, autoCleanupMaxBackwardDuration: 12,
        autoCleanupMinBackwardDuration: 6 });
    player.attachMediaElement(c.video);
    player.on(mpegts.Events.ERROR, (type, detail) => c.status(`player error: ${type} ${detail}`));
    player.load();
    const p = c.video.play();
    if (p && p.catch) p.catch(() => { /* autoplay needs muted; tiles are muted */ });
    return player;
  }

  // Play one camera stream ("sub" in walls, "main" in a single view) in a <video>.
  // onStatus(text, state) is told what happens; returns { stop(), ch }.
  function play(video, camera, stream, onStatus = () => {}) {
    const ch = freeChannel();
    const c = { ch, camera, stream, video, loader: null, pending: [], bytes: 0, player: null,
                stopped: false };
    c.status = (text, state = "info") => onStatus(text, state);
    c.event = (m) => {
      if (m.event === "playing") c.status("connecting to the camera…", "wait");
      else if (m.event === "codec") {
        video.dataset.codec = m.codec;
        if (m.codec === "hevc" && !(window.MediaSource && MediaSource.isTypeSupported(HEVC))) {
          c.status("H.265 stream: this browser cannot decode H.265 live video. Use the recording download, or a browser with H.265 support.", "error");
          send({ op: "stop", ch });
        }
      } else if (m.event === "stalled") c.status(`camera stream interrupted: ${m.reason}`, "error");
      else if (m.event === "error") c.status(m.reason, "error");
      else if (m.event === "stopped" && !c.stopped) c.status(`stopped: ${m.reason}`, "info");
    };
    c.restart = () => {
      if (c.player) { c.player.destroy(); c.player = null; }
      c.loader = null; c.pending = [];
      c.player = makePlayer(c);
      send({ op: "play", ch, camera, stream });
    };
    channels.set(ch, c);
    video.addEventListener("playing", () => c.status("live", "live"));
    connect().then(() => { if (!c.stopped) c.restart(); }).catch(() => {});
    return {
      ch,
      stop() {
        c.stopped = true;
        channels.delete(ch);
        send({ op: "stop", ch });
        if (c.player) { c.player.destroy(); c.player = null; }
      },
      stats() { return { bytes: c.bytes }; },
    };
  }

  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  // A tile (video, label, status line) playing one camera stream; { box, handle }.
  function tile(camera, stream, { expand = true } = {}) {
    const { el } = CE;
    const video = el("video", { muted: true, autoplay: true, playsinline: true, "data-camera": camera });
    video.muted = true;
    const state = el("div", { class: "state" }, "starting…");
    const box = el("div", { class: "tile", "data-camera": camera, "data-stream": stream }, video,
      el("span", { class: "label" }, `${camera} · ${stream}`), state,
      expand ? el("a", { class: "expand", href: `/live?cameras=${encodeURIComponent(camera)}` }, "single view") : null);
    const handle = play(video, camera, stream, (text, kind) => {
      state.textContent = text;
      state.className = `state ${kind}`;
      box.dataset.state = kind;
    });
    return { box, handle };
  }

  // Replace what `container` plays live with these cameras. Tiles shown this way that
  // are no longer on the page (a detail pane redrawn) are stopped too, so nothing plays
  // unseen and the engine can close their upstreams.
  let embedded = [];
  function show(container, cameras, stream = "sub") {
    const keep = [];
    for (const t of embedded) {
      if (t.container === container || !t.box.isConnected) t.handle.stop();
      else keep.push(t);
    }
    const tiles = cameras.map((c) => ({ ...tile(c, stream), container }));
    embedded = keep.concat(tiles);
    container.replaceChildren(...tiles.map((t) => t.box));
  }

  function onConnection(f) { listeners.add(f); return () => listeners.delete(f); }

  // Closing the page ends the socket: the engine audits the end of every view.
  window.addEventListener("pagehide", () => { if (ws) ws.close(1000, "page closed"); });

  return { play, tile, show, onConnection, supported: () => mpegts.isSupported() };
})();
