from __future__ import annotations

from compoundeye.settings import Settings


def test_repr_and_str_carry_no_password_or_token() -> None:
    settings = Settings(mqtt_url="mqtts://listener:br0ker-pw@broker:8883",
                        redis_url="redis://:r3dis-pw@cache:6379/0",
                        database_url="postgresql+psycopg://ce:db-pw@db/ce",
                        tsdb_token="ts-token-123")
    for shown in (repr(settings), str(settings)):
        for secret in ("br0ker-pw", "r3dis-pw", "db-pw", "ts-token-123"):
            assert secret not in shown
        assert "mqtts://listener:***@broker:8883" in shown
    assert settings.mqtt_url == "mqtts://listener:br0ker-pw@broker:8883"  # the value itself
