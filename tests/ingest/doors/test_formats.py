from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compoundeye.events import EventKind
from ingest.doors.formats import Decoded, PayloadError, decode

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
LIMIT = 16 * 1024


def dec(obj: object) -> Decoded:
    return decode(json.dumps(obj).encode(), NOW, LIMIT)


def test_native_forced_with_time_seq_and_credential():
    d = decode(b'{"event":"forced","ts":"2026-11-28T00:59:58.5Z","seq":7,"credential":"c1"}',
               NOW, LIMIT)
    assert d.kind is EventKind.DOOR_FORCED and d.ts_given and d.seq == 7
    assert d.ts == datetime(2026, 11, 28, 0, 59, 58, 500000, tzinfo=UTC)
    assert d.attrs == {"format": "native", "credential": "c1", "seq": 7}


def test_native_without_time_uses_receive_time_and_heartbeat_has_no_kind():
    d = decode(b'{"event":"opened"}', NOW, LIMIT)
    assert d.kind is EventKind.DOOR_OPENED and d.ts == NOW and not d.ts_given
    hb = decode(b'{"event":"heartbeat"}', NOW, LIMIT)
    assert hb.heartbeat and hb.kind is None


@pytest.mark.parametrize(("payload", "reason"), [
    (b'{"event":"exploded"}', "event"),
    (b'{"event":"opened","seq":"7"}', "seq"),
    (b'{"event":"opened","seq":true}', "seq"),
    (b'{"event":"opened","ts":12345}', "ts"),
    (b'{"event":"opened","ts":"yesterday"}', "RFC 3339"),
    (b'{"event":"opened","ts":"2026-11-28T01:00:00"}', "RFC 3339"),
    (b'{"event":"opened","ts":"2030-01-01T00:00:00Z"}', "future"),
    (b'{"event":"opened","ts":"2020-01-01T00:00:00Z"}', "older"),
    (b'{"event":"opened","extra":1}', "extra"),
    (b'{"event":"denied","credential":["x"]}', "credential"),
    (b'[1,2]', "JSON object"),
    (b'"hello"', "JSON object"),
    (b'{"event":', "malformed JSON"),
    (b'\xff\xfe\x00garbage', "UTF-8"),
    (b'', "empty"),
    (b'{"who":"knows"}', "neither"),
    (b'{"event":"opened","credential":"' + b"x" * 200 + b'"}', "credential"),
])
def test_bad_native_payloads_say_why(payload: bytes, reason: str):
    with pytest.raises(PayloadError, match=reason):
        decode(payload, NOW, LIMIT)


def test_oversize_is_refused_before_parsing():
    with pytest.raises(PayloadError, match="exceeds the 64 byte limit"):
        decode(b'{"event":"opened","reason":"' + b"a" * 100 + b'"}', NOW, 64)


def test_esp_rfid_access_granted_and_denied():
    t = int((NOW - timedelta(seconds=3)).timestamp())
    granted = dec({"type": "access", "time": t, "isKnown": "true", "access": "Always",
                   "username": "Ann", "uid": "04a1b2", "door": "esp-door-1"})
    assert granted.kind is EventKind.DOOR_GRANTED and granted.fmt == "esp-rfid"
    assert granted.ts == NOW - timedelta(seconds=3) and granted.ts_given
    assert granted.attrs["credential"] == "04a1b2"
    assert granted.attrs["controller"] == "esp-door-1"
    expired = dec({"type": "access", "time": t, "isKnown": "true", "access": "Expired",
                   "username": "Bob", "uid": "99", "door": "d"})
    assert expired.kind is EventKind.DOOR_DENIED and expired.attrs["reason"] == "expired"
    unknown = dec({"type": "access", "time": t, "isKnown": "false", "access": "Denied",
                   "username": "Unknown", "uid": "77", "door": "d", "cmd": "log"})
    assert unknown.kind is EventKind.DOOR_DENIED and unknown.attrs["reason"] == "unknown card"


def test_esp_rfid_door_log_records_heartbeat_and_boot():
    t = int(NOW.timestamp())
    cases = {
        ("INFO", "door", "Door Open"): EventKind.DOOR_OPENED,
        ("INFO", "door", "Door Closed"): EventKind.DOOR_CLOSED,
        ("WARN", "tamper", "Door was tampered!"): EventKind.DOOR_FORCED,
        ("WARN", "tamper", "Door wasn't closed within max open time!"): EventKind.DOOR_HELD,
    }
    for (typ, src, desc), kind in cases.items():
        d = dec({"type": typ, "src": src, "desc": desc, "data": "", "time": t, "cmd": "event"})
        assert d.kind is kind
    hb = dec({"type": "heartbeat", "time": t, "uptime": 100, "ip": "10.0.0.2",
              "hostname": "esp-door-1"})
    assert hb.heartbeat and hb.attrs["controller"] == "esp-door-1"
    assert dec({"type": "boot", "time": 5, "uptime": "0", "ip": "x", "hostname": "h"}).heartbeat
    # before NTP sync the firmware sends small epochs: receive time instead
    assert not dec({"type": "boot", "time": 5, "uptime": "0", "hostname": "h"}).ts_given


@pytest.mark.parametrize("obj", [
    {"type": "INFO", "src": "wifi", "desc": "Connected", "time": 1},
    {"type": "access", "time": 1},
    {"type": "access", "isKnown": True, "access": "Always"},
    {"type": 5},
    {"type": "userfile"},
])
def test_esp_rfid_messages_that_are_not_door_events(obj: object):
    with pytest.raises(PayloadError):
        dec(obj)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_decode_or_refuse_with_a_reason(raw: bytes):
    try:
        decode(raw, NOW, 1024)
    except PayloadError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["event", "ts", "seq", "credential", "reason", "type",
                                        "time", "isKnown", "access", "uid", "src", "desc"]),
                       json_values, max_size=6))
def test_random_json_objects_decode_or_refuse_with_a_reason(obj: dict[str, object]):
    try:
        raw = json.dumps(obj).encode()
    except ValueError:
        return
    try:
        d = decode(raw, NOW, LIMIT)
    except PayloadError as exc:
        assert str(exc)
    else:
        assert d.ts.tzinfo is not None
