"""Infrastructure settings from ``CE_*`` environment variables, as one typed object."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from compoundeye.redact import MASK, redact_text

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
"""Host names answered when ``CE_ALLOWED_HOSTS`` is not set."""

SECRET_FIELDS = frozenset({"tsdb_token"})
"""Settings whose whole value is a secret (URLs are redacted field by field instead)."""


class Settings(BaseSettings):
    """Where the services are and where data lives; the site itself is in the YAML file."""

    model_config = SettingsConfigDict(env_prefix="CE_", extra="ignore")

    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="the Redis server; with CE_REDIS_SENTINELS only its user, password and "
        "database count (Sentinel names the master)")
    redis_sentinels: str = Field(
        default="", description="comma-separated host:port of Redis Sentinels; when set, "
        "every client asks them for the master and follows a failover")
    redis_sentinel_master: str = Field(
        default="compoundeye", description="the master name the Sentinels monitor")
    redis_sentinel_password: SecretStr = Field(
        default=SecretStr(""), description="password of the Sentinels (requirepass)")
    redis_wait_replicas: int | None = Field(
        default=None, ge=0, le=16,
        description="replicas that must hold a published event before the publisher forgets "
        "it (WAIT); default 1 with Sentinel, 0 without")
    redis_wait_timeout_ms: int = Field(
        default=100, ge=1, le=60_000, description="how long one WAIT waits for the replicas")
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883",
                          description="mqtt:// or mqtts://, with user and password")
    mqtt_ca_file: Path | None = Field(default=None, description="CA of the broker (mqtts://)")
    mqtt_cert_file: Path | None = Field(default=None, description="client certificate (mqtts)")
    mqtt_key_file: Path | None = Field(default=None, description="client key (mqtts)")
    door_keys_file: Path | None = Field(
        default=None, description="per-door HMAC keys (JSON); doors listed must sign")
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
    data_group: str = Field(
        default="", description="group given read access to the data directory (0750/0640)")
    trusted_proxies: str = Field(
        default="", description="comma-separated proxy addresses whose X-Forwarded-* count")
    allowed_hosts: str = Field(
        default="", description="comma-separated Host names the dashboard answers")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="request body cap")
    login_limit_per_address: str = Field(default="20/minute",
                                         description="failed sign-ins per client address")
    login_limit_global: str = Field(default="200/minute",
                                    description="failed sign-ins from everyone together")
    login_burst_seconds: float = Field(
        default=60.0, gt=0, description="quiet time that ends a burst of failed sign-ins")
    tls_cert_file: Path | None = Field(default=None, description="dashboard HTTPS certificate")
    tls_key_file: Path | None = Field(default=None, description="dashboard HTTPS key")
    live_port: int = Field(default=8555, ge=0, le=65535,
                           description="port of the live-view engine (compoundeye live)")
    live_public_url: str = Field(
        default="", description="WebSocket URL pages use for the live engine; empty means "
        "ws(s)://<the dashboard's host>:<live_port>/ws")
    live_linger_seconds: float = Field(
        default=25.0, ge=0, le=600,
        description="an upstream camera session stays open this long after its last viewer")

    @field_validator("redis_sentinels")
    @classmethod
    def _check_sentinels(cls, value: str) -> str:
        for item in cls._list(value):
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"CE_REDIS_SENTINELS: {item!r} is not host:port")
        return value

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """``CE_REDIS_SENTINELS`` as (host, port) pairs (empty: no Sentinel)."""
        pairs = [item.rpartition(":") for item in self._list(self.redis_sentinels)]
        return [(host.strip("[]"), int(port)) for host, _sep, port in pairs]

    @property
    def effective_wait_replicas(self) -> int:
        """Replicas a publisher waits for: ``CE_REDIS_WAIT_REPLICAS``, else 1 with Sentinel
        (a failover must not lose what was acknowledged) and 0 without."""
        if self.redis_wait_replicas is not None:
            return self.redis_wait_replicas
        return 1 if self.redis_sentinels.strip() else 0

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

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # A repr reaches logs and test reports: no password or token in it.
        for name, value in super().__repr_args__():
            if name in SECRET_FIELDS and value:
                yield name, MASK
            elif isinstance(value, str):
                yield name, redact_text(value)
            else:
                yield name, value

    @staticmethod
    def _list(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        """``CE_TRUSTED_PROXIES`` as a list (empty: no forwarded header is believed)."""
        return self._list(self.trusted_proxies)

    @property
    def allowed_host_list(self) -> list[str]:
        """``CE_ALLOWED_HOSTS`` as a list (empty: loopback names only)."""
        return self._list(self.allowed_hosts) or list(LOOPBACK_HOSTS)

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
