"""CE_MQTT_URL parsing: host and port, and clear refusals that never repeat a password."""

from __future__ import annotations

import pytest

from compoundeye.mqtt_url import MqttUrl, MqttUrlError, parse_mqtt_url


def test_host_and_port() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1:18830") == MqttUrl("127.0.0.1", 18830)
    assert parse_mqtt_url("mqtt://broker.site") == MqttUrl("broker.site", 1883)
    assert parse_mqtt_url("MQTT://Broker:1884/").address == "broker:1884"


def test_user_and_password_are_not_kept() -> None:
    broker = parse_mqtt_url("mqtt://edge:s3cret@broker:1883")
    assert broker == MqttUrl("broker", 1883)
    assert "s3cret" not in repr(broker)


@pytest.mark.parametrize(("url", "words"), [
    ("mqtts://broker:8883", "mqtts"),
    ("http://broker:1883", "http://"),
    ("broker:1883", "expected mqtt://"),
    ("mqtt://:1883", "no host"),
    ("mqtt://broker:notaport", "port"),
    ("mqtt://broker:70000", "port"),
    ("mqtt://broker:0", "port 0"),
])
def test_unusable_urls_are_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(MqttUrlError, match=f"(?i){words}"):
        parse_mqtt_url(url)


def test_the_refusal_never_repeats_the_password() -> None:
    with pytest.raises(MqttUrlError) as caught:
        parse_mqtt_url("mqtt://edge:s3cret@broker:notaport")
    assert "s3cret" not in str(caught.value)
