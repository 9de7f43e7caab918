"""The one Redis client builder: settings, Sentinel discovery, failover, no secret shown."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import ValidationError

from compoundeye.health import check_all
from compoundeye.redis_client import (
    answers,
    async_redis_from_settings,
    describe,
    redis_from_settings,
    uses_sentinel,
)
from compoundeye.sentinel_set import SentinelSet, command
from compoundeye.settings import Settings
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(120)


def test_sentinel_settings_parse_and_default_the_wait() -> None:
    plain = Settings(redis_url="redis://127.0.0.1:6379/0")
    assert not uses_sentinel(plain)
    assert plain.effective_wait_replicas == 0
    ha = Settings(redis_sentinels=" s1:26379, [::1]:26380 ,", redis_sentinel_master="m")
    assert ha.sentinel_addresses == [("s1", 26379), ("::1", 26380)]
    assert ha.effective_wait_replicas == 1
    assert Settings(redis_sentinels="s1:26379", redis_wait_replicas=0).effective_wait_replicas \
        == 0
    with pytest.raises(ValidationError, match="not host:port"):
        Settings(redis_sentinels="s1:26379,s2")


def test_describe_names_the_sentinels_and_no_password() -> None:
    settings = Settings(redis_sentinels="a:1,b:2", redis_sentinel_master="site",
                        redis_sentinel_password="sentinel-secret",
                        redis_url="redis://:node-secret@x:6379/0")
    text = describe(settings)
    assert text == "sentinel://a:1,b:2/site"
    assert "secret" not in text
    assert "sentinel-secret" not in repr(settings)  # a SecretStr
    assert "node-secret" not in describe(Settings(redis_url="redis://:node-secret@x:6379/0"))


def test_clients_find_the_master_and_follow_a_failover(sentinels: SentinelSet) -> None:
    settings = sentinels.settings()
    client = redis_from_settings(settings)
    try:
        client.set("ce:test:where", "before")
        old = sentinels.primary()
        assert sentinels.node_client(old.port).get("ce:test:where") == b"before"
        command(client, "WAIT", 1, 2000)
        sentinels.kill_primary()
        new = sentinels.wait_for_failover(old.port, timeout=60)
        # The same client object: its next command reaches the new master.
        assert wait_until(lambda: _get(client, "ce:test:where"), 20,
                          what="the client on the new master") == b"before"
        client.set("ce:test:where", "after")
        assert sentinels.node_client(new[1]).get("ce:test:where") == b"after"
    finally:
        client.close()


def test_the_async_client_goes_through_sentinel_too(sentinels: SentinelSet) -> None:
    async def roundtrip() -> bytes | None:
        client = async_redis_from_settings(sentinels.settings())
        try:
            await client.set("ce:test:async", "yes")
            value: Any = await client.get("ce:test:async")
            return value  # type: ignore[no-any-return]
        finally:
            await client.aclose()

    assert asyncio.run(roundtrip()) == b"yes"
    primary = sentinels.node_client(sentinels.primary().port)
    assert primary.get("ce:test:async") == b"yes"


def test_health_checks_the_master_through_sentinel(sentinels: SentinelSet,
                                                   tmp_path: Path) -> None:
    elsewhere = {"mqtt_url": "mqtt://127.0.0.1:1", "tsdb_url": "http://127.0.0.1:1",
                 "data_dir": tmp_path}
    [result] = [r for r in check_all(sentinels.settings(**elsewhere)) if r.name == "redis"]
    assert result.ok, result.detail
    assert result.target.startswith("sentinel://127.0.0.1:")
    assert sentinels.password not in result.target + result.detail
    assert not answers(sentinels.settings(redis_sentinel_password="not-the-password"))


def _get(client: redis.Redis, key: str) -> bytes | None:
    try:
        value: Any = client.get(key)
        return value  # type: ignore[no-any-return]
    except redis.RedisError:
        return None
