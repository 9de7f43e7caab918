"""The edge worker: every camera of one shard, its recorder, status, metrics and retention.

Threads: per camera a reader and a detection thread (see :mod:`ingest.camera`) and, when
recording, one recorder thread driving its ffmpeg; one event delivery thread
(:class:`compoundeye.bus.BufferedPublisher`); one retention thread; the door listener when
enabled. The thread that calls :meth:`EdgeWorker.run` writes status every couple of
seconds and metrics every interval, waiting on the stop event in between.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis

from compoundeye import bus
from compoundeye.camera_status import (
    CameraState,
    CameraStatusReport,
    RecordingState,
    WatchMode,
    read_recording_states,
)
from compoundeye.events import Event, EventKind, make_event
from compoundeye.legal_holds import HoldReader
from compoundeye.mqtt_url import MqttUrlError
from compoundeye.redact import redact_text
from compoundeye.redis_client import redis_from_settings
from compoundeye.replication import ReplicaWait
from compoundeye.settings import Settings
from compoundeye.site.models import Camera, Site
from compoundeye.timeutil import from_epoch, to_rfc3339, utcnow
from ingest.camera import CameraPipeline
from ingest.doors.listener import DoorListener
from ingest.metrics import CameraCounters, MetricsCollector, PointWriter
from ingest.modes import ModeSchedule, expected_sample_fps
from ingest.reader import ReaderOptions, configure_ffmpeg_capture
from ingest.recorder import Recorder
from ingest.recording_health import (
    NOT_RECORDED_HERE,
    RECORD_FALSE,
    RecorderReading,
    RecordingHealth,
)
from ingest.retention import Retention
from ingest.sharding import select_shard
from ingest.status import CameraHealth, Observation, StatusWriter, read_previous_statuses

log = logging.getLogger(__name__)

STOP_BUDGET_SECONDS = 8.0
"""Everything stops within this (the contract is exit within 10 s)."""


@dataclass(frozen=True)
class WorkerOptions:
    """How this worker runs; defaults from the site's ``edge`` section."""

    shard: tuple[int, int] = (0, 1)
    worker_id: str = "edge-0"
    record: bool = True
    doors: bool = False
    status_interval: float = 2.0
    retention_interval: float = 60.0
    reader: ReaderOptions | None = None
    """Default: :class:`ReaderOptions` with the site's ``edge.colour_frames``."""
    metrics: bool = True
    clock: Callable[[], datetime] = utcnow
    """The clock detect-mode schedules are read with (tests move a fake one)."""


@dataclass
class _Camera:
    camera: Camera
    pipeline: CameraPipeline
    health: CameraHealth
    recording: RecordingHealth
    recorder: Recorder | None = None
    mode_since: float = 0.0
    pipeline_thread: threading.Thread | None = None
    recorder_thread: threading.Thread | None = None


def _start_thread(name: str, target: Callable[[], None]) -> threading.Thread:
    # Daemons: a thread stuck in a read past the stop budget never keeps the process alive.
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def _join(thread: threading.Thread | None, timeout: float) -> None:
    if thread is not None:
        thread.join(max(0.0, timeout))


