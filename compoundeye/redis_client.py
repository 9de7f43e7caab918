"""The one place Redis clients are built from the settings: one server, or Sentinel.

With ``CE_REDIS_SENTINELS`` set, every client (edge publisher and status writer, door
listener, alerting service, dashboard, SSE, sign-in throttle) is a redis-py Sentinel
client for ``CE_REDIS_SENTINEL_MASTER``: each new connection asks the Sentinels where the
master is, and a connection to a demoted master (``READONLY``) is dropped and re-made.
``CE_REDIS_URL`` then gives only the data nodes' user, password and database.

Every client retries a command a few times with jittered exponential back-off on
connection errors, timeouts and ``READONLY`` (:func:`retry_policy`), which rides out a
blip; a failover takes longer than that (Sentinel's down-after time plus the election),
and the callers' own loops (the publisher's buffer, the alerting service's back-off, the
SSE stream's retry) carry on until the new master answers.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry as aretry
import redis.asyncio.sentinel as asentinel
import redis.sentinel
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from compoundeye.redact import redact_url
from compoundeye.settings import Settings

RETRY_ERRORS: tuple[type[redis.RedisError], ...] = (
    RedisConnectionError, RedisTimeoutError, ReadOnlyError)
"""What a client retries by itself: the errors of a restart or a failover."""

RETRIES = 3
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=BACKOFF_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS)


def retry_policy(retries: int = RETRIES) -> Retry:
    """redis-py's Retry for synchronous clients: back-off on :data:`RETRY_ERRORS`."""
    return Retry(_backoff(), retries, supported_errors=RETRY_ERRORS)


def async_retry_policy(retries: int = RETRIES) -> aretry.Retry:
    """The same policy for asyncio clients."""
    return aretry.Retry(_backoff(), retries, supported_errors=RETRY_ERRORS)


def uses_sentinel(settings: Settings) -> bool:
    """Whether the clients find the master through Sentinel."""
    return bool(settings.sentinel_addresses)


def _node_auth(settings: Settings) -> dict[str, Any]:
    """User, password and database of the data nodes, from ``CE_REDIS_URL``."""
    parsed = parse_url(settings.redis_url)  # type: ignore[no-untyped-call]
    return {key: parsed[key] for key in ("username", "password", "db") if parsed.get(key)}


def _sentinel_kwargs(settings: Settings, timeout: float, *,
                     asyncio: bool = False) -> dict[str, Any]:
    """How the Sentinels themselves are asked: once each (no retry: a Sentinel that does
    not answer is skipped for the next one, and a wrong password is not worth repeating)."""
    kwargs: dict[str, Any] = {
        "socket_timeout": timeout, "socket_connect_timeout": timeout,
        "retry": aretry.Retry(NoBackoff(), 0) if asyncio else Retry(NoBackoff(), 0)}
    password = settings.redis_sentinel_password.get_secret_value()
    if password:
        kwargs["password"] = password
    return kwargs


def connect_url(url: str, *, timeout: float = 2.0, connect_timeout: float | None = None,
                health_check_interval: int = 10) -> redis.Redis:
    """A client of one server by URL, with the shared timeouts and retry policy."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout,
        socket_connect_timeout=connect_timeout if connect_timeout is not None else timeout,
        health_check_interval=health_check_interval, retry=retry_policy())


def redis_from_settings(settings: Settings, *, timeout: float = 2.0,
                        connect_timeout: float | None = None,
                        health_check_interval: int = 10) -> redis.Redis:
    """The synchronous client every service uses: the master through Sentinel when
    ``CE_REDIS_SENTINELS`` is set, else ``CE_REDIS_URL``. Short timeouts, so an outage is
    noticed instead of waited on."""
    if not uses_sentinel(settings):
        return connect_url(settings.redis_url, timeout=timeout, connect_timeout=connect_timeout,
                           health_check_interval=health_check_interval)
    connect_timeout = connect_timeout if connect_timeout is not None else timeout
    sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_addresses, sentinel_kwargs=_sentinel_kwargs(settings, connect_timeout),
        socket_timeout=timeout, socket_connect_timeout=connect_timeout)
    client: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        settings.redis_sentinel_master, socket_timeout=timeout,
        socket_connect_timeout=connect_timeout, health_check_interval=health_check_interval,
        retry=retry_policy(), **_node_auth(settings))
    return client


def async_redis_from_settings(settings: Settings, *, timeout: float = 30.0,
                              connect_timeout: float = 5.0) -> aioredis.Redis:
    """The asyncio client (the dashboard's SSE streams), built like
    :func:`redis_from_settings`."""
    if not uses_sentinel(settings):
        return aioredis.Redis.from_url(settings.redis_url, socket_timeout=timeout,
                                       socket_connect_timeout=connect_timeout,
                                       retry=async_retry_policy())
    sentinel = asentinel.Sentinel(  # type: ignore[no-untyped-call]
        settings.sentinel_addresses,
        sentinel_kwargs=_sentinel_kwargs(settings, connect_timeout, asyncio=True),
        socket_timeout=timeout, socket_connect_timeout=connect_timeout)
    client: aioredis.Redis = sentinel.master_for(
        settings.redis_sentinel_master, redis_class=aioredis.Redis, socket_timeout=timeout,
        socket_connect_timeout=connect_timeout, retry=async_retry_policy(),
        **_node_auth(settings))
    return client


def describe(settings: Settings) -> str:
    """Where the clients go, for logs and ``compoundeye health`` (no secret in it)."""
    if not uses_sentinel(settings):
        return redact_url(settings.redis_url)
    places = ",".join(f"{host}:{port}" for host, port in settings.sentinel_addresses)
    return f"sentinel://{places}/{settings.redis_sentinel_master}"


def answers(settings: Settings, timeout: float = 1.0) -> bool:
    """Whether the (current) master answers PING."""
    return answers_ping(redis_from_settings(settings, timeout=timeout, health_check_interval=0))


def answers_ping(client: redis.Redis) -> bool:
    """Whether ``client``'s server answers PING; the client is closed either way."""
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
