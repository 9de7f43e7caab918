"""The live-view engine: one upstream RTSP session per camera stream, fanned out to every
viewer over one multiplexed WebSocket per page (MPEG-TS by stream copy, played in the
browser by mpegts.js). See docs/architecture.md, "Live view", for why this engine."""
