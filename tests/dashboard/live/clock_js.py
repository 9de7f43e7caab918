"""Reading the clock pattern (sample_streams/clock_stream.py) out of a playing <video>.

Evaluated by Playwright in the page: on the next presented frame, WebCodecs copies the
frame's luma plane and the 32 blocks are read as clock_stream.read_clock does.
"""

READ_CLOCK = """(v) => new Promise((resolve) => v.requestVideoFrameCallback(async (now, meta) => {
  const f = new VideoFrame(v);
  const r = f.visibleRect;
  const rect = { x: r.x, y: r.y, width: r.width, height: r.height };
  const buf = new Uint8Array(f.allocationSize({ rect }));
  const layout = await f.copyTo(buf, { rect });
  f.close();
  const stride = layout[0].stride, off = layout[0].offset;
  const bw = r.width / 32, bh = r.height * 40 / 360;
  let value = 0;
  for (let i = 0; i < 32; i++) {
    const x = Math.floor((i + 0.5) * bw);
    const top = buf[off + Math.floor(bh * 0.5) * stride + x];
    const bottom = buf[off + Math.floor(bh * 1.5) * stride + x];
    if ((top > 128) === (bottom > 128)) { resolve(null); return; }
    value = value * 2 + (top > 128 ? 1 : 0);
  }
  // the frame is on screen at expectedDisplayTime; Date.now() is read now
  const shownAt = Date.now() + (meta.expectedDisplayTime - performance.now());
  resolve({ stamp: value, latency_ms: ((shownAt - value) % 2 ** 32 + 2 ** 32) % 2 ** 32,
            media_time: meta.mediaTime });
}))"""
