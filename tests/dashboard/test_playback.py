"""Playlists from the recordings layout and playback sessions in real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from compoundeye import names
from compoundeye.recordings import Segment
from dashboard.playback import PlaybackSessions, playlist, reap_once, segment_in_window

T0 = datetime(2026, 11, 3, 21, 40, tzinfo=UTC)


def _seg(offset: int, seconds: float = 10.0) -> Segment:
    start = T0 + timedelta(seconds=offset)
    path = Path("/r/cam1") / start.strftime("%Y-%m-%d/%H/%M.%S.ts")
    return Segment(path, start, start + timedelta(seconds=seconds))


def test_playlist_marks_every_segment_and_its_wall_time() -> None:
    text = playlist([_seg(0), _seg(10), _seg(40, 7.5)], finished=True)
    lines = text.splitlines()
    assert lines[:5] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:10",
                         "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"]
    assert lines.count("#EXT-X-DISCONTINUITY") == 2
    assert [x for x in lines if x.startswith("#EXT-X-PROGRAM-DATE-TIME")] == [
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T21:40:00.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T21:40:10.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T21:40:40.000Z"]
    assert "#EXTINF:7.500," in lines and "2026-11-03/21/40.40.ts" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in playlist([_seg(0)], finished=False)
    assert "#EXT-X-ENDLIST" not in playlist([_seg(0)], finished=False)


def test_segments_outside_the_session_window_are_refused(redis_client: redis.Redis) -> None:
    sessions = PlaybackSessions(redis_client)
    s = sessions.open("police-1", "investigator", ["cam1"], T0, T0 + timedelta(minutes=1),
                      None)
    assert segment_in_window(s, Path("cam1/2026-11-03/21/40.30.ts"), 20) == T0 + timedelta(
        seconds=30)
    assert segment_in_window(s, Path("cam1/2026-11-03/21/39.50.ts"), 20) is not None  # slack
    assert segment_in_window(s, Path("cam1/2026-11-03/21/41.00.ts"), 20) is None
    assert segment_in_window(s, Path("cam1/2026-11-03/21/notes.txt"), 20) is None


def test_idle_sessions_are_closed_once_with_what_they_fetched(
        redis_client: redis.Redis) -> None:
    sessions = PlaybackSessions(redis_client)
    s = sessions.open("police-1", "investigator", ["cam1", "cam2"], T0,
                      T0 + timedelta(hours=1), "10.0.0.5")
    sessions.touch(s, T0 + timedelta(seconds=20))
    sessions.touch(s, T0 + timedelta(seconds=40))
    fresh = sessions.open("police-2", "investigator", ["cam1"], T0, T0 + timedelta(hours=1),
                          None)
    ended: list[dict[str, Any]] = []
    assert reap_once(sessions, ended.append, idle_seconds=60) == 0  # both active
    redis_client.zadd(names.PLAYBACK_ACTIVE, {s.id: 1.0})  # s went quiet long ago
    assert reap_once(sessions, ended.append, idle_seconds=60) == 1
    assert reap_once(sessions, ended.append, idle_seconds=60) == 0  # audited once
    (details,) = ended
    assert details["reason"] == "idle" and details["segments"] == 2
    assert details["watched_from"] == (T0 + timedelta(seconds=20)).isoformat()
    assert details["watched_to"] == (T0 + timedelta(seconds=50)).isoformat()
    assert details["cameras"] == ["cam1", "cam2"] and details["ip"] == "10.0.0.5"
    assert sessions.get(s.id) is None and sessions.get(fresh.id) is not None
    assert sessions.close(s.id, "closed by the viewer") is None