class EdgeWorker:
    """Runs one shard of the site's cameras until :meth:`stop`."""

    def __init__(self, site: Site, settings: Settings, options: WorkerOptions,
                 *, metrics_writer_factory: Callable[[], Any] | None = None) -> None:
        self.site = site
        self.settings = settings
        self.options = options
        self.cameras = select_shard(site.cameras, *options.shard)
        self._stop = threading.Event()
        self._metrics_writer_factory = metrics_writer_factory
        self._entries: dict[str, _Camera] = {}
        self._events_thread: threading.Thread | None = None
        self._retention_thread: threading.Thread | None = None
        self._doors_thread: threading.Thread | None = None
        self.publisher: bus.BufferedPublisher | None = None
        self.status_writer: StatusWriter | None = None
        self.modes: ModeSchedule | None = None
        self.started = threading.Event()

    def stop(self) -> None:
        """Ask the worker to stop (safe from a signal handler: it only sets a flag)."""
        self._stop.set()

    @property
    def camera_ids(self) -> list[str]:
        return [c.id for c in self.cameras]

    def run(self) -> None:
        """Start everything, supervise until stop, then stop everything within the budget."""
        edge = self.site.edge
        configure_ffmpeg_capture()
        client = redis_from_settings(self.settings)
        publisher = bus.BufferedPublisher(client, wait=ReplicaWait.from_settings(self.settings))
        self.publisher = publisher
        self.status_writer = StatusWriter(client, edge.heartbeat_ttl_seconds)
        writer: Any = None
        collector: MetricsCollector | None = None
        door_listener: DoorListener | None = None
        holds = HoldReader(self.settings.effective_database_url,
                           margin=timedelta(seconds=2 * edge.segment_seconds))
        try:
            self._events_thread = _start_thread("events", publisher.run)
            previous = read_previous_statuses(client, self.camera_ids)
            previous_recording = self._previous_recording(client)
            started = time.time()
            rec_root = self.settings.recordings_dir
            reader_options = self.options.reader or ReaderOptions(colour=edge.colour_frames)
            modes = ModeSchedule(self.site, self.cameras, self.options.clock)
            self.modes = modes
            initial = modes.initial()
            for camera in self.cameras:
                pipeline = CameraPipeline(camera, publisher.publish, self.settings.snapshots_dir,
                                          queue_size=edge.queue_size,
                                          reader_options=reader_options,
                                          health=edge.health if modes.can_switch(camera) else None,
                                          mode=initial.get(camera.id, "full"))
                health = CameraHealth(camera.detect_fps, edge.offline_after_seconds, started,
                                      previous.get(camera.id))
                disabled = ("" if self.options.record and camera.record
                            else RECORD_FALSE if not camera.record else NOT_RECORDED_HERE)
                recording = RecordingHealth(edge.segment_seconds, edge.recording_grace_seconds,
                                            started, disabled_reason=disabled,
                                            previous=previous_recording.get(camera.id))
                entry = _Camera(camera, pipeline, health, recording, mode_since=started)
                if recording.enabled:
                    entry.recorder = Recorder(camera.id, camera.main_url, rec_root,
                                              segment_seconds=edge.segment_seconds)
                self._entries[camera.id] = entry
            for entry in self._entries.values():
                entry.pipeline_thread = _start_thread(f"detect-{entry.camera.id}",
                                                      entry.pipeline.run)
                if entry.recorder is not None:
                    entry.recorder_thread = _start_thread(f"rec-{entry.camera.id}",
                                                          entry.recorder.run)
            if self.options.metrics:
                writer = self._make_metrics_writer()
                buildings = {c.id: c.location.building for c in self.cameras}
                collector = MetricsCollector(writer, self.options.worker_id, buildings)
            retention = Retention(rec_root, self.settings.snapshots_dir,
                                  self.settings.exports_dir, self.camera_ids,
                                  recordings_days=self.site.retention.recordings_days,
                                  snapshots_days=self.site.retention.snapshots_days,
                                  min_free_bytes=self.site.retention.min_free_bytes,
                                  holds=holds, alarm=publisher.publish,
                                  worker_id=self.options.worker_id,
                                  segment_seconds=float(edge.segment_seconds))
            self._retention_thread = _start_thread("retention",
                                                   lambda: self._retention_loop(retention))
            if self.options.doors:
                door_listener = self._door_listener(client)
                if door_listener is not None:
                    self._doors_thread = _start_thread("doors", door_listener.run)
            log.info("edge worker %s: shard %d/%d, %d cameras (%d recording), doors %s",
                     self.options.worker_id, *self.options.shard, len(self._entries),
                     sum(1 for e in self._entries.values() if e.recorder), bool(door_listener))
            self.started.set()
            self._supervise(collector)
        finally:
            self._shutdown(publisher, writer, collector, door_listener)
            holds.close()
            client.close()

    def _make_metrics_writer(self) -> PointWriter:
        if self._metrics_writer_factory is not None:
            made: PointWriter = self._metrics_writer_factory()
            return made
        from compoundeye.tsdb import MetricsWriter

        return MetricsWriter.from_settings(self.settings, buffer_size=50_000)

    def _supervise(self, collector: MetricsCollector | None) -> None:
        interval = min(self.options.status_interval, self.site.edge.heartbeat_ttl_seconds / 3)
        metrics_every = self.site.edge.metrics_interval_seconds
        next_metrics = time.monotonic()
        while not self._stop.is_set():
            self._apply_modes()
            self.update_status()
            if collector is not None and time.monotonic() >= next_metrics:
                next_metrics += metrics_every
                self._write_metrics(collector)
            self._stop.wait(interval)

    def _apply_modes(self) -> None:
        """Switch the cameras whose detect-mode schedule changed (same RTSP session)."""
        if self.modes is None:
            return
        for camera_id, mode in self.modes.changes().items():
            entry = self._entries.get(camera_id)
            if entry is not None:
                log.info("camera %s: %s mode on schedule", camera_id, mode)
                entry.pipeline.set_mode(mode)
                entry.mode_since = time.time()

    def update_status(self) -> None:
        """Observe every camera, announce up/down changes, write the status hashes."""
        assert self.publisher is not None and self.status_writer is not None
        now = time.time()
        statuses: dict[str, CameraStatusReport] = {}
        for camera_id, entry in self._entries.items():
            reader = entry.pipeline.reader.stats
            queue = entry.pipeline.queue.stats
            entry.health.detect_fps = expected_sample_fps(
                entry.camera.detect_fps, entry.pipeline.mode, entry.mode_since, now)
            obs = Observation(now, reader.frames_in, reader.frames_sampled,
                              reader.decode_errors, queue.dropped, reader.last_frame,
                              tuple(entry.pipeline.active_tampers), reader.last_error)
            transition = entry.health.observe(obs)
            if transition is not None:
                log.info("camera %s %s: %s", camera_id, transition.kind.value,
                         transition.reason or "frames arriving")
                attrs = {"reason": redact_text(transition.reason),
                         "worker": self.options.worker_id}
                self.publisher.publish(make_event(transition.kind, "camera", camera_id,
                                                  from_epoch(transition.t), attrs))
            self._observe_recording(camera_id, entry, now)
            if entry.health.status is not None:
                statuses[camera_id] = self._status(entry)
        worker_fields = {
            "updated": to_rfc3339(utcnow()),
            "shard": f"{self.options.shard[0]}/{self.options.shard[1]}",
            "cameras": str(len(self._entries)),
            "online": str(sum(1 for e in self._entries.values()
                              if e.health.status not in (None, CameraState.OFFLINE))),
            "events_pending": str(self.publisher.pending),
            "events_dropped": str(self.publisher.stats.dropped),
        }
        self.status_writer.write(statuses, self.options.worker_id, worker_fields)

    def _status(self, entry: _Camera) -> CameraStatusReport:
        health = entry.health
        assert health.status is not None
        reader = entry.pipeline.reader.stats
        last = reader.last_frame
        running: bool | None = None  # None: not recorded by this worker
        recorder_error: str | None = None
        if entry.recorder is not None:
            running = entry.recorder.stats.running
            recorder_error = entry.recorder.stats.last_error or None
        recording = entry.recording
        return CameraStatusReport(
            status=health.status,
            since=to_rfc3339(from_epoch(health.since)),
            last_frame=to_rfc3339(from_epoch(last)) if last else None,
            fps=health.fps_in,
            fps_processed=health.fps_sampled,
            worker=self.options.worker_id,
            reason=health.reason or None,
            reconnects=reader.reconnects,
            dropped=entry.pipeline.queue.stats.dropped,
            updated=to_rfc3339(utcnow()),
            recording=recording.state,
            recording_reason=recording.reason or None,
            recording_since=to_rfc3339(from_epoch(recording.since)),
            last_segment=(to_rfc3339(from_epoch(recording.last_segment))
                          if recording.last_segment is not None else None),
            recorder_running=running,
            recorder_error=recorder_error,
            mode=WatchMode(entry.pipeline.mode),
        )

    def counters(self) -> dict[str, CameraCounters]:
        """Every camera's running totals now (for metrics)."""
        now = time.time()
        out = {}
        for camera_id, entry in self._entries.items():
            reader = entry.pipeline.reader.stats
            det = entry.pipeline.stats
            out[camera_id] = CameraCounters(
                t=now, up=entry.health.status not in (None, CameraState.OFFLINE),
                frames_in=reader.frames_in, processed=det.processed,
                dropped=entry.pipeline.queue.stats.dropped,
                decode_cpu_seconds=reader.decode_cpu_seconds, reconnects=reader.reconnects,
                motion_sum=det.motion_sum, motion_frames=det.motion_frames,
                recorded_bytes=entry.recorder.stats.bytes if entry.recorder else 0,
                recorded_seconds=(entry.recorder.stats.recorded_seconds
                                  if entry.recorder else None))
        return out

    def _previous_recording(self, client: redis.Redis) -> dict[str, RecordingState]:
        """The recording state each camera had in Redis (left by an earlier run)."""
        try:
            states = read_recording_states(client, self.camera_ids)
        except redis.RedisError as exc:
            log.warning("cannot read previous recording states: %s", exc)
            return {}
        return {camera_id: state for camera_id, state in zip(self.camera_ids, states,
                                                              strict=True) if state is not None}

    def _observe_recording(self, camera_id: str, entry: _Camera, now: float) -> None:
        """Recording health from the recorder's finished segments; announce changes."""
        assert self.publisher is not None
        if entry.recorder is None:
            return
        stats = entry.recorder.stats
        transition = entry.recording.observe(RecorderReading(
            now, stats.segments, stats.last_segment, stats.last_error))
        if transition is None:
            return
        failed = transition.kind is EventKind.CAMERA_RECORDING_FAILED
        (log.error if failed else log.info)("camera %s %s%s", camera_id, transition.kind.value,
                                            f": {transition.reason}" if failed else "")
        last = entry.recording.last_segment
        attrs = {"reason": transition.reason, "worker": self.options.worker_id,
                 "last_segment": to_rfc3339(from_epoch(last)) if last is not None else None}
        self.publisher.publish(make_event(transition.kind, "camera", camera_id,
                                          from_epoch(transition.t), attrs))

    def _write_metrics(self, collector: MetricsCollector) -> None:
        assert self.publisher is not None
        extra = {"events_pending": self.publisher.pending,
                 "events_dropped": self.publisher.stats.dropped}
        try:
            collector.record(self.counters(), utcnow(), extra)
        except Exception:  # metrics must never stop ingest
            log.exception("writing metrics failed")

    def _retention_loop(self, retention: Retention) -> None:
        """A pass at start (a disk may have filled while the worker was down), then every
        interval."""
        while not self._stop.is_set():
            try:
                retention.run_once()
            except OSError as exc:
                log.error("retention pass failed: %s", exc)
            self._stop.wait(self.options.retention_interval)

    def _door_listener(self, client: redis.Redis) -> DoorListener | None:
        """The door listener, sharing the worker's Redis client; None (logged) when the
        broker URL is unusable, so the cameras still run."""
        try:
            return DoorListener(self.site, self.settings, redis_client=client,
                                listener_id=self.options.worker_id)
        except MqttUrlError as exc:
            log.error("cannot start the door listener: CE_MQTT_URL: %s", exc)
            return None

    def _shutdown(self, publisher: bus.BufferedPublisher, writer: Any,
                  collector: MetricsCollector | None, door_listener: DoorListener | None) -> None:
        deadline = time.monotonic() + STOP_BUDGET_SECONDS
        self._stop.set()
        for entry in self._entries.values():
            entry.pipeline.stop()
            if entry.recorder is not None:
                entry.recorder.stop()
        if door_listener is not None:
            door_listener.stop()
        for entry in self._entries.values():
            _join(entry.pipeline_thread, min(1.0, deadline - time.monotonic() - 4))
        for entry in self._entries.values():
            _join(entry.recorder_thread, deadline - time.monotonic() - 2)
        _join(self._doors_thread, deadline - time.monotonic() - 2)
        leftover = [e.camera.id for e in self._entries.values()
                    if e.recorder is not None and e.recorder.pid is not None]
        if leftover:
            log.error("recorders still running at stop: %s", leftover)
        if collector is not None:
            self._write_metrics(collector)
        if writer is not None and hasattr(writer, "close"):
            # The client may wait on retries while the TSDB is down: never past the budget.
            budget = max(0.1, min(1.5, deadline - time.monotonic() - 0.5))
            closer = threading.Thread(target=writer.close, kwargs={"timeout": budget},
                                      name="metrics-close", daemon=True)
            closer.start()
            closer.join(budget + 0.5)
        if self.status_writer is not None:
            self.status_writer.remove_worker(self.options.worker_id)
        publisher.stop()
        _join(self._events_thread, max(0.1, deadline - time.monotonic()))
        if publisher.pending:
            log.warning("stopping with %d events undelivered (Redis unreachable)",
                        publisher.pending)
        log.info("edge worker %s stopped (events published %d, dropped %d)",
                 self.options.worker_id, publisher.stats.published, publisher.stats.dropped)

    def publish(self, event: Event) -> None:
        """Publish an event through the worker's buffered publisher (for wiring and tests)."""
        if self.publisher is not None:
            self.publisher.publish(event)
