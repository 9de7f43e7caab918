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
from pathlib import Path
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

from sample_streams import clock_stream  # noqa: E402
from sample_streams.sim_control import ControlHandler  # noqa: E402
from sample_streams.sim_matrix import launch_for, make_auth, not_seekable  # noqa: E402
from sample_streams.sim_media import (  # noqa: E402
    Clip,
    Feed,
    Feeder,
    corrupt_clip,
    load_clip,
    splice_clip,
)

log = logging.getLogger("rtsp_sim")

CLIPS_DIR = Path(__file__).resolve().parent / "clips"
STREAMS = ("main", "sub")


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
        variants: dict[str, dict[str, Any]] | None = None,
        auth_user: str = "admin",
        auth_password: str = "",
    ) -> None:
        fps = next(iter(clips.values())).fps
        self.basic_auth = basic_auth
        self.clips = clips
        self.cameras = cameras
        self.host = host
        self.variants = variants or {}
        self.auth_user, self.auth_password = auth_user, auth_password
        self.feeder = Feeder(fps=fps)
        self.offline: set[str] = set()
        self.server = self._new_server(host, port)
        self.mounts = self.server.get_mount_points()
        if basic_auth is not None:  # every mount of the main server asks for Basic auth
            self.server.set_auth(make_auth("basic", *basic_auth))
        self.auth_servers: dict[str, Any] = {}  # method -> server (matrix cameras with auth)
        self.camera_server: dict[str, Any] = {}
        self.factories: dict[str, Any] = {}
        self.offsets: dict[str, int] = {}
        seen: dict[str, int] = {}
        for cam, clip_name in cameras.items():
            k = seen.get(clip_name, 0)
            seen[clip_name] = k + 1
            frames = clips[(clip_name, "sub")].frames
            self.offsets[cam] = int(k * stagger_s * fps) % frames
            variant = self.variants.get(clip_name, {})
            server = self._server_for(variant.get("auth"))
            self.camera_server[cam] = server
            for stream in STREAMS:
                self._add_factory(
                    f"/{cam}/{stream}", cam, clips[(clip_name, stream)], self.offsets[cam],
                    variant if stream == "main" else {"auth": variant.get("auth")}, server,
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

    @staticmethod
    def _new_server(host: str, port: int) -> Any:
        server = GstRtspServer.RTSPServer()
        server.set_address(host)
        server.set_service(str(port))
        # One thread per client connection: DESCRIBE waits for the media to preroll (up to a
        # GOP for the first keyframe), which on the single default thread would serialise
        # every client's start-up behind the others.
        server.get_thread_pool().set_max_threads(-1)
        return server

    def _server_for(self, method: str | None) -> Any:
        """The main server, or the one (own port) that asks for Basic or Digest auth."""
        if not method:
            return self.server
        if method not in self.auth_servers:
            server = self._new_server(self.host, 0)
            server.set_auth(make_auth(method, self.auth_user, self.auth_password))
            self.auth_servers[method] = server
        return self.auth_servers[method]

    def _add_factory(self, path: str, camera: str, clip: Clip, offset: int,
                     variant: dict[str, Any] | None = None, server: Any = None) -> None:
        variant = variant or {}
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_for(clip.codec, variant.get("audio") or "none"))
        factory.set_shared(True)
        if variant.get("auth") or (self.basic_auth is not None and server in (None, self.server)):
            factory.add_role_from_structure(Gst.Structure.from_string(
                "user, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true")[0])
        factory.connect("media-configure", self._on_configure, path, camera, clip, offset,
                        variant)
        self.factories[path] = factory
        (server or self.server).get_mount_points().add_factory(path, factory)

    def _on_configure(
        self, _factory: Any, media: Any, path: str, camera: str, clip: Clip, offset: int,
        variant: dict[str, Any],
    ) -> None:
        appsrc = media.get_element().get_by_name("src")
        appsrc.set_property("caps", Gst.Caps.from_string(clip.caps))
        audio = media.get_element().get_by_name("asrc")
        if audio is not None:
            not_seekable(audio)
        behaviour = variant.get("behaviour")
        every = float(variant.get("reboot_every_s") or 0)
        token = self.feeder.add(
            Feed(key=path, camera=camera, clip=clip, offset_frames=offset, appsrc=appsrc,
                 behaviour=behaviour if behaviour in ("reboot", "stall") else None,
                 reboot_every_frames=round(every * clip.fps))
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
        for server in (self.server, *self.auth_servers.values()):
            if server.attach(None) == 0:
                raise RuntimeError(f"cannot listen on {self.host}:{server.get_service()}")
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
                self.camera_server[camera].get_mount_points().add_factory(
                    path, self.factories[path])
        elif not online and camera not in self.offline:
            self.offline.add(camera)
            self.feeder.paused.add(camera)
            for path in paths:
                self.camera_server[camera].get_mount_points().remove_factory(path)
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

        for server in (self.server, *self.auth_servers.values()):
            server.client_filter(decide)
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

        for server in (self.server, *self.auth_servers.values()):
            server.client_filter(count)
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
            "cameras": {cam: self._camera_info(cam, clip) for cam, clip in self.cameras.items()},
            "auth_ports": {m: int(s.get_bound_port()) for m, s in self.auth_servers.items()},
            "clock": {cam: {s: f"{base}/{cam}/{s}" for s in STREAMS}
                      for cam in self.clock_cameras},
            "corrupt": {s: f"{base}/corrupt/{s}" for s in STREAMS},
            "clips": {
                name: {"frames": clip.frames, "duration_s": clip.duration_s}
                for (name, stream), clip in self.clips.items()
                if stream == "sub"
            },
        }


    def _camera_info(self, cam: str, clip: str) -> dict[str, Any]:
        base = f"rtsp://{self.host}:{int(self.camera_server[cam].get_bound_port())}"
        info: dict[str, Any] = {
            "clip": clip,
            "offset_s": self.offsets[cam] / self.feeder.fps,
            "main": f"{base}/{cam}/main",
            "sub": f"{base}/{cam}/sub",
        }
        variant = self.variants.get(clip)
        if variant is not None:
            info["variant"] = {k: variant.get(k) for k in
                               ("codec", "audio", "auth", "behaviour", "reboot_every_s")}
        return info


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
    parser.add_argument("--auth-user", default="admin",
                        help="user name of the matrix cameras that ask for RTSP auth")
    parser.add_argument("--auth-password-env", default="RTSP_SIM_PASSWORD",
                        help="environment variable holding their password")
    parser.add_argument("--basic-auth-env", default="", metavar="NAME",
                        help="every mount asks for Basic auth with the user:password in NAME")
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
    variants = {}
    for name in sorted(needed):
        spec = args.clips_dir / name / "variant.json"
        if spec.exists():
            variants[name] = json.loads(spec.read_text())
    clips = {
        (name, s): load_clip(
            name, args.clips_dir / name / f"{s}.mp4", fps=15,
            codec=variants.get(name, {}).get("codec", "h264") if s == "main" else "h264",
        )
        for name in sorted(needed)
        for s in STREAMS
    }
    for name, variant in variants.items():
        if variant.get("behaviour") == "resize":
            clips[(name, "main")] = splice_clip(clips[(name, "main")], clips[(name, "sub")])
    password = os.environ.get(args.auth_password_env, "")
    if any(v.get("auth") for v in variants.values()) and not password:
        raise SystemExit(f"cameras with RTSP auth need a password in ${args.auth_password_env}")
    sim = Simulator(clips, cameras, args.host, args.port, corrupt_source, args.stagger_s,
                    tuple(args.clock_camera), basic_auth, variants, args.auth_user, password)
    loop = GLib.MainLoop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)

    control = socketserver.ThreadingTCPServer(("127.0.0.1", args.control_port), ControlHandler)
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
