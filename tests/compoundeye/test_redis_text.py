"""The one Redis text policy: UTF-8, bad bytes replaced, never raised on."""

from __future__ import annotations

from compoundeye.redis_text import text, text_map, text_or_none


def test_bytes_str_and_numbers() -> None:
    assert text(b"1700-0") == "1700-0"
    assert text(bytearray(b"abc")) == "abc"
    assert text("already") == "already"
    assert text(3) == "3"
    assert text(b"\xff\xfeok") == "\ufffd\ufffdok"


def test_none_and_maps() -> None:
    assert text_or_none(None) is None and text_or_none(b"") == ""
    assert text_map({b"state": b"online", "n": 2}) == {"state": "online", "n": "2"}
