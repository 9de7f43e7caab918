"""Private Redis, Mosquitto and VictoriaMetrics instances for tests and the demo.

Each service runs as a child process in its own process group, on a free loopback port,
with its own temporary directory. A service whose URL is given in the environment
(``CE_REDIS_URL``, ``CE_MQTT_URL``, ``CE_TSDB_URL``) is used as it is and never started.

The private Mosquitto is locked like a production broker (:mod:`compoundeye.broker`): no
anonymous clients, a password file, the controllers' ACL, and a TLS listener with a CA and
certificate made by ``openssl``. :attr:`ServiceSet.mqtt_url` signs in as
:data:`~compoundeye.broker.SITE_USER` (publishes for every door, reads every door: tools,
tests, ``mosquitto_pub``) on the plain loopback listener; the services' own
``CE_MQTT_URL`` (:meth:`ServiceSet.env_vars`) is the listener account over TLS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
import redis

from compoundeye import broker
from compoundeye.mqtt_url import MqttUrl, parse_mqtt_url
from compoundeye.redact import redact_url
from compoundeye.redis_client import answers_ping

log = logging.getLogger(__name__)

ServiceName = Literal["redis", "mqtt", "tsdb"]
SERVICE_NAMES: tuple[ServiceName, ...] = ("redis", "mqtt", "tsdb")
ENV_VARS: dict[ServiceName, str] = {
    "redis": "CE_REDIS_URL",
    "mqtt": "CE_MQTT_URL",
    "tsdb": "CE_TSDB_URL",
}

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class ServiceError(RuntimeError):
    """A service could not be started, did not answer, or cannot be controlled."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server at ``url`` answers PING."""
    return answers_ping(redis.Redis.from_url(url, socket_timeout=timeout,
                                             socket_connect_timeout=timeout))


