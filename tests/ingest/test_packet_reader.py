"""The packet reader on real files: keyframes only in health mode, a switch on the open
stream, full decoding like the OpenCV reader's."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.packet_reader import HealthFrame, PacketReader
from ingest.reader import ReaderOptions, SampledFrame
from ingest.sampler import DropQueue

CLIPS = Path(__file__).resolve().parents[2] / "sample_streams" / "clips"
CLIP = CLIPS / "people" / "sub.mp4"  # 40 s, 15 fps, a keyframe every 20 frames
PACKETS = 600


class SwitchingQueue(DropQueue[SampledFrame]):
    """Keeps everything; asks the reader for full mode once stream time reaches ``at``."""

    def __init__(self, at: float | None = None) -> None:
        super().__init__(10_000)
        self.at = at
        self.reader: PacketReader | None = None

    def put(self, item: SampledFrame) -> bool:
        if self.at is not None and self.reader and item.stream_ts >= self.at:
            self.reader.set_mode("full")
            self.at = None
        return super().put(item)


def drain(queue: DropQueue[SampledFrame]) -> list[HealthFrame]:
    items = []
    while (item := queue.get(timeout=0)) is not None:
        assert isinstance(item, HealthFrame)
        items.append(item)
    return items


def read(mode: str, queue: SwitchingQueue, **kw: float) -> PacketReader:
    reader = PacketReader("cam", f"file://{CLIP}", 5.0, queue,
                          ReaderOptions(max_frames=PACKETS), mode=mode, **kw)  # type: ignore[arg-type]
    queue.reader = reader
    reader.run()
    return reader


def test_health_mode_decodes_one_keyframe_per_interval_and_counts_every_packet() -> None:
    queue = SwitchingQueue()
    reader = read("health", queue, keyframe_interval=4.0, bitrate_change=1e6)
    frames = drain(queue)
    stats = reader.stats
    assert stats.frames_in == PACKETS and stats.keyframes_in == 30
    assert stats.bytes_in > 100_000 and stats.last_frame is not None
    assert [round(f.stream_ts, 2) for f in frames] == [4.0 * k for k in range(10)]
    assert all(f.health and f.image.shape == (360, 640) and f.half is None for f in frames)
    assert stats.frames_decoded == stats.keyframes_decoded == 10
    assert stats.reconnects == 0 and stats.decode_errors == 0


def test_full_mode_decodes_everything_and_samples_like_the_opencv_reader() -> None:
    queue = SwitchingQueue()
    reader = read("full", queue)
    frames = drain(queue)
    assert reader.stats.frames_decoded == PACKETS
    assert len(frames) == 200  # 40 s at 5 fps
    assert not any(f.health for f in frames)
    assert frames[0].half is not None and frames[0].half.shape == (180, 320)


def test_switch_to_full_on_the_open_stream_starts_at_the_next_keyframe() -> None:
    queue = SwitchingQueue(at=10.0)
    reader = read("health", queue, keyframe_interval=4.0, bitrate_change=1e6)
    frames = drain(queue)
    health = [f for f in frames if f.health]
    full = [f for f in frames if not f.health]
    assert [round(f.stream_ts, 2) for f in health] == [0.0, 4.0, 8.0, 12.0]
    assert reader.stats.reconnects == 0 and reader.stats.mode_switches == 1
    assert reader.stats.mode == "full"
    # The switch is seen at the 12 s keyframe's frame; full decoding starts at the next
    # keyframe (13.33 s: a P-frame cannot be decoded without the pictures before it).
    assert full[0].stream_ts == pytest.approx(40 / 3, abs=0.01)
    assert len(full) == pytest.approx((40 - 40 / 3) * 5, abs=2)


def test_a_missing_file_is_an_open_failure_not_a_crash(tmp_path: Path) -> None:
    queue: DropQueue[SampledFrame] = DropQueue(4)
    reader = PacketReader("cam", f"file://{tmp_path}/none.mp4", 5.0, queue,
                          ReaderOptions(backoff_initial=0.01, backoff_max=0.02), mode="health")
    import threading

    thread = threading.Thread(target=reader.run)
    thread.start()
    try:
        for _ in range(100):
            if reader.stats.open_failures >= 2:
                break
            reader._stop.wait(0.02)
    finally:
        reader.stop()
        thread.join(5)
    assert reader.stats.open_failures >= 2 and "cannot open" in reader.stats.last_error
    assert not thread.is_alive()
