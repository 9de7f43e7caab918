"""The broker address in ``CE_MQTT_URL``, parsed once into a typed record.

Today only plain ``mqtt://host[:port]`` is understood. A user and password in the URL are
accepted and not yet used (they are never kept here, so they never reach a log through
this record); TLS (``mqtts://``) is refused with a clear error rather than connected to
in the clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 1883


class MqttUrlError(ValueError):
    """``CE_MQTT_URL`` is not a broker address this version can use."""


@dataclass(frozen=True)
class MqttUrl:
    """Where the MQTT broker is."""

    host: str
    port: int = DEFAULT_PORT

    @property
    def address(self) -> str:
        """``host:port``, for logs."""
        return f"{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttUrl:
    """The broker of an ``mqtt://host[:port]`` URL (port 1883 when absent).

    Raises :class:`MqttUrlError` naming what is wrong; the message never repeats the URL,
    which may hold a password.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise MqttUrlError(f"MQTT URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "mqtts":
        raise MqttUrlError("MQTT URL: mqtts:// (TLS) is not supported yet; use mqtt://")
    if scheme != "mqtt":
        shown = f"{scheme}://" if scheme else "no scheme"
        raise MqttUrlError(f"MQTT URL: expected mqtt://host[:port], got {shown}")
    if not parts.hostname:
        raise MqttUrlError("MQTT URL: no host (expected mqtt://host[:port])")
    if port == 0:
        raise MqttUrlError("MQTT URL: port 0 is not a broker port")
    return MqttUrl(parts.hostname, port or DEFAULT_PORT)
