"""Everything a request needs, built once by the app's lifespan (no module globals)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redis.asyncio as aioredis

from compoundeye.alert_stream import AlertChangePublisher
from compoundeye.auth.sessions import SessionStore
from compoundeye.auth.tokens import TokenRegistry
from compoundeye.redis_client import async_redis_from_settings, redis_from_settings
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.store import Store
from compoundeye.tsdb import MetricsReader
from dashboard.auth.signin import SignInGuard
from dashboard.metrics import DashboardMetrics
from dashboard.playback import PlaybackSessions
from dashboard.uptime import UptimeCache
from evidence import ExportManager
from evidence.clips import ClipCache


@dataclass
class AppState:
    """The dashboard's shared state: settings, site, clients and helpers."""

    settings: Settings
    site: Site
    redis: redis.Redis
    aredis: aioredis.Redis
    store: Store
    tsdb: MetricsReader
    exports: ExportManager
    tokens: TokenRegistry
    sessions: SessionStore
    signin: SignInGuard
    clips: ClipCache
    playback: PlaybackSessions
    buildings: frozenset[str] = frozenset()
    metrics: DashboardMetrics = field(default_factory=DashboardMetrics)
    uptime_cache: UptimeCache = field(default_factory=UptimeCache)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def snapshots_dir(self) -> Path:
        return self.settings.snapshots_dir


def build_state(settings: Settings, site: Site) -> AppState:
    """Connect to everything the dashboard needs (the lifespan closes it all)."""
    sync_redis = redis_from_settings(settings, timeout=5.0)
    # Only the SSE streams use it, each read blocking 2 s: a dead link shows within 10 s.
    async_redis = async_redis_from_settings(settings, timeout=10.0, connect_timeout=5.0)
    store = Store.from_settings(settings, on_change=AlertChangePublisher(sync_redis))
    tsdb = MetricsReader.from_settings(settings, timeout=10.0)
    exports = ExportManager.from_settings(site, settings, store=store)
    exports.keyring.current()  # the site's signing key is made at first start
    return AppState(
        settings=settings,
        site=site,
        redis=sync_redis,
        aredis=async_redis,
        store=store,
        tsdb=tsdb,
        exports=exports,
        tokens=TokenRegistry(settings.effective_tokens_file),
        sessions=SessionStore(sync_redis),
        signin=SignInGuard(settings, store.audit),
        clips=ClipCache(settings.recordings_dir, settings.data_dir / "cache" / "clips",
                        segment_seconds=float(site.edge.segment_seconds)),
        playback=PlaybackSessions(sync_redis),
        buildings=frozenset(c.location.building for c in site.cameras)
        | frozenset(d.location.building for d in site.doors),
    )


async def close_state(state: AppState) -> None:
    """Stop exports and close every connection (the end of the lifespan)."""
    state.stopping.set()
    try:
        state.exports.stop()
    finally:
        state.tsdb.close()
        state.store.close()
        state.signin.close()
        state.redis.close()
        await state.aredis.aclose()
