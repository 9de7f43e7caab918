"""The one redaction helper: no password survives, the rest of the text does."""

from __future__ import annotations

import pytest

from compoundeye.redact import MASK, redact_text, redact_url


@pytest.mark.parametrize(("url", "expected"), [
    ("rtsp://admin:s3cr%40t@10.0.0.5:554/Streaming/Channels/101",
     f"rtsp://admin:{MASK}@10.0.0.5:554/Streaming/Channels/101"),
    ("mqtts://listener:hunter2@broker:8883", f"mqtts://listener:{MASK}@broker:8883"),
    ("rtsp://onlyuser@cam/live", f"rtsp://onlyuser:{MASK}@cam/live"),
    ("rtsp://:pw@cam/live", f"rtsp://{MASK}@cam/live"),
    ("rtsp://cam/cam/realmonitor?channel=1&subtype=0&password=abc",
     f"rtsp://cam/cam/realmonitor?channel=1&subtype=0&password={MASK}"),
    ("rtsp://127.0.0.1:8554/cam1/main", "rtsp://127.0.0.1:8554/cam1/main"),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_password_with_at_sign_is_masked_whole() -> None:
    assert redact_url("rtsp://admin:p@ss@cam:554/x") == f"rtsp://admin:{MASK}@cam:554/x"
    assert redact_text("open rtsp://admin:p@ss@cam:554/x failed") == (
        f"open rtsp://admin:{MASK}@cam:554/x failed")


@pytest.mark.parametrize(("line", "secret"), [
    ("[rtsp @ 0x55] method DESCRIBE failed: 401 Unauthorized rtsp://u:topsecret@h/x",
     "topsecret"),
    ("Authorization: Digest username=\"u\", realm=\"r\", response=\"6629fae49393a053\"",
     "6629fae49393a053"),
    ('WWW-Authenticate: Basic realm="cam" dXNlcjpwYXNz', "dXNlcjpwYXNz"),
    ("Error opening input rtsp://admin:letmein@192.168.1.64/Streaming/Channels/101: 401",
     "letmein"),
    ("GET /snapshot.cgi?user=admin&pwd=qwerty HTTP/1.1", "qwerty"),
])
def test_redact_text_removes_secrets(line: str, secret: str) -> None:
    out = redact_text(line)
    assert secret not in out
    assert MASK in out


def test_redact_text_keeps_ordinary_text() -> None:
    line = "[h264 @ 0x5616] error while decoding MB 12 4, bytestream -5"
    assert redact_text(line) == line
