"""Fixtures of the security tests: a locked Mosquitto built from ``deploy/mosquitto`` with a
CA and certificates made here with ``openssl``, and real dashboard processes (uvicorn).

Everything here also runs against an older checkout (to show each test failing there):
it uses only paho, httpx, the settings and the token store, and reads the broker's
configuration from the checkout's own ``deploy/mosquitto``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.services import ServiceSet, free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY_MOSQUITTO = REPO / "deploy" / "mosquitto"
LISTENER_USER = "ce-listener"
DOORS = ("door-A", "door-B")

SITE = {
    "name": "security test compound",
    "timezone": "UTC",
    "cameras": [{"id": "cam-1", "name": "Camera 1", "main_url": "rtsp://127.0.0.1:1/cam-1",
                 "location": {"building": "B1", "zone": "lobby", "lat": 22.3, "lon": 114.1}}],
    "doors": [{"id": d, "name": f"Door {d}", "cameras": ["cam-1"],
               "location": {"building": "B1", "zone": "lobby", "lat": 22.3, "lon": 114.1}}
              for d in DOORS],
    "edge": {"segment_seconds": 2},
}


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> Path:
    """A CA and a broker certificate for 127.0.0.1 (EC P-256); returns the CA file."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key = directory / "ca.key", directory / "ca.pem", directory / "server.key"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ca_key))
    openssl("req", "-x509", "-new", "-key", str(ca_key), "-out", str(ca), "-days", "2",
            "-subj", "/CN=security test CA")
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    csr = directory / "server.csr"
    openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext = directory / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "basicConstraints=critical,CA:FALSE\n"
                   "extendedKeyUsage=serverAuth\n"
                   "authorityKeyIdentifier=keyid,issuer\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(directory / "server.pem"), "-days", "2",
            "-extfile", str(ext))
    return ca


def set_password(password_file: Path, user: str, password: str) -> None:
    if not password_file.exists():
        password_file.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(password_file), user, password], check=True,
                   capture_output=True, timeout=30)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LockedBroker:
    """A Mosquitto run with the repository's deploy configuration."""

    directory: Path
    plain_port: int
    tls_port: int
    ca_file: Path
    passwords: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def password_file(self) -> Path:
        return self.directory / "passwd"

    def add_user(self, user: str, password: str) -> None:
        set_password(self.password_file, user, password)
        self.passwords[user] = password
        self.reload()

    def reload(self) -> None:
        if self.process is not None:
            self.process.send_signal(1)  # SIGHUP: read the password file and ACL again
            time.sleep(0.3)

    def listener_url(self) -> str:
        return f"mqtts://{LISTENER_USER}:{self.passwords[LISTENER_USER]}@127.0.0.1:{self.tls_port}"

    def log(self) -> str:
        return (self.directory / "mosquitto.log").read_text(errors="replace")[-3000:]


def _deploy_config(broker: LockedBroker) -> str:
    """deploy/mosquitto/mosquitto.conf with this test's paths and ports."""
    text = (DEPLOY_MOSQUITTO / "mosquitto.conf").read_text()
    lines = [f"user {pwd.getpwuid(os.geteuid()).pw_name}"]
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["listener"]:
            port = broker.tls_port if words[1] == "8883" else broker.plain_port
            line = f"listener {port} 127.0.0.1"
        elif words[:1] == ["log_dest"]:
            line = "log_dest stderr"
        line = line.replace("/mosquitto/config/", f"{broker.directory}/")
        line = line.replace("/mosquitto/data/", f"{broker.directory}/data/")
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def locked_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LockedBroker]:
    directory = tmp_path_factory.mktemp("broker")
    (directory / "data").mkdir()
    ca = make_pki(directory / "certs")
    broker = LockedBroker(directory, free_port(), free_port(), ca)
    set_password(broker.password_file, LISTENER_USER, "listener-pw")
    broker.passwords[LISTENER_USER] = "listener-pw"
    for door in DOORS:
        set_password(broker.password_file, door, f"{door}-pw")
        broker.passwords[door] = f"{door}-pw"
    if (DEPLOY_MOSQUITTO / "acl").exists():
        shutil.copy(DEPLOY_MOSQUITTO / "acl", directory / "acl")
    config = directory / "mosquitto.conf"
    config.write_text(_deploy_config(broker))
    with (directory / "mosquitto.log").open("wb") as log:
        broker.process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 20
    while not _port_open(broker.plain_port):
        if broker.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"mosquitto did not start:\n{broker.log()}")
        time.sleep(0.05)
    try:
        yield broker
    finally:
        broker.process.terminate()
        broker.process.wait(10)


@dataclass
class Dashboard:
    """A ``compoundeye dashboard`` process and what a test needs to call it."""

    url: str
    tokens: dict[str, str]
    data_dir: Path
    tokens_file: Path
    env: dict[str, str]
    log_file: Path

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]


def write_site(path: Path) -> Path:
    path.write_text(yaml.safe_dump(SITE))
    return path


def child_env(services: ServiceSet, base: Path, redis_db: int,
              extra: dict[str, str] | None = None) -> dict[str, str]:
    redis_url = services.redis_url.rsplit("/", 1)[0] + f"/{redis_db}"
    return {**os.environ, **services.env_vars(), "CE_REDIS_URL": redis_url,
            "CE_DATA_DIR": str(base / "data"), "CE_TOKENS_FILE": str(base / "tokens.json"),
            "CE_DATABASE_URL": "", "PYTHONUNBUFFERED": "1", **(extra or {})}


@contextmanager
def dashboard_process(services: ServiceSet, base: Path, *, redis_db: int,
                      extra: dict[str, str] | None = None) -> Iterator[Dashboard]:
    """Start ``compoundeye dashboard`` (a real uvicorn) and wait until it answers."""
    base.mkdir(parents=True, exist_ok=True)
    site = write_site(base / "site.yaml")
    tokens = {r.value: add_token(base / "tokens.json", f"{r.value}-1", r) for r in Role}
    port = free_port()
    env = child_env(services, base, redis_db, extra)
    import redis as redis_lib

    redis_lib.Redis.from_url(env["CE_REDIS_URL"]).flushdb()
    log_file = base / "dashboard.log"
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "compoundeye.cli", "dashboard", "--site", str(site),
             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dashboard did not start: {log_file.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Dashboard(url, tokens, base / "data", base / "tokens.json", env, log_file)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def sign_in(client: httpx.Client, token: str, **headers: str) -> httpx.Response:
    return client.post("/auth/login", data={"token": token}, headers=headers,
                       follow_redirects=False)


@pytest.fixture(scope="module")
def dashboard(services: ServiceSet, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Dashboard]:
    """A dashboard with the default settings (no proxy trusted, loopback Host names)."""
    with dashboard_process(services, tmp_path_factory.mktemp("dash"), redis_db=3) as dash:
        yield dash


@pytest.fixture(scope="module")
def proxied_dashboard(services: ServiceSet, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[Dashboard]:
    """A dashboard behind a reverse proxy on loopback (CE_TRUSTED_PROXIES=127.0.0.1)."""
    with dashboard_process(services, tmp_path_factory.mktemp("proxied"), redis_db=4,
                           extra={"CE_TRUSTED_PROXIES": "127.0.0.1"}) as dash:
        yield dash