def mqtt_answers(host: str, port: int, timeout: float = 2.0, *,
                 url: str | None = None, ca_file: Path | None = None,
                 target: MqttUrl | None = None) -> bool:
    """Whether an MQTT broker at ``host:port`` accepts a connection (CONNACK success);
    with ``url`` (or a parsed ``target``), signing in (and TLS) as it says."""
    from paho.mqtt import client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    accepted = threading.Event()
    client_id = f"ce-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if target is None and url is not None:
        target = parse_mqtt_url(url, ca_file=ca_file)
    if target is not None:
        target.configure(client)
        host, port = target.host, target.port

    def on_connect(_c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if not getattr(reason, "is_failure", True):
            accepted.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    try:
        while not accepted.is_set() and time.monotonic() < deadline:
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                return False
        return accepted.is_set()
    finally:
        with contextlib.suppress(Exception):
            client.disconnect()


def tsdb_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a VictoriaMetrics (or Prometheus-compatible) server answers ``/health``."""
    try:
        response = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def tsdb_force_flush(url: str, timeout: float = 5.0) -> None:
    """Make every point VictoriaMetrics has received searchable now (tests, demo)."""
    httpx.get(url.rstrip("/") + "/internal/force_flush", timeout=timeout).raise_for_status()


@dataclass
class ManagedService:
    """One child service process: its command, port, directory and readiness probe."""

    name: ServiceName
    port: int
    workdir: Path
    command: Callable[[ManagedService], list[str]]
    probe: Callable[[ManagedService], bool]
    url: str
    process: subprocess.Popen[bytes] | None = None
    tls_port: int = 0
    """Mosquitto only: the port of its TLS listener."""

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Start the process and wait until it answers; raise :class:`ServiceError` if not."""
        if self.running:
            return
        deadline = time.monotonic() + timeout
        while not port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)  # a just-stopped instance may still hold the port briefly
        argv = self.command(self)
        log.debug("starting %s: %s", self.name, " ".join(argv))
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise ServiceError(f"{self.name} exited with {code} on start:\n{self.log_tail()}")
            if self.probe(self):
                log.info("%s ready at %s (pid %d)", self.name, redact_url(self.url),
                         self.process.pid)
                return
            time.sleep(0.05)
        self.stop()
        raise ServiceError(f"{self.name} did not answer within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, wait, SIGKILL what is left."""
        process, self.process = self.process, None
        if process is None:
            return
        terminate_group(process, timeout)
        log.debug("%s stopped (exit %s)", self.name, process.returncode)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def terminate_group(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    """Terminate a child started with ``start_new_session=True`` and its whole group."""
    pgid = process.pid  # a session leader's group id is its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("pid %d ignored SIGTERM for %.0fs; killing", process.pid, timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)  # also reaches grandchildren left in the group
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


def _redis_command(svc: ManagedService) -> list[str]:
    return [
        shutil.which("redis-server") or "redis-server",
        "--port", str(svc.port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(svc.workdir),
        "--daemonize", "no",
        "--protected-mode", "no",
        "--loglevel", "warning",
    ]


def _mosquitto_command(svc: ManagedService) -> list[str]:
    config = svc.workdir / "mosquitto.conf"
    data = svc.workdir / "data"
    data.mkdir(exist_ok=True)
    tls = broker.private_accounts(svc.workdir).certificates
    # Run as whoever we are: started as root, mosquitto would switch to its own user,
    # which cannot write the persistence file in our directory.
    user = pwd.getpwuid(os.geteuid()).pw_name
    config.write_text(
        f"user {user}\n"
        "per_listener_settings false\n"
        "allow_anonymous false\n"
        f"password_file {svc.workdir / 'passwd'}\n"
        f"acl_file {svc.workdir / 'acl'}\n"
        f"listener {svc.port} 127.0.0.1\n"
        f"listener {svc.tls_port} 127.0.0.1\n"
        f"cafile {tls.ca_file}\n"
        f"certfile {tls.cert_file}\n"
        f"keyfile {tls.key_file}\n"
        "tls_version tlsv1.2\n"
        "persistence true\n"
        f"persistence_location {data}/\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n"
        "max_queued_messages 100000\n",
        encoding="utf-8",
    )
    return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(config)]


def _vm_command(svc: ManagedService) -> list[str]:
    return [
        shutil.which("victoria-metrics") or "victoria-metrics",
        f"-httpListenAddr=127.0.0.1:{svc.port}",
        f"-storageDataPath={svc.workdir / 'data'}",
        "-retentionPeriod=1",
        "-search.latencyOffset=0s",
        "-search.cacheTimestampOffset=0s",
        "-search.disableCache",
        "-loggerLevel=WARN",
        "-http.shutdownDelay=0s",
    ]


def _make_service(name: ServiceName, root: Path) -> ManagedService:
    port = free_port()
    workdir = root / name
    workdir.mkdir(parents=True, exist_ok=True)
    if name == "redis":
        return ManagedService(
            name, port, workdir, _redis_command,
            lambda s: redis_answers(s.url), f"redis://127.0.0.1:{port}/0",
        )
    if name == "mqtt":
        accounts = broker.private_accounts(workdir)
        return ManagedService(
            name, port, workdir, _mosquitto_command,
            lambda s: mqtt_answers("127.0.0.1", s.port, url=s.url),
            f"mqtt://{broker.SITE_USER}:{accounts.site_password}@127.0.0.1:{port}",
            tls_port=free_port(),
        )
    return ManagedService(
        name, port, workdir, _vm_command,
        lambda s: tsdb_answers(s.url), f"http://127.0.0.1:{port}",
    )


@dataclass
class ServiceSet:
    """Redis, MQTT and TSDB endpoints: private instances, or the ones named in the environment.

    Use as a context manager (or call :meth:`start` and :meth:`stop`). ``env`` defaults to
    ``os.environ``; pass ``{}`` to always start private instances.
    """

    env: Mapping[str, str] | None = None
    _root: Path | None = field(default=None, init=False, repr=False)
    _managed: dict[ServiceName, ManagedService] = field(default_factory=dict, init=False)
    _external: dict[ServiceName, str] = field(default_factory=dict, init=False)

    def start(self) -> ServiceSet:
        """Start every service not given in the environment and wait until all answer."""
        if self._root is not None:
            return self  # already started
        env = os.environ if self.env is None else self.env
        self._root = Path(tempfile.mkdtemp(prefix="compoundeye-services-"))
        try:
            for name in SERVICE_NAMES:
                url = env.get(ENV_VARS[name], "").strip()
                if url:
                    self._external[name] = url
                    log.info("%s: using %s from %s", name, redact_url(url), ENV_VARS[name])
                    continue
                self._managed[name] = self._start_private(name, self._root)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _start_private(name: ServiceName, root: Path, attempts: int = 3) -> ManagedService:
        """Start a private instance; another port is tried if the free one was taken meanwhile."""
        for attempt in range(1, attempts + 1):
            service = _make_service(name, root)
            try:
                service.start()
                return service
            except ServiceError:
                service.stop()
                if attempt == attempts:
                    raise
                log.warning("%s did not start on port %d; trying another", name, service.port)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Stop every private instance and remove their directories."""
        for service in reversed(list(self._managed.values())):
            try:
                service.stop()
            except Exception:  # keep stopping the others
                log.exception("stopping %s failed", service.name)
        self._managed.clear()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> ServiceSet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def url(self, name: ServiceName) -> str:
        """The URL of a service, private or external."""
        if name in self._external:
            return self._external[name]
        if name in self._managed:
            return self._managed[name].url
        raise ServiceError(f"{name}: the service set is not started")

    @property
    def redis_url(self) -> str:
        return self.url("redis")

    @property
    def mqtt_url(self) -> str:
        return self.url("mqtt")

    @property
    def tsdb_url(self) -> str:
        return self.url("tsdb")

    @property
    def mqtt_host(self) -> str:
        return parse_mqtt_url(self.mqtt_url).host

    @property
    def mqtt_port(self) -> int:
        return parse_mqtt_url(self.mqtt_url).port

    def is_private(self, name: ServiceName) -> bool:
        """Whether this set started (and so controls) the service."""
        return name in self._managed

    def managed(self, name: ServiceName) -> ManagedService:
        """The private instance of a service; :class:`ServiceError` for an external one."""
        try:
            return self._managed[name]
        except KeyError:
            raise ServiceError(
                f"{name} is external ({self._external.get(name, 'not started')}); "
                "only private instances can be stopped or restarted"
            ) from None

    def pids(self) -> dict[ServiceName, int]:
        """Process ids of the running private instances."""
        return {
            name: svc.process.pid
            for name, svc in self._managed.items()
            if svc.process is not None and svc.running
        }

    def stop_service(self, name: ServiceName) -> None:
        """Stop one private instance; its port and data directory are kept for a restart."""
        self.managed(name).stop()

    def start_service(self, name: ServiceName) -> None:
        """Start a stopped private instance again on the same port."""
        self.managed(name).start()

    def restart(self, name: ServiceName) -> None:
        """Stop and start one private instance, on the same port (Redis loses its data)."""
        service = self.managed(name)
        service.stop()
        service.start()

    def restart_redis(self) -> None:
        """Restart the private Redis on the same port (empty afterwards: no persistence)."""
        self.restart("redis")

    @property
    def mqtt_listener_url(self) -> str:
        """What the door listener uses: the listener account over TLS (private broker),
        or ``CE_MQTT_URL`` (external)."""
        if "mqtt" not in self._managed:
            return self.mqtt_url
        svc = self._managed["mqtt"]
        password = broker.private_accounts(svc.workdir).listener_password
        return f"mqtts://{broker.LISTENER_USER}:{password}@127.0.0.1:{svc.tls_port}"

    @property
    def mqtt_ca_file(self) -> Path | None:
        """The CA of the private broker's TLS listener (None for an external broker)."""
        if "mqtt" not in self._managed:
            return None
        return broker.private_accounts(self._managed["mqtt"].workdir).certificates.ca_file

    def env_vars(self) -> dict[str, str]:
        """``CE_*`` variables pointing child processes at these services (the door
        listener's account and CA for MQTT)."""
        env = {ENV_VARS[name]: self.url(name) for name in SERVICE_NAMES}
        env["CE_MQTT_URL"] = self.mqtt_listener_url
        ca_file = self.mqtt_ca_file
        if ca_file is not None:
            env["CE_MQTT_CA_FILE"] = str(ca_file)
        return env



POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The local PostgreSQL the tests and benches make scratch databases in (``CE_TEST_POSTGRES``
overrides it)."""


@contextlib.contextmanager
def scratch_database(admin: Any, admin_url: str, prefix: str) -> Iterator[str]:
    """A new PostgreSQL database made through ``admin`` (an autocommit psycopg connection to
    ``admin_url``, closed on the way out), as a SQLAlchemy URL; dropped afterwards, with any
    connection still open to it."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
            yield f"{base}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
