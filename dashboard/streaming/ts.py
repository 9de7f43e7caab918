"""Just enough MPEG-TS to fan a live stream out: packet alignment, the tables a late
joiner needs (PAT, PMT) and where a keyframe starts (the random access indicator that
ffmpeg's muxer sets on the first packet of every video keyframe)."""

from __future__ import annotations

from dataclasses import dataclass, field

PACKET = 188
SYNC = 0x47
PAT_PID = 0
STREAM_TYPES = {0x1B: "h264", 0x24: "hevc", 0x0F: "aac", 0x03: "mp3", 0x04: "mp3"}
"""PMT stream types we name; anything else is reported as ``type-0xNN``."""


def pid_of(packet: bytes | memoryview) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


def starts_unit(packet: bytes | memoryview) -> bool:
    """Payload unit start indicator: a PES packet or a table section begins here."""
    return bool(packet[1] & 0x40)


def random_access(packet: bytes | memoryview) -> bool:
    """The adaptation field's random access indicator (a keyframe starts in this packet)."""
    control = (packet[3] >> 4) & 0x3
    return control in (2, 3) and packet[4] > 0 and bool(packet[5] & 0x40)


def _payload(packet: bytes | memoryview) -> bytes:
    control = (packet[3] >> 4) & 0x3
    start = 4
    if control in (2, 3):
        start += 1 + packet[4]
    if control in (0, 2) or start >= PACKET:
        return b""
    return bytes(packet[start:PACKET])


def _section(packet: bytes | memoryview) -> bytes:
    """The table section that starts in this packet (pointer field skipped)."""
    payload = _payload(packet)
    if not payload or not starts_unit(packet):
        return b""
    pointer = payload[0]
    return payload[1 + pointer:]


def pmt_pids(pat_packet: bytes | memoryview) -> set[int]:
    """PMT PIDs listed in a PAT packet."""
    section = _section(pat_packet)
    if len(section) < 8 or section[0] != 0x00:
        return set()
    length = ((section[1] & 0x0F) << 8) | section[2]
    body = section[8:3 + length - 4]  # programs, without the CRC
    out = set()
    for i in range(0, len(body) - 3, 4):
        program = (body[i] << 8) | body[i + 1]
        if program != 0:
            out.add(((body[i + 2] & 0x1F) << 8) | body[i + 3])
    return out


def pmt_streams(pmt_packet: bytes | memoryview) -> dict[int, str]:
    """Elementary PID -> codec name of a PMT packet."""
    section = _section(pmt_packet)
    if len(section) < 12 or section[0] != 0x02:
        return {}
    length = ((section[1] & 0x0F) << 8) | section[2]
    info_length = ((section[10] & 0x0F) << 8) | section[11]
    i, end = 12 + info_length, 3 + length - 4
    out: dict[int, str] = {}
    while i + 5 <= end and i + 5 <= len(section):
        stream_type = section[i]
        pid = ((section[i + 1] & 0x1F) << 8) | section[i + 2]
        es_length = ((section[i + 3] & 0x0F) << 8) | section[i + 4]
        out[pid] = STREAM_TYPES.get(stream_type, f"type-0x{stream_type:02x}")
        i += 5 + es_length
    return out


@dataclass
class TsState:
    """What a stream has shown so far: its tables, its video PID and codec."""

    pat: bytes = b""
    pmt: bytes = b""
    pmt_pids: set[int] = field(default_factory=set)
    streams: dict[int, str] = field(default_factory=dict)

    @property
    def video_pid(self) -> int | None:
        for pid, codec in self.streams.items():
            if codec in ("h264", "hevc"):
                return pid
        return None

    @property
    def codec(self) -> str | None:
        pid = self.video_pid
        return self.streams[pid] if pid is not None else None

    def headers(self) -> bytes:
        """PAT and PMT, which a viewer joining mid-stream needs before anything else."""
        return self.pat + self.pmt


class Aligner:
    """Cuts a byte stream into whole 188-byte packets, resynchronising on garbage."""

    def __init__(self) -> None:
        self._rest = b""
        self.skipped = 0

    def feed(self, data: bytes) -> bytes:
        """Whole packets out of what came so far (the remainder is kept)."""
        buf = self._rest + data
        start = 0
        while start < len(buf) and buf[start] != SYNC:
            start += 1
        # Resynchronise if the packet after the first sync byte does not start with one.
        while start + PACKET < len(buf) and buf[start + PACKET] != SYNC:
            start += 1
            while start < len(buf) and buf[start] != SYNC:
                start += 1
        self.skipped += start
        usable = (len(buf) - start) // PACKET * PACKET
        self._rest = buf[start + usable:]
        return buf[start:start + usable]


def scan(chunk: bytes, state: TsState) -> int | None:
    """Update ``state`` from whole packets; return the offset of the last keyframe start
    in ``chunk`` (a packet of the video PID with the random access indicator), if any."""
    keyframe_at: int | None = None
    view = memoryview(chunk)
    for offset in range(0, len(chunk), PACKET):
        packet = view[offset:offset + PACKET]
        pid = pid_of(packet)
        if pid == PAT_PID and starts_unit(packet):
            state.pat = bytes(packet)
            state.pmt_pids = pmt_pids(packet) or state.pmt_pids
        elif pid in state.pmt_pids and starts_unit(packet):
            state.pmt = bytes(packet)
            state.streams = pmt_streams(packet) or state.streams
        elif pid == state.video_pid and starts_unit(packet) and random_access(packet):
            keyframe_at = offset
    return keyframe_at
