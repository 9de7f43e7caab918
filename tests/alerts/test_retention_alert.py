"""The disk-full-of-held-recordings alert: retention's event through the real bus to the
alerting service, one alert opened, resolved once there is room again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from compoundeye.bus import EventSink
from compoundeye.legal_holds import HoldReader
from compoundeye.recordings import segment_path
from compoundeye.settings import Settings
from compoundeye.store import AlertStatus, Store
from compoundeye.timeutil import utcnow
from ingest.retention import Retention
from tests.alerts.helpers import make_site, running_service
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)


def test_only_held_data_left_raises_an_ops_alert(redis_client: Any, redis_url: str,
                                                tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'alerts.db'}")
    settings = Settings(redis_url=redis_url, data_dir=tmp_path)
    start = utcnow().replace(microsecond=0) - timedelta(hours=1)
    segs = []
    for i in range(4):
        path = segment_path(tmp_path / "recordings", "cam-1", start + timedelta(seconds=10 * i))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        segs.append(path)
    hold = store.holds.place(case_id="C-1", reason="court", camera_ids=["cam-1"], start=start,
                             end=start + timedelta(seconds=40), actor="inv", role="investigator")
    reader = HoldReader(store.url)
    sink = EventSink(redis_client)
    free = {"bytes": 0}
    retention = Retention(tmp_path / "recordings", tmp_path / "snapshots", tmp_path / "exports",
                          ["cam-1"], recordings_days=30, snapshots_days=30,
                          min_free_bytes=10_000, free_bytes=lambda _p: free["bytes"],
                          holds=reader, alarm=sink.add, worker_id="edge-3")
    try:
        with running_service(make_site(), settings, store) as service:
            retention.run_once()
            wait_until(lambda: store.alerts.list(kind="retention_blocked"), timeout=20)
            (alert,) = store.alerts.list(kind="retention_blocked")
            assert alert.source_type == "worker" and alert.source_id == "edge-3"
            assert alert.priority == 2 and alert.cameras == []
            assert alert.attrs["held_segments"] == 4
            assert "legal hold" in alert.title
            assert all(p.exists() for p in segs)
            store.holds.release(hold.id, actor="admin", role="admin", reason="closed")
            free["bytes"] = 20_000  # an operator made room
            retention.run_once()
            wait_until(lambda: store.alerts.get(alert.id).status is AlertStatus.RESOLVED,
                       timeout=20)
            assert service.stats.changes >= 2
    finally:
        reader.close()
        store.close()
