"""The Redis and Sentinel set-up of compose and Kubernetes: the start scripts make
configurations the real redis-server and redis-sentinel accept, a restarted node joins the
current master, and every client is pointed at all three Sentinels."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from compoundeye.services import free_port
from tests.deploy.test_manifests import DEPLOY, compose, manifests
from tests.polling import wait_until

SCRIPTS = DEPLOY / "redis"
PASSWORD = "node-password-for-the-test"
SENTINEL_PASSWORD = "sentinel-password-for-the-test"


def _by_name(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def _run_script(tmp_path: Path, script: str, *, answer: str = "", **env: str) -> str:
    """Run a start script with a stand-in ``redis-cli`` (answering ``answer`` to the
    Sentinel question) and stand-in servers that print the file they were given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "redis-cli").write_text(f"#!/bin/sh\nprintf '{answer}'\n")
    for server in ("redis-server", "redis-sentinel"):
        (bin_dir / server).write_text('#!/bin/sh\ncat "$1"\n')
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    conf = tmp_path / "out.conf"
    result = subprocess.run(
        ["sh", str(SCRIPTS / script)], capture_output=True, text=True, timeout=30, check=True,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "REDIS_PASSWORD": PASSWORD,
             "SENTINEL_PASSWORD": SENTINEL_PASSWORD, "SENTINELS": "s1 s2 s3",
             "FIRST_MASTER": "node-0", "REDIS_CONF": str(conf), "SENTINEL_CONF": str(conf),
             **env})
    assert conf.stat().st_mode & 0o077 == 0  # it holds passwords
    return result.stdout


def test_a_data_node_replicates_the_current_master_or_starts_the_set(tmp_path: Path) -> None:
    first = _run_script(tmp_path, "redis-start.sh", ANNOUNCE_HOST="node-0")
    assert "replicaof" not in first  # nobody answers: node 0 starts the set
    assert f"requirepass {PASSWORD}" in first
    other = _run_script(tmp_path, "redis-start.sh", ANNOUNCE_HOST="node-1")
    assert "replicaof node-0 6379" in other
    # After a failover node 1 is master: node 0, restarted, must not come back as one.
    rejoined = _run_script(tmp_path, "redis-start.sh", answer="node-1\\n6379\\n",
                           ANNOUNCE_HOST="node-0")
    assert "replicaof node-1 6379" in rejoined
    assert "replica-announce-ip node-0" in rejoined


def test_a_sentinel_monitors_the_master_its_peers_name(tmp_path: Path) -> None:
    fresh = _run_script(tmp_path, "sentinel-start.sh", ANNOUNCE_HOST="s1")
    assert "sentinel monitor compoundeye node-0 6379 2" in fresh
    assert "sentinel down-after-milliseconds compoundeye 5000" in fresh
    later = _run_script(tmp_path, "sentinel-start.sh", answer="node-1\\n6379\\n",
                        ANNOUNCE_HOST="s2")
    assert "sentinel monitor compoundeye node-1 6379 2" in later


@pytest.mark.skipif(shutil.which("redis-sentinel") is None, reason="redis-sentinel missing")
def test_the_real_servers_accept_the_generated_configurations(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    node_conf = tmp_path / "node.conf"
    node_conf.write_text(_run_script(tmp_path, "redis-start.sh", ANNOUNCE_HOST="127.0.0.1",
                                     FIRST_MASTER="127.0.0.1", REDIS_DIR=str(data)))
    sentinel_conf = tmp_path / "sentinel.conf"
    sentinel_conf.write_text(_run_script(tmp_path, "sentinel-start.sh",
                                         ANNOUNCE_HOST="127.0.0.1", FIRST_MASTER="127.0.0.1"))
    node_port, sentinel_port = free_port(), free_port()
    node = subprocess.Popen(["redis-server", str(node_conf), "--port", str(node_port),
                             "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    sentinel = subprocess.Popen(["redis-sentinel", str(sentinel_conf), "--port",
                                 str(sentinel_port), "--bind", "127.0.0.1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        node_client = redis.Redis(port=node_port, password=PASSWORD, socket_timeout=2)
        wait_until(lambda: _pings(node_client), 20, what="redis-server with the config")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=node_port, socket_timeout=2).set("x", 1)
        sentinel_client = redis.Redis(port=sentinel_port, password=SENTINEL_PASSWORD,
                                      socket_timeout=2, decode_responses=True)
        wait_until(lambda: _pings(sentinel_client), 20, what="redis-sentinel with the config")
        master = sentinel_client.execute_command(  # type: ignore[no-untyped-call]
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "compoundeye")
        assert list(master) == ["127.0.0.1", "6379"]
    finally:
        for process in (node, sentinel):
            process.terminate()
            process.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_kubernetes_runs_two_data_nodes_and_three_sentinels_every_client_knows() -> None:
    sets = _by_name("StatefulSet")
    nodes, sentinels = sets["ce-redis"], sets["ce-redis-sentinel"]
    assert nodes["spec"]["replicas"] == 2
    assert sentinels["spec"]["replicas"] == 3
    anti = nodes["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"]  # never on one node
    env = _by_name("ConfigMap")["ce-env"]["data"]
    assert "CE_REDIS_URL" not in env  # it holds the password: from the Secret ce-redis
    listed = env["CE_REDIS_SENTINELS"].split(",")
    assert listed == [f"ce-redis-sentinel-{i}.ce-redis-sentinel:26379" for i in range(3)]
    assert env["CE_REDIS_WAIT_REPLICAS"] == "1"
    budgets = _by_name("PodDisruptionBudget")
    assert budgets["ce-redis-sentinel"]["spec"]["minAvailable"] == 2  # the quorum
    assert budgets["ce-redis"]["spec"]["maxUnavailable"] == 1
    for work in (nodes, sentinels):
        container = work["spec"]["template"]["spec"]["containers"][0]
        script = Path(container["command"][-1]).name
        assert (SCRIPTS / script).is_file()
        values = {e["name"]: e.get("value", "") for e in container["env"]}
        hosts = values["SENTINELS"].split()
        assert [h.split(".")[0] for h in hosts] == [f"ce-redis-sentinel-{i}" for i in range(3)]
        assert "memory" in container["resources"]["limits"]
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert "k8s/redis.yaml" in kustomization["resources"]
    [scripts] = [g for g in kustomization["configMapGenerator"]
                 if g["name"] == "ce-redis-scripts"]
    assert sorted(scripts["files"]) == ["redis/redis-start.sh", "redis/sentinel-start.sh"]


def test_compose_runs_the_same_set_and_points_every_service_at_it() -> None:
    services = compose()["services"]
    for name in ("redis", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"):
        assert services[name]["image"].startswith("redis:7"), name
    sentinels = [f"sentinel-{i}" for i in (1, 2, 3)]
    assert services["redis"]["environment"]["SENTINELS"].split() == sentinels
    for name, service in services.items():
        if service.get("image", "").startswith("compoundeye"):
            env = service["environment"]
            assert env["CE_REDIS_SENTINELS"] == ",".join(f"{s}:26379" for s in sentinels), name
            assert env["CE_REDIS_SENTINEL_MASTER"] == "compoundeye"
