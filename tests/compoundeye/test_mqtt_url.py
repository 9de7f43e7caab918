"""CE_MQTT_URL parsing: host, port, credentials and TLS, and clear refusals that never
repeat a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from compoundeye.mqtt_url import MqttUrl, MqttUrlError, parse_mqtt_url


def test_host_and_port() -> None:
    assert parse_mqtt_url("mqtt://127.0.0.1:18830") == MqttUrl("127.0.0.1", 18830)
    assert parse_mqtt_url("mqtt://broker.site") == MqttUrl("broker.site", 1883)
    assert parse_mqtt_url("MQTT://Broker:1884/").address == "broker:1884"


def test_user_and_password_are_kept_but_never_shown() -> None:
    broker = parse_mqtt_url("mqtt://edge:s3cr%40t@broker:1883")
    assert (broker.username, broker.password) == ("edge", "s3cr@t")
    assert "s3cr" not in repr(broker)
    assert broker.redacted == "mqtt://edge:***@broker:1883"


def test_mqtts_takes_the_tls_port_and_files(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    broker = parse_mqtt_url("mqtts://listener:pw@broker", ca_file=ca)
    assert broker.tls and broker.port == 8883 and broker.ca_file == ca


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def username_pw_set(self, username: str | None, password: str | None = None) -> None:
        self.calls.append(("user", (username, password)))

    def tls_set(self, ca_certs: str | None = None, certfile: str | None = None,
                keyfile: str | None = None) -> None:
        self.calls.append(("tls", (ca_certs, certfile, keyfile)))


def test_configure_gives_the_client_credentials_and_tls(tmp_path: Path) -> None:
    for name in ("ca.pem", "c.pem", "c.key"):
        (tmp_path / name).write_text("x")
    client = _Recorder()
    parse_mqtt_url("mqtts://u:p@b:8883", ca_file=tmp_path / "ca.pem",
                   cert_file=tmp_path / "c.pem", key_file=tmp_path / "c.key").configure(client)
    assert client.calls == [("user", ("u", "p")),
                            ("tls", (str(tmp_path / "ca.pem"), str(tmp_path / "c.pem"),
                                     str(tmp_path / "c.key")))]
    plain = _Recorder()
    parse_mqtt_url("mqtt://b").configure(plain)
    assert plain.calls == []


@pytest.mark.parametrize(("url", "words"), [
    ("http://broker:1883", "http://"),
    ("broker:1883", "expected mqtt://"),
    ("mqtt://:1883", "no host"),
    ("mqtt://broker:notaport", "port"),
    ("mqtt://broker:70000", "port"),
    ("mqtt://broker:0", "port 0"),
    ("mqtt://:pw@broker", "password without a user"),
])
def test_unusable_urls_are_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(MqttUrlError, match=f"(?i){words}"):
        parse_mqtt_url(url)


def test_tls_files_with_a_plain_url_or_missing_files_are_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(MqttUrlError, match="mqtts://"):
        parse_mqtt_url("mqtt://broker", ca_file=ca)
    with pytest.raises(MqttUrlError, match="does not exist"):
        parse_mqtt_url("mqtts://broker", ca_file=tmp_path / "missing.pem")


def test_the_refusal_never_repeats_the_password() -> None:
    with pytest.raises(MqttUrlError) as caught:
        parse_mqtt_url("mqtt://edge:s3cret@broker:notaport")
    assert "s3cret" not in str(caught.value)
