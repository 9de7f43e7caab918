"""A private Redis primary, a replica and three Sentinels on loopback, for tests and benches.

Each process runs like the services of :mod:`compoundeye.services` (its own process group,
free port and directory). The data nodes require a password, and so do the Sentinels, as
in production. :meth:`SentinelSet.kill_primary` kills the primary with SIGKILL,
:meth:`SentinelSet.wait_for_failover` waits until the Sentinels name another master and it
answers as one, and :meth:`SentinelSet.heal` starts a killed node again as a replica of
the current master and waits until the Sentinels see a healthy set again.
:meth:`SentinelSet.cut_replica` makes the replica miss what the primary writes next (it is
stopped and its link cut), which is how a failover loses an acknowledged write.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import redis

from compoundeye.redis_client import answers_ping
from compoundeye.services import ManagedService, ServiceError, free_port
from compoundeye.settings import Settings

log = logging.getLogger(__name__)

Address = tuple[str, int]
HOST = "127.0.0.1"


@dataclass
class SentinelSet:
    """Two data nodes and three Sentinels watching them as ``master_name``."""

    master_name: str = "ce-test"
    down_after_ms: int = 1000
    failover_timeout_ms: int = 5000
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    sentinel_password: str = field(default_factory=lambda: secrets.token_urlsafe(16),
                                   repr=False)
    nodes: list[ManagedService] = field(default_factory=list, init=False)
    sentinels: list[ManagedService] = field(default_factory=list, init=False)
    _root: Path | None = field(default=None, init=False, repr=False)
    _replica_of: dict[int, int | None] = field(default_factory=dict, init=False, repr=False)
    _frozen: ManagedService | None = field(default=None, init=False, repr=False)

    # -- processes -----------------------------------------------------------------------

    def _node_command(self, svc: ManagedService) -> list[str]:
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(svc.port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(svc.workdir), "--daemonize", "no", "--protected-mode", "no",
            "--loglevel", "warning", "--requirepass", self.password,
            "--masterauth", self.password, "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0",
        ]
        upstream = self._replica_of.get(svc.port)
        if upstream is not None:
            argv += ["--replicaof", HOST, str(upstream)]
        return argv

    def _sentinel_command(self, svc: ManagedService) -> list[str]:
        config = svc.workdir / "sentinel.conf"
        if not config.exists():  # Sentinel rewrites its file: keep it across restarts
            primary = next(p for p, up in self._replica_of.items() if up is None)
            config.write_text(
                f"port {svc.port}\nbind {HOST}\nprotected-mode no\ndaemonize no\n"
                f"dir {svc.workdir}\nlogfile \"\"\nloglevel warning\n"
                f"requirepass {self.sentinel_password}\n"
                f"sentinel sentinel-pass {self.sentinel_password}\n"
                f"sentinel monitor {self.master_name} {HOST} {primary} 2\n"
                f"sentinel auth-pass {self.master_name} {self.password}\n"
                f"sentinel down-after-milliseconds {self.master_name} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.master_name} {self.failover_timeout_ms}\n"
                f"sentinel parallel-syncs {self.master_name} 1\n",
                encoding="utf-8")
            config.chmod(0o600)
        return [shutil.which("redis-sentinel") or "redis-sentinel", str(config)]

    def _node_answers(self, svc: ManagedService) -> bool:
        return answers_ping(self.node_client(svc.port))

    def _sentinel_answers(self, svc: ManagedService) -> bool:
        return answers_ping(self.sentinel_client(svc.port))

    def _make(self, kind: str, index: int, command: Callable[[ManagedService], list[str]],
              probe: Callable[[ManagedService], bool]) -> ManagedService:
        assert self._root is not None
        port = free_port()
        workdir = self._root / f"{kind}-{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        return ManagedService("redis", port, workdir, command, probe, f"redis://{HOST}:{port}")

    def start(self, timeout: float = 60.0) -> SentinelSet:
        """Start the primary, the replica and the Sentinels; wait until they agree."""
        if self._root is not None:
            return self
        self._root = Path(tempfile.mkdtemp(prefix="compoundeye-sentinel-"))
        self._root.chmod(0o700)
        try:
            primary = self._make("node", 0, self._node_command, self._node_answers)
            replica = self._make("node", 1, self._node_command, self._node_answers)
            self._replica_of = {primary.port: None, replica.port: primary.port}
            self.nodes = [primary, replica]
            for node in self.nodes:
                node.start()
            self.sentinels = [self._make("sentinel", i, self._sentinel_command,
                                         self._sentinel_answers) for i in range(3)]
            for sentinel in self.sentinels:
                sentinel.start()
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process and remove the directories."""
        for svc in [*self.sentinels, *self.nodes]:
            try:
                svc.stop()
            except Exception:  # keep stopping the others
                log.exception("stopping %s failed", svc.url)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> SentinelSet:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- clients and settings ------------------------------------------------------------

    def node_client(self, port: int, timeout: float = 1.0) -> redis.Redis:
        return redis.Redis(host=HOST, port=port, password=self.password,
                           socket_timeout=timeout, socket_connect_timeout=timeout)

    def sentinel_client(self, port: int, timeout: float = 1.0) -> redis.Redis:
        return redis.Redis(host=HOST, port=port, password=self.sentinel_password,
                           socket_timeout=timeout, socket_connect_timeout=timeout,
                           decode_responses=True)

    def env_vars(self) -> dict[str, str]:
        """``CE_*`` variables pointing a service at this set through the Sentinels."""
        return {
            "CE_REDIS_SENTINELS": ",".join(f"{HOST}:{s.port}" for s in self.sentinels),
            "CE_REDIS_SENTINEL_MASTER": self.master_name,
            "CE_REDIS_SENTINEL_PASSWORD": self.sentinel_password,
            # Only the password and the database count: Sentinel names the host.
            "CE_REDIS_URL": f"redis://:{self.password}@sentinel-managed:6379/0",
        }

    def settings(self, **overrides: Any) -> Settings:
        """Settings for in-process services, with ``overrides`` (data dir, ...)."""
        values: dict[str, Any] = {k[3:].lower(): v for k, v in self.env_vars().items()}
        values.update(overrides)
        return Settings(**values)

    # -- state ---------------------------------------------------------------------------

    def master_address(self) -> Address | None:
        """The master most live Sentinels name (None when none answers)."""
        votes: dict[Address, int] = {}
        for svc in self.sentinels:
            if not svc.running:
                continue
            client = self.sentinel_client(svc.port)
            try:
                reply = command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                               self.master_name)
            except redis.RedisError:
                continue
            finally:
                client.close()
            if reply:
                address = (str(reply[0]), int(reply[1]))
                votes[address] = votes.get(address, 0) + 1
        if not votes:
            return None
        return max(votes, key=lambda a: votes[a])

    def node(self, port: int) -> ManagedService:
        return next(n for n in self.nodes if n.port == port)

    def primary(self) -> ManagedService:
        """The data node the Sentinels name master."""
        address = self.master_address()
        if address is None:
            raise ServiceError("no Sentinel names a master")
        return self.node(address[1])

    def replica(self) -> ManagedService:
        primary = self.primary()
        return next(n for n in self.nodes if n is not primary)

    def _role(self, port: int) -> dict[str, Any]:
        client = self.node_client(port)
        try:
            return dict(client.info("replication"))
        except redis.RedisError:
            return {}
        finally:
            client.close()

    def _sentinel_view_healthy(self, port: int, master: Address) -> bool:
        client = self.sentinel_client(port)
        try:
            replicas = command(client, "SENTINEL", "REPLICAS", self.master_name)
            others = command(client, "SENTINEL", "SENTINELS", self.master_name)
            named = command(client, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                           self.master_name)
        except redis.RedisError:
            return False
        finally:
            client.close()
        if not named or (str(named[0]), int(named[1])) != master:
            return False
        good = [r for r in map(_pairs, replicas)
                if "s_down" not in r.get("flags", "") and "disconnected" not in r.get("flags", "")
                and r.get("master-link-status") == "ok"]
        return bool(good) and len(others) >= 2

    def healthy(self) -> bool:
        """A master, a linked replica, and every Sentinel seeing both and the others."""
        address = self.master_address()
        if address is None or not all(n.running for n in self.nodes):
            return False
        if self._role(address[1]).get("role") != "master":
            return False
        replica = next(n for n in self.nodes if n.port != address[1])
        if self._role(replica.port).get("master_link_status") != "up":
            return False
        return all(self._sentinel_view_healthy(s.port, address) for s in self.sentinels)

    def wait_healthy(self, timeout: float = 60.0) -> None:
        _wait(self.healthy, timeout, "a healthy primary, replica and Sentinels",
              lambda: "\n".join(s.log_tail(5) for s in self.sentinels))

    # -- faults ----------------------------------------------------------------------------

    def kill_primary(self) -> ManagedService:
        """SIGKILL the current primary (its process group); returns it."""
        victim = self.primary()
        process = victim.process
        assert process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        victim.process = None
        log.info("killed the primary on port %d", victim.port)
        return victim

    def wait_for_failover(self, old_port: int, timeout: float = 30.0) -> Address:
        """Wait until the Sentinels name another master that answers as one."""
        def promoted() -> Address | None:
            address = self.master_address()
            if address is None or address[1] == old_port:
                return None
            return address if self._role(address[1]).get("role") == "master" else None
        found: Address = _wait(promoted, timeout, "a failover",
                               lambda: "\n".join(s.log_tail(10) for s in self.sentinels))
        return found

    def heal(self, timeout: float = 60.0) -> None:
        """Start dead nodes as replicas of the current master; wait for a healthy set."""
        self.thaw_replica()
        address = self.master_address()
        if address is None:
            raise ServiceError("no Sentinel names a master")
        for node in self.nodes:
            if not node.running:
                self._replica_of[node.port] = address[1]
                node.start()
        self.wait_healthy(timeout)

    def cut_replica(self) -> ManagedService:
        """Make the replica miss the primary's next writes: stop it (SIGSTOP) and cut its
        link on the primary's side, so nothing more reaches it until :meth:`thaw_replica`."""
        replica, primary = self.replica(), self.primary()
        assert replica.process is not None
        os.killpg(replica.process.pid, signal.SIGSTOP)
        client = self.node_client(primary.port)
        try:
            command(client, "CLIENT", "KILL", "TYPE", "replica")
        finally:
            client.close()
        self._frozen = replica
        return replica

    def thaw_replica(self) -> None:
        """Let a replica stopped by :meth:`cut_replica` run again."""
        frozen = self._frozen
        if frozen is not None and frozen.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(frozen.process.pid, signal.SIGCONT)
        self._frozen = None


def command(client: redis.Redis, *args: Any) -> Any:
    """One raw command (Sentinel's replies are read as they come)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _pairs(flat: Any) -> dict[str, str]:
    """A Sentinel reply of alternating names and values, as a dict."""
    if isinstance(flat, dict):
        return {str(k): str(v) for k, v in flat.items()}
    items = list(flat)
    return {str(items[i]): str(items[i + 1]) for i in range(0, len(items) - 1, 2)}



def _wait(check: Callable[[], Any], timeout: float, what: str,
          detail: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ServiceError(f"not within {timeout:g} s: {what}\n{detail()}")
        time.sleep(0.1)

