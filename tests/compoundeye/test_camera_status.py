"""The camera status hash: one record, written and read back through real Redis."""

from __future__ import annotations

from dataclasses import fields

import redis

from compoundeye import names
from compoundeye.bus import hash_mapping
from compoundeye.camera_status import (
    STATE_FIELD,
    CameraState,
    CameraStatus,
    CameraStatusReport,
    RecordingState,
    read_recording_states,
    read_states,
)

REPORT = CameraStatusReport(
    status=CameraState.TAMPERED, since="2026-11-28T01:00:00.000Z",
    last_frame="2026-11-28T01:00:05.200Z", fps=14.5, worker="edge-0", reason="covered",
    fps_processed=5.0, reconnects=2, dropped=7, updated="2026-11-28T01:00:06.000Z",
    recording=RecordingState.FAILING, recording_reason="not found (404): no segment (20 s)",
    recording_since="2026-11-28T00:59:40.000Z", recorder_running=True, recorder_error=None)


def test_a_report_round_trips_through_redis(redis_client: redis.Redis) -> None:
    key = names.camera_status_key("cam-1")
    redis_client.hset(key, mapping=hash_mapping(REPORT.to_hash()))
    assert CameraStatusReport.from_hash(redis_client.hgetall(key)) == REPORT
    shared = CameraStatus.from_hash(redis_client.hgetall(key))
    assert shared == CameraStatus(status=CameraState.TAMPERED, since=REPORT.since,
                                  last_frame=REPORT.last_frame, fps=14.5, worker="edge-0",
                                  reason="covered", recording=RecordingState.FAILING,
                                  recording_reason=REPORT.recording_reason,
                                  recording_since=REPORT.recording_since)


def test_hash_text_is_what_readers_have_always_seen() -> None:
    written = REPORT.to_hash()
    assert written["status"] == "tampered" and written["fps"] == "14.50"
    assert written["recording"] == "failing" and written["recorder_error"] == ""
    assert written["recorder_running"] == "1" and written["last_segment"] == ""
    assert CameraStatusReport(status=CameraState.ONLINE).to_hash()["recording"] == ""


def test_free_text_fields_never_carry_a_password() -> None:
    leaky = CameraStatusReport(
        status=CameraState.OFFLINE, reason="rtsp://admin:hunter2@cam/x: 401",
        recording=RecordingState.FAILING,
        recording_reason="Error opening rtsp://admin:hunter2@cam/x",
        recorder_error="open rtsp://admin:hunter2@cam/x failed")
    written = leaky.to_hash()
    assert not [k for k, v in written.items() if "hunter2" in v], written
    assert written["reason"] == "rtsp://admin:***@cam/x: 401"


def test_recording_states_read_back(redis_client: redis.Redis) -> None:
    redis_client.hset(names.camera_status_key("cam-a"), "recording", "failing")
    redis_client.hset(names.camera_status_key("cam-b"), "recording", "1")  # an older writer
    assert read_recording_states(redis_client, ["cam-a", "cam-b", "cam-c"]) == [
        RecordingState.FAILING, None, None]


def test_shared_fields_are_a_prefix_of_the_report() -> None:
    shared = CameraStatus.hash_fields()
    assert shared[0] == STATE_FIELD
    assert CameraStatusReport.hash_fields()[:len(shared)] == shared
    assert [f.name for f in fields(CameraStatus)] == shared


def test_odd_values_read_as_empty_or_degraded() -> None:
    odd = CameraStatus.from_hash({b"status": b"exploded", b"fps": b"nan", b"since": b""})
    assert odd.status is CameraState.DEGRADED and odd.reason == "unknown status 'exploded' reported"
    assert odd.fps is None and odd.since is None
    assert CameraStatus.from_hash({"status": ""}).status is CameraState.OFFLINE
    assert CameraStatus.from_hash({"status": "online", "fps": "-1"}).fps is None
    assert CameraStatusReport.from_hash({"status": "online", "reconnects": "x"}).reconnects == 0


def test_read_states_tells_silent_from_reported(redis_client: redis.Redis) -> None:
    redis_client.hset(names.camera_status_key("cam-a"), STATE_FIELD, "offline")
    redis_client.hset(names.camera_status_key("cam-b"), STATE_FIELD, "online")
    assert read_states(redis_client, ["cam-a", "cam-b", "cam-silent"]) == [
        CameraState.OFFLINE, CameraState.ONLINE, None]
    assert read_states(redis_client, []) == []
