"""RTSP camera simulator: many looping H.264 cameras from the sample clips, without re-encoding.

Run with the SYSTEM python (stdlib + gi only), from the repository root:

    PYTHONPATH=. /usr/bin/python3 -m sample_streams.rtsp_sim --port 8554 --cameras 8
    PYTHONPATH=. /usr/bin/python3 -m sample_streams.rtsp_sim --camera cam001=people \
        --camera cam002=cars

Mounts: `/<camera>/main` (1280x720) and `/<camera>/sub` (640x360) per camera, looping for
ever at real-time pace (see sim_media for the time model), plus `/corrupt/main` and
`/corrupt/sub` serving H.264 with garbage in the slice data. Media are shared: all clients
of one mount share one pipeline, which exists only while someone watches.

`--cameras N` adds cam1..camN, clips assigned round-robin; `--camera ID=CLIP` adds one
explicit camera. Port 0 picks a free port. When serving, one line goes to stdout:

    READY {"rtsp_port": ..., "control_port": ..., "host": ..., "epoch_unix": ...,
           "fps": 15, "cameras": {id: {"clip", "offset_s", "main", "sub"}},
           "corrupt": {"main", "sub"}, "clips": {name: {"frames", "duration_s"}}}

Control: a line protocol on a loopback TCP port (`control_port`), one JSON reply per line:
`offline <id>` (removes the camera's mounts, so DESCRIBE gets 404, and disconnects its
clients), `online <id>`, `status`, `sessions` (connected RTSP clients per mount), `ping`.
SIGTERM or SIGINT stops cleanly.

`--clock-camera ID` adds `/<ID>/main` and `/<ID>/sub` that carry the wall clock in the
picture, encoded live by x264 (sample_streams/clock_stream.py), for latency measurements.

`--basic-auth-env NAME` makes every mount ask for RTSP Basic authentication with the
`user:password` held in the environment variable NAME (a camera with a password; the
secret stays off the command line).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from sample_streams import clock_stream  # noqa: E402
from sample_streams.sim_media import Clip, Feed, Feeder, corrupt_clip, load_clip  # noqa: E402

log = logging.getLogger("rtsp_sim")

CLIPS_DIR = Path(__file__).resolve().parent / "clips"
STREAMS = ("main", "sub")
LAUNCH = (
    "( appsrc name=src is-live=true format=time do-timestamp=false max-buffers=45 "
    "leaky-type=downstream ! rtph264pay name=pay0 pt=96 config-interval=-1 )"
)


class Simulator:
    """The RTSP server, its cameras and their on/off-air state; all methods run on the GLib loop."""

    def __init__(
        self,
        clips: dict[tuple[str, str], Clip],
        cameras: dict[str, str],
        host: str,
        port: int,
        corrupt_source: str,
        stagger_s: float,
        clock_cameras: tuple[str, ...] = (),
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        fps = next(iter(clips.values())).fps
        self.basic_auth = basic_auth
        self.clips = clips
        self.cameras = cameras
        self.host = host
        self.feeder = Feeder(fps=fps)
        self.offline: set[str] = set()
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        # One thread per client connection: DESCRIBE waits for the media to preroll (up to a
        # GOP for the first keyframe), which on the single default thread would serialise
        # every client's start-up behind the others.
        self.server.get_thread_pool().set_max_threads(-1)
        self.mounts = self.server.get_mount_points()
        if basic_auth is not None:
            auth = GstRtspServer.RTSPAuth()
            token = GstRtspServer.RTSPToken()
            token.set_string("media.factory.role", "viewer")
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(*basic_auth), token)
            self.server.set_auth(auth)
        self.factories: dict[str, Any] = {}
        self.offsets: dict[str, int] = {}
        seen: dict[str, int] = {}
        for cam, clip_name in cameras.items():
            k = seen.get(clip_name, 0)
            seen[clip_name] = k + 1
            frames = clips[(clip_name, "sub")].frames
            self.offsets[cam] = int(k * stagger_s * fps) % frames
            for stream in STREAMS:
                self._add_factory(
                    f"/{cam}/{stream}", cam, clips[(clip_name, stream)], self.offsets[cam]
                )
        for stream in STREAMS:
            bad = corrupt_clip(clips[(corrupt_source, stream)])
            self._add_factory(f"/corrupt/{stream}", "corrupt", bad, 0)
        self.clock_cameras = clock_cameras
        for cam in clock_cameras:
            for stream in STREAMS:
                self._add_clock_factory(f"/{cam}/{stream}")

    def _add_clock_factory(self, path: str) -> None:
        """A mount that encodes the wall clock live (see sample_streams.clock_stream)."""
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(clock_stream.LAUNCH)
        factory.set_shared(True)

        def configure(_factory: Any, media: Any) -> None:
            appsrc = media.get_element().get_by_name("src")
            appsrc.set_property("caps", Gst.Caps.from_string(clock_stream.CAPS))
            feed = clock_stream.ClockFeed(appsrc, Gst)
            feed.start()
            media.connect("unprepared", lambda _m: feed.stop())

        factory.connect("media-configure", configure)
        self.factories[path] = factory
        self.mounts.add_factory(path, factory)

    def _add_factory(self, path: str, camera: str, clip: Clip, offset: int) -> None:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(LAUNCH)
        factory.set_shared(True)
        if self.basic_auth is not None:
            factory.add_role_from_structure(Gst.Structure.from_string(
                "viewer, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true")[0])
        factory.connect("media-configure", self._on_configure, path, camera, clip, offset)
        self.factories[path] = factory
        self.mounts.add_factory(path, factory)

    def _on_configure(
        self, _factory: Any, media: Any, path: str, camera: str, clip: Clip, offset: int
    ) -> None:
        appsrc = media.get_element().get_by_name("src")
        appsrc.set_property("caps", Gst.Caps.from_string(clip.caps))
        token = self.feeder.add(
            Feed(key=path, camera=camera, clip=clip, offset_frames=offset, appsrc=appsrc)
        )
        media.connect("unprepared", lambda _m: self.feeder.remove(token))
        media.connect("prepared", self._hold)

    def _hold(self, media: Any) -> None:
        """Keep a mount's pipeline running once someone has watched it, like a real camera.

        A shared media whose last client leaves is torn down, and a client that connects
        while that happens is refused with 503; a reconnecting client (the edge worker after
        a hiccup, a test reading twice) must not hit that. One extra prepare() on the loop
        keeps the media's prepare count above zero, so it is never torn down.
        """

        def hold() -> bool:
            if not media.prepare(None):
                log.debug("media of %s went away before it could be held", media)
            return False

        GLib.idle_add(hold)

    def start(self) -> int:
        if self.server.attach(None) == 0:
            raise RuntimeError(f"cannot listen on {self.host}:{self.server.get_service()}")
        self.feeder.start()
        return int(self.server.get_bound_port())

    def set_online(self, camera: str, online: bool) -> dict[str, Any]:
        if camera not in self.cameras:
            return {"ok": False, "error": f"unknown camera {camera!r}"}
        paths = [f"/{camera}/{s}" for s in STREAMS]
        if online and camera in self.offline:
            self.offline.discard(camera)
            self.feeder.paused.discard(camera)
            for path in paths:
                self.mounts.add_factory(path, self.factories[path])
        elif not online and camera not in self.offline:
            self.offline.add(camera)
            self.feeder.paused.add(camera)
            for path in paths:
                self.mounts.remove_factory(path)
            kicked = self._kick_clients(set(paths))
            log.info("camera %s off the air, %d client(s) disconnected", camera, kicked)
        return {"ok": True, "camera": camera, "online": camera not in self.offline}

    def _kick_clients(self, paths: set[str]) -> int:
        """Disconnect every client that has a session on one of these mount paths."""
        kicked = 0

        def decide(_server: Any, client: Any, *_a: Any) -> Any:
            nonlocal kicked
            if _watches(client, paths):
                kicked += 1
                return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(decide)
        return kicked

    def sessions(self) -> dict[str, Any]:
        """How many connected RTSP clients have a session on each mount (upstream sessions
        as a camera would count them)."""
        counts: dict[str, int] = {}

        def count(_server: Any, client: Any, *_a: Any) -> Any:
            for path in self.factories:
                if _watches(client, {path}):
                    counts[path] = counts.get(path, 0) + 1
            return GstRtspServer.RTSPFilterResult.KEEP

        self.server.client_filter(count)
        return {"ok": True, "sessions": counts, "total": sum(counts.values())}

    def status(self) -> dict[str, Any]:
        return {
            "ok": True,
            "offline": sorted(self.offline),
            "streaming": self.feeder.active(),
            "global_frame": self.feeder.global_frame(),
        }

    def ready_info(self, port: int) -> dict[str, Any]:
        fps = self.feeder.fps
        base = f"rtsp://{self.host}:{port}"
        return {
            "rtsp_port": port,
            "host": self.host,
            "fps": fps,
            # Wall-clock time of global frame 0: clip frame at time t is
            # (floor((t - epoch_unix) * fps) + offset_s * fps) mod frames.
            "epoch_unix": time.time() - (time.monotonic() - self.feeder.epoch),
            "cameras": {
                cam: {
                    "clip": clip,
                    "offset_s": self.offsets[cam] / fps,
                    "main": f"{base}/{cam}/main",
                    "sub": f"{base}/{cam}/sub",
                }
                for cam, clip in self.cameras.items()
            },
            "clock": {cam: {s: f"{base}/{cam}/{s}" for s in STREAMS}
                      for cam in self.clock_cameras},
            "corrupt": {s: f"{base}/corrupt/{s}" for s in STREAMS},
            "clips": {
                name: {"frames": clip.frames, "duration_s": clip.duration_s}
                for (name, stream), clip in self.clips.items()
                if stream == "sub"
            },
        }


def _watches(client: Any, paths: set[str]) -> bool:
    """Whether an RTSP client has a session on one of these mount paths."""
    found = False

    def check_session(_c: Any, session: Any, *_a: Any) -> Any:
        def check_media(_s: Any, sess_media: Any, *_b: Any) -> Any:
            nonlocal found
            if any(sess_media.matches(p)[0] for p in paths):
                found = True
            return GstRtspServer.RTSPFilterResult.KEEP

        session.filter(check_media)
        return GstRtspServer.RTSPFilterResult.KEEP

    client.session_filter(check_session)
    return found


class _ControlHandler(socketserver.StreamRequestHandler):
    """One control connection: read command lines, run each on the GLib loop, answer JSON."""

    def handle(self) -> None:
        run: Callable[[str], dict[str, Any]] = self.server.run_command  # type: ignore[attr-defined]
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            reply = run(line)
            self.wfile.write((json.dumps(reply) + "\n").encode())
            self.wfile.flush()


def _on_loop(sim: Simulator, line: str) -> dict[str, Any]:
    """Run one control command on the GLib main loop and wait for its result."""
    parts = line.split()
    done = threading.Event()
    result: dict[str, Any] = {}

    def call() -> bool:
        try:
            cmd, args = parts[0].lower(), parts[1:]
            if cmd == "ping":
                result.update({"ok": True})
            elif cmd == "status":
                result.update(sim.status())
            elif cmd == "sessions":
                result.update(sim.sessions())
            elif cmd in ("offline", "online") and len(args) == 1:
                result.update(sim.set_online(args[0], cmd == "online"))
            else:
                result.update({"ok": False, "error": f"bad command {line!r}"})
        except Exception as exc:  # a bad command must never kill the simulator
            log.exception("control command %r failed", line)
            result.update({"ok": False, "error": str(exc)})
        finally:
            done.set()
        return False

    GLib.idle_add(call)
    if not done.wait(10):
        return {"ok": False, "error": "timed out"}
    return result


def _parse_cameras(args: argparse.Namespace, clip_names: list[str]) -> dict[str, str]:
    cameras: dict[str, str] = {}
    for spec in args.camera:
        cam, _, clip = spec.partition("=")
        if not cam or "/" in cam or clip not in clip_names:
            raise SystemExit(f"bad --camera {spec!r}: want ID=CLIP with CLIP in {clip_names}")
        cameras[cam] = clip
    count = args.cameras if args.cameras is not None else (0 if cameras else 8)
    for i in range(count):
        cameras.setdefault(f"cam{i + 1}", clip_names[i % len(clip_names)])
    if not cameras:
        raise SystemExit("no cameras to serve")
    return cameras


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtsp_sim", description="RTSP camera simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554, help="RTSP port, 0 = any free port")
    parser.add_argument(
        "--control-port", type=int, default=0, help="control port on 127.0.0.1, 0 = free"
    )
    parser.add_argument(
        "--cameras", type=int, default=None, help="add cam1..camN (default 8 if no --camera)"
    )
    parser.add_argument("--camera", action="append", default=[], metavar="ID=CLIP")
    parser.add_argument("--clips-dir", type=Path, default=CLIPS_DIR)
    parser.add_argument(
        "--clips", default="", help="comma list of clips for round-robin (default: all)"
    )
    parser.add_argument(
        "--corrupt-source", default="", help="clip the corrupt mounts damage (default people)"
    )
    parser.add_argument(
        "--stagger-s",
        type=float,
        default=7.0,
        help="each further camera on the same clip runs this many seconds ahead",
    )
    parser.add_argument(
        "--clock-camera", action="append", default=[], metavar="ID",
        help="add a camera whose picture carries the wall clock, encoded live",
    )
    parser.add_argument(
        "--basic-auth-env", default="", metavar="NAME",
        help="every mount asks for Basic auth with the user:password in this variable",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    basic_auth: tuple[str, str] | None = None
    if args.basic_auth_env:
        user, sep, password = os.environ.get(args.basic_auth_env, "").partition(":")
        if not sep or not user:
            raise SystemExit(f"--basic-auth-env: ${args.basic_auth_env} must be user:password")
        basic_auth = (user, password)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    Gst.init(None)

    available = sorted(p.name for p in args.clips_dir.iterdir() if (p / "sub.mp4").exists())
    wanted = [c for c in args.clips.split(",") if c] or available
    missing = [c for c in wanted if c not in available]
    if missing:
        raise SystemExit(f"clips {missing} not found in {args.clips_dir}")
    cameras = _parse_cameras(args, wanted)
    corrupt_source = args.corrupt_source or ("people" if "people" in available else wanted[0])
    if corrupt_source not in available:
        raise SystemExit(f"corrupt source clip {corrupt_source!r} not found")
    needed = set(cameras.values()) | {corrupt_source}
    clips = {
        (name, s): load_clip(name, args.clips_dir / name / f"{s}.mp4", fps=15)
        for name in sorted(needed)
        for s in STREAMS
    }
    sim = Simulator(clips, cameras, args.host, args.port, corrupt_source, args.stagger_s,
                    tuple(args.clock_camera), basic_auth)
    loop = GLib.MainLoop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)

    control = socketserver.ThreadingTCPServer(("127.0.0.1", args.control_port), _ControlHandler)
    control.daemon_threads = True
    control.run_command = lambda line: _on_loop(sim, line)  # type: ignore[attr-defined]
    control_thread = threading.Thread(target=control.serve_forever, name="control", daemon=True)
    try:
        port = sim.start()
        control_thread.start()
        info = sim.ready_info(port)
        info["control_port"] = control.server_address[1]
        sys.stdout.write("READY " + json.dumps(info) + "\n")
        sys.stdout.flush()
        log.info(
            "serving %d cameras on rtsp://%s:%d, control on %d",
            len(cameras),
            args.host,
            port,
            info["control_port"],
        )
        loop.run()
    finally:
        log.info("stopping")
        if control_thread.is_alive():
            control.shutdown()
        control.server_close()
        sim.feeder.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
