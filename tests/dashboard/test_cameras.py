"""Camera statuses from Redis: one pipelined read, worst first, filters, odd values."""

from __future__ import annotations

from typing import Any, cast

import redis
from fastapi.testclient import TestClient

from compoundeye import names
from compoundeye.site.models import Site
from dashboard.cameras import NO_STATUS_REASON, read_statuses
from tests.dashboard.conftest import bearer


def _status(client: redis.Redis, camera: str, **fields: str) -> None:
    client.hset(names.camera_status_key(camera), mapping=cast(Any, fields))


def test_worst_first_and_silent_cameras_are_offline(site: Site,
                                                    redis_client: redis.Redis) -> None:
    _status(redis_client, "cam-A1", status="online", since="2026-01-01T00:00:00.000Z", fps="5.0")
    _status(redis_client, "cam-A2", status="tampered", reason="covered",
            since="2026-01-01T01:00:00.000Z")
    _status(redis_client, "cam-B1", status="degraded", fps="1.5", reason="low fps")
    rows = read_statuses(redis_client, site)
    assert [(r.id, r.status) for r in rows] == [
        ("cam-B2", "offline"), ("cam-A2", "tampered"), ("cam-B1", "degraded"),
        ("cam-A1", "online")]
    silent = rows[0]
    assert not silent.reported and silent.reason == NO_STATUS_REASON
    assert rows[3].fps == 5.0 and rows[3].since == "2026-01-01T00:00:00.000Z"


def test_garbage_in_a_status_hash_is_shown_not_crashed_on(site: Site,
                                                          redis_client: redis.Redis) -> None:
    _status(redis_client, "cam-A1", status="exploded", fps="fast")
    _status(redis_client, "cam-A2", status="online", fps="nan")
    rows = {r.id: r for r in read_statuses(redis_client, site)}
    assert rows["cam-A1"].status == "degraded" and "exploded" in (rows["cam-A1"].reason or "")
    assert rows["cam-A1"].fps is None and rows["cam-A2"].fps is None


def test_api_filters_and_counts(client: TestClient, tokens: dict[str, str],
                                redis_client: redis.Redis) -> None:
    _status(redis_client, "cam-A1", status="online")
    _status(redis_client, "cam-A2", status="offline", since="2026-01-01T02:00:00.000Z")
    _status(redis_client, "cam-B1", status="online")
    _status(redis_client, "cam-B2", status="online")
    ops = bearer(tokens["ops"])
    body = client.get("/api/cameras", headers=ops).json()
    assert body["total"] == 4
    assert body["counts"] == {"offline": 1, "tampered": 0, "degraded": 0, "online": 3}
    assert body["cameras"][0]["id"] == "cam-A2"
    assert body["cameras"][0]["since"] == "2026-01-01T02:00:00.000Z"
    only_a = client.get("/api/cameras", params={"building": "BA"}, headers=ops).json()
    assert {c["id"] for c in only_a["cameras"]} == {"cam-A1", "cam-A2"}
    offline = client.get("/api/cameras", params={"status": "offline"}, headers=ops).json()
    assert [c["id"] for c in offline["cameras"]] == ["cam-A2"]
    assert client.get("/api/cameras", params={"status": "on fire"}, headers=ops).status_code == 422
    assert client.get("/api/cameras", params={"building": "nowhere"},
                      headers=ops).status_code == 404


def test_map_has_every_camera_and_door_with_status(client: TestClient, tokens: dict[str, str],
                                                   redis_client: redis.Redis) -> None:
    _status(redis_client, "cam-A1", status="tampered")
    redis_client.hset(names.door_status_key("door-A"),
                      mapping={"status": "online", "last_seen": "2026-01-01T00:00:00.000Z"})
    plan = client.get("/api/map", headers=bearer(tokens["investigator"])).json()
    assert {c["id"]: c["status"] for c in plan["cameras"]}["cam-A1"] == "tampered"
    doors = {d["id"]: d for d in plan["doors"]}
    assert doors["door-A"]["status"] == "online" and doors["door-B"]["status"] == "unknown"
    assert doors["door-A"]["cameras"] == ["cam-A1"]
    assert [b["name"] for b in plan["buildings"]] == ["BA", "BB"]
    assert plan["bounds"]["min_lat"] < plan["bounds"]["max_lat"]
