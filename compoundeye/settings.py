"""Infrastructure settings from ``CE_*`` environment variables, as one typed object."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the services are and where data lives; the site itself is in the YAML file."""

    model_config = SettingsConfigDict(env_prefix="CE_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    tsdb_url: str = "http://127.0.0.1:8428"
    tsdb_token: str = Field(default="", description="InfluxDB 2.x/3.x token; VictoriaMetrics: ''")
    tsdb_org: str = Field(default="compoundeye", description="InfluxDB organisation")
    tsdb_bucket: str = Field(default="compoundeye", description="InfluxDB bucket")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the alert store; empty means a SQLite file in data_dir",
    )
    data_dir: Path = Path("./data")
    tokens_file: Path | None = Field(
        default=None, description="API token hashes; defaults to data_dir/tokens.json"
    )
    log_level: str = "INFO"
    live_port: int = Field(default=8555, ge=0, le=65535,
                           description="port of the live-view engine (compoundeye live)")
    live_public_url: str = Field(
        default="", description="WebSocket URL pages use for the live engine; empty means "
        "ws(s)://<the dashboard's host>:<live_port>/ws")
    live_linger_seconds: float = Field(
        default=25.0, ge=0, le=600,
        description="an upstream camera session stays open this long after its last viewer")

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the default SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'compoundeye.db').resolve()}"

    @property
    def effective_tokens_file(self) -> Path:
        """The token file, defaulting to ``data_dir/tokens.json``."""
        return self.tokens_file if self.tokens_file is not None else self.data_dir / "tokens.json"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
