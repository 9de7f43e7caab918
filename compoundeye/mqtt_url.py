"""The broker in ``CE_MQTT_URL``, parsed once into a typed record, and how a client uses it.

``mqtt://[user[:password]@]host[:port]`` (port 1883) or ``mqtts://...`` (TLS, port 8883).
The TLS files come beside the URL (``CE_MQTT_CA_FILE``, ``CE_MQTT_CERT_FILE``,
``CE_MQTT_KEY_FILE``): the CA that signed the broker's certificate (the system's CAs when
absent) and an optional client certificate and key. The password is kept out of
``repr`` and every message here; :attr:`MqttUrl.redacted` is the form to print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from compoundeye.redact import redact_url

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883


class MqttUrlError(ValueError):
    """``CE_MQTT_URL`` (or its TLS files) is not a broker address this version can use."""


class _PahoClient(Protocol):
    def username_pw_set(self, username: str | None, password: str | None = None) -> None: ...

    def tls_set(self, ca_certs: str | None = None, certfile: str | None = None,
                keyfile: str | None = None) -> Any: ...


@dataclass(frozen=True)
class MqttUrl:
    """Where the MQTT broker is and how to sign in to it."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def address(self) -> str:
        """``host:port``, for logs."""
        return f"{self.host}:{self.port}"

    @property
    def redacted(self) -> str:
        """The URL with the password masked: the only form that is printed."""
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}:***@" if self.username else ""
        return redact_url(f"{scheme}://{user}{self.address}")

    def configure(self, client: _PahoClient) -> None:
        """Give a paho-mqtt client the credentials and TLS settings (before it connects)."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set(ca_certs=_text(self.ca_file), certfile=_text(self.cert_file),
                           keyfile=_text(self.key_file))


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _file(label: str, value: str | Path | None) -> Path | None:
    if value is None or str(value).strip() == "":
        return None
    path = Path(value)
    if not path.is_file():
        raise MqttUrlError(f"MQTT {label} file {path} does not exist")
    return path


def parse_mqtt_url(url: str, *, ca_file: str | Path | None = None,
                   cert_file: str | Path | None = None,
                   key_file: str | Path | None = None) -> MqttUrl:
    """The broker of an ``mqtt://`` or ``mqtts://`` URL, with its TLS files.

    Raises :class:`MqttUrlError` naming what is wrong; the message never repeats the URL,
    which may hold a password. TLS files given for a plain ``mqtt://`` URL are refused
    rather than ignored (the operator meant TLS).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise MqttUrlError(f"MQTT URL: {redact_url(str(exc))}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        shown = f"{scheme}://" if scheme else "no scheme"
        raise MqttUrlError(f"MQTT URL: expected mqtt:// or mqtts://host[:port], got {shown}")
    if not parts.hostname:
        raise MqttUrlError("MQTT URL: no host (expected mqtt://host[:port])")
    if port == 0:
        raise MqttUrlError("MQTT URL: port 0 is not a broker port")
    tls = scheme == "mqtts"
    files = {"CA": _file("CA", ca_file), "client certificate": _file("client certificate",
             cert_file), "client key": _file("client key", key_file)}
    if not tls and any(files.values()):
        raise MqttUrlError("MQTT URL: TLS files are set but the URL is mqtt://; use mqtts://")
    if files["client key"] is not None and files["client certificate"] is None:
        raise MqttUrlError("MQTT URL: a client key without a client certificate")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise MqttUrlError("MQTT URL: a password without a user name")
    return MqttUrl(parts.hostname, port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT),
                   username, password, tls, files["CA"], files["client certificate"],
                   files["client key"])


class _MqttSettings(Protocol):
    mqtt_url: str
    mqtt_ca_file: Path | None
    mqtt_cert_file: Path | None
    mqtt_key_file: Path | None


def broker_from_settings(settings: _MqttSettings) -> MqttUrl:
    """The broker of ``CE_MQTT_URL`` with ``CE_MQTT_CA_FILE``/``CERT_FILE``/``KEY_FILE``."""
    return parse_mqtt_url(settings.mqtt_url, ca_file=settings.mqtt_ca_file,
                          cert_file=settings.mqtt_cert_file, key_file=settings.mqtt_key_file)
