from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.doors.liveness import Liveness

T0 = datetime(2026, 11, 28, tzinfo=UTC)
S = timedelta(seconds=1)


def test_quiet_controller_goes_offline_once_and_comes_back():
    live = Liveness(["d1", "d2"], timedelta(seconds=90), T0)
    assert live.seen("d1", T0 + 10 * S) is False
    assert live.expired(T0 + 95 * S) == [("d2", T0, False)]  # never heard since start
    live.mark_offline("d2")
    assert live.expired(T0 + 101 * S) == [("d1", T0 + 10 * S, True)]
    live.mark_offline("d1")
    assert live.expired(T0 + 500 * S) == []
    assert live.online("d1") is False
    assert live.seen("d1", T0 + 501 * S) is True
    assert live.online("d1") is True and live.expired(T0 + 502 * S) == []


def test_unmarked_expiry_is_reported_again():
    live = Liveness(["d1"], timedelta(seconds=5), T0)
    assert live.expired(T0 + 6 * S) == [("d1", T0, False)]
    assert live.expired(T0 + 7 * S) == [("d1", T0, False)]  # publish failed: try again


def test_seed_from_a_previous_run():
    live = Liveness(["d1"], timedelta(seconds=5), T0)
    live.seed("d1", T0 - 3 * S)
    assert live.expired(T0 + 3 * S) == [("d1", T0 - 3 * S, True)]
