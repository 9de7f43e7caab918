"""Everything a request needs, built once by the app's lifespan (no module globals)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redis.asyncio as aioredis

from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.store import Store
from compoundeye.tsdb import MetricsReader
from dashboard.auth.sessions import SessionSigner
from dashboard.auth.tokens import TokenRegistry
from dashboard.clips import ClipCache
from dashboard.export import ExportManager
from dashboard.metrics import DashboardMetrics


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
    signer: SessionSigner
    clips: ClipCache
    buildings: frozenset[str] = frozenset()
    metrics: DashboardMetrics = field(default_factory=DashboardMetrics)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def snapshots_dir(self) -> Path:
        return self.settings.snapshots_dir
