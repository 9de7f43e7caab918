"""Background exports: limits refused with a reason, progress, status, audit, records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from compoundeye.site.models import Site
from compoundeye.store import Store
from evidence.export_jobs import ExportManager
from evidence.export_models import (
    ExportLimits,
    ExportNotFoundError,
    ExportRefusedError,
    ExportRequest,
    ExportState,
)
from evidence.signing import Keyring
from evidence.verify import verify_export
from tests.evidence.conftest import T0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def _manager(site: Site, data_dir: Path, store: Store, **limits: float) -> ExportManager:
    return ExportManager(site, data_dir / "recordings", data_dir / "exports",
                         keyring=Keyring(data_dir / "keys"),
                         limits=ExportLimits.model_validate(limits), audit=store.audit,
                         records=store.exports)


def _request(cameras: list[str], seconds: float = 20) -> ExportRequest:
    return ExportRequest(camera_ids=cameras, start=T0, end=T0 + timedelta(seconds=seconds),
                         case_id="C-7", reason="test", requester="inv-1")


@pytest.mark.timeout(120)
def test_export_runs_in_background_and_is_audited(export_site: Site, data_dir: Path,
                                                  store: Store) -> None:
    manager = _manager(export_site, data_dir, store)
    try:
        queued = manager.submit(_request(["cam-door"]), role="investigator", ip="10.0.0.7")
        assert queued.state in (ExportState.QUEUED, ExportState.RUNNING)
        done = manager.wait(queued.id, timeout=60)
    finally:
        manager.stop()
    assert done.state is ExportState.DONE, done.error
    assert done.progress == 1.0 and done.phase == "done"
    assert done.download is not None and done.download.endswith(".mp4")
    assert verify_export(Path(done.directory or ""), done.manifest_sha256).ok
    record = store.exports.get(done.id)
    assert (record.status, record.progress, record.case_id) == ("done", 100, "C-7")
    assert record.manifest_path is not None and record.manifest_path.endswith("manifest.json")
    actions = [(e.action, e.actor, e.target, e.ip) for e in reversed(store.audit.list())]
    assert actions == [("export.create", "inv-1", done.id, "10.0.0.7"),
                       ("export.done", "inv-1", done.id, "10.0.0.7")]
    finished = store.audit.list(action="export.done")[0]
    assert finished.details["manifest_sha256"] == done.manifest_sha256
    # a fresh manager (another process) still finds the finished export on disk
    again = _manager(export_site, data_dir, store)
    try:
        assert again.status(done.id).state is ExportState.DONE
        with pytest.raises(ExportNotFoundError):
            again.status("0" * 32)
        with pytest.raises(ExportNotFoundError):
            again.status("../../etc")
    finally:
        again.stop()


def test_requests_over_limits_are_refused_with_reasons(export_site: Site, data_dir: Path,
                                                       store: Store) -> None:
    manager = _manager(export_site, data_dir, store, max_hours=0.5, max_cameras=2)
    try:
        with pytest.raises(ExportRefusedError, match=r"over the limit of 0.5 h"):
            manager.submit(_request(["cam-door"], seconds=3600))
        with pytest.raises(ExportRefusedError, match="3 cameras is over the limit of 2"):
            manager.submit(_request(["cam-door", "cam-near", "cam-far"]))
        with pytest.raises(ExportRefusedError, match="unknown camera 'cam-x'"):
            manager.submit(_request(["cam-x"]))
    finally:
        manager.stop()
    refused = store.audit.list(action="export.refused")
    assert len(refused) == 3
    assert store.exports.list() == []


def test_defaults_are_six_hours_and_32_cameras() -> None:
    limits = ExportLimits()
    assert (limits.max_hours, limits.max_cameras) == (6.0, 32)


@pytest.mark.timeout(120)
def test_pending_exports_are_bounded(export_site: Site, data_dir: Path, store: Store) -> None:
    manager = _manager(export_site, data_dir, store, max_concurrent=1, max_pending=1)
    try:
        first = manager.submit(_request(["cam-door", "cam-near"], seconds=60))
        with pytest.raises(ExportRefusedError, match="already pending"):
            manager.submit(_request(["cam-door"]))
        assert manager.wait(first.id, timeout=60).state is ExportState.DONE
        second = manager.submit(_request(["cam-door"]))
        assert manager.wait(second.id, timeout=60).state is ExportState.DONE
        assert [s.id for s in manager.list()] == [second.id, first.id]
    finally:
        manager.stop()


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CE_EXPORT_MAX_HOURS", "2.5")
    monkeypatch.setenv("CE_EXPORT_MAX_CAMERAS", "4")
    limits = ExportLimits()
    assert (limits.max_hours, limits.max_cameras, limits.max_concurrent) == (2.5, 4, 2)


@pytest.mark.timeout(120)
def test_stop_cancels_what_is_pending(export_site: Site, data_dir: Path, store: Store) -> None:
    manager = _manager(export_site, data_dir, store, max_concurrent=1)
    first = manager.submit(_request(["cam-door", "cam-near"], seconds=60))
    second = manager.submit(_request(["cam-door", "cam-near"], seconds=60))
    manager.stop()
    assert manager.wait(second.id, timeout=30).state is ExportState.FAILED
    assert manager.status(second.id).error == "cancelled at shutdown"
    assert manager.status(first.id).state in (ExportState.FAILED, ExportState.DONE)
    assert not (data_dir / "exports" / second.id).exists()
    assert store.exports.get(second.id).status == "failed"
    assert store.audit.list(action="export.failed", target=second.id)
    with pytest.raises(ExportRefusedError, match="stopping"):
        manager.submit(_request(["cam-door"]))
