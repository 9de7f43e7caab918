"""Compose and Kubernetes files: they parse, validate against the Kubernetes API schemas,
hang together, are sized from the measured figures, and run commands the CLI accepts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from compoundeye.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"

# kind -> apiVersion of every kind used; an unexpected kind fails the test.
API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Service": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
}
DOCUMENTED_SECRETS = {"ce-database", "ce-redis"}  # created by the operator, see k8s/env.yaml
K8S_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests promise to fit (kubernetes-validate bundles the
OpenAPI schemas of every release; 1.30 is the oldest still maintained by most providers)."""


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return document


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def parse_cli(argv: list[str]) -> Any:
    """Parse a command line with the real ``compoundeye`` parser (exits on a bad flag)."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"compoundeye rejects {argv}") from exc


def test_every_yaml_file_parses() -> None:
    files = [p for p in DEPLOY.rglob("*.y*ml") if "site" not in p.parts]
    assert len(files) >= 10
    for path in files:
        assert list(yaml.safe_load_all(path.read_text())), path


def test_compose_has_every_service_and_valid_commands() -> None:
    services = compose()["services"]
    for name in ("redis", "mosquitto", "victoriametrics", "postgres", "doors", "alerts",
                 "dashboard", "grafana"):
        assert name in services, name
    assert services["alerts"]["deploy"]["replicas"] == 2
    shards = []
    for name, service in services.items():
        if service.get("image", "").startswith("compoundeye"):
            args = parse_cli(service["command"])
            assert args.site == Path("/etc/compoundeye/compound.yaml"), name
            env = service["environment"]
            assert env["CE_DATA_DIR"] == "/data"
            assert {"CE_REDIS_URL", "CE_MQTT_URL", "CE_TSDB_URL", "CE_DATABASE_URL"} <= set(env)
            assert "data:/data" in service["volumes"]
            assert "./site:/etc/compoundeye:ro" in service["volumes"]
            if args.command == "edge":
                shards.append(args.shard)
                assert args.doors is False  # the doors service owns the MQTT session
    count = len(shards)
    assert count >= 2
    assert sorted(shards) == [(i, count) for i in range(count)]


def test_compose_volumes_and_files_exist() -> None:
    document = compose()
    declared = set(document["volumes"])
    for name, service in document["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
            else:
                assert source in declared, f"{name}: {source}"
    assert (DEPLOY / "Dockerfile").is_file()


def test_compose_config_validates_when_a_compose_client_exists() -> None:
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.skip("no docker compose client on this machine (structure checked above)")
    result = subprocess.run([*command, "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def validate_schema(doc: dict[str, Any], version: str = K8S_VERSION) -> None:
    """Validate one resource against the Kubernetes API schema, strictly (unknown fields
    are errors). Raises ``kubernetes_validate.ValidationError``."""
    import kubernetes_validate

    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", [K8S_VERSION, "latest"])
def test_every_manifest_validates_against_the_kubernetes_api_schema(version: str) -> None:
    import kubernetes_validate

    wanted = kubernetes_validate.latest_version() if version == "latest" else version
    docs = manifests()
    assert len(docs) >= 9
    for doc in docs:
        validate_schema(doc, wanted)


def test_the_schema_check_rejects_what_kubernetes_would() -> None:
    import kubernetes_validate

    edge = next(w for w in manifests() if w["kind"] == "StatefulSet")
    typo = json.loads(json.dumps(edge))
    typo["spec"]["template"]["spec"]["containers"][0]["resource"] = {}  # "resources"
    wrong_type = json.loads(json.dumps(edge))
    wrong_type["spec"]["replicas"] = "twelve"
    missing = json.loads(json.dumps(edge))
    del missing["spec"]["template"]["spec"]["containers"][0]["name"]
    for broken in (typo, wrong_type, missing):
        with pytest.raises(kubernetes_validate.ValidationError):
            validate_schema(broken)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_the_rendered_kustomization_validates_too() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["kind"] for d in docs} >= {"StatefulSet", "Deployment", "ConfigMap"}
    for doc in docs:
        validate_schema(doc)


def test_every_manifest_has_kind_api_version_and_names() -> None:
    docs = manifests()
    kinds = [d["kind"] for d in docs]
    assert {"StatefulSet", "Deployment", "Service", "PersistentVolumeClaim", "ConfigMap"} <= set(
        kinds)
    for doc in docs:
        assert doc["apiVersion"] == API_VERSIONS[doc["kind"]], doc["kind"]
        metadata = doc["metadata"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", metadata["name"])
        if doc["kind"] != "Namespace":
            assert metadata["namespace"] == "compoundeye"


def all_workloads() -> list[dict[str, Any]]:
    return [d for d in manifests() if d["kind"] in ("Deployment", "StatefulSet")]


def workloads() -> list[dict[str, Any]]:
    """The compoundeye processes (Redis and its Sentinels: tests/deploy/test_redis.py)."""
    return [w for w in all_workloads() if _image(w).startswith("compoundeye:")]


def _image(work: dict[str, Any]) -> str:
    image: str = work["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_workloads_are_consistent() -> None:
    docs = manifests()
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    for work in workloads():
        spec = work["spec"]
        template = spec["template"]
        labels = template["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        pod = template["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            assert container["image"].startswith("compoundeye:")
            assert "memory" in container["resources"]["limits"]
            for mount in container["volumeMounts"]:
                assert mount["name"] in volumes
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/etc/compoundeye", "/data"} <= mounts
            assert container["envFrom"] == [{"configMapRef": {"name": "ce-env"}}]
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in DOCUMENTED_SECRETS
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in names
            elif "configMap" in volume:
                assert volume["configMap"]["name"] == "ce-site"  # made by kustomize
        if work["kind"] == "StatefulSet":
            headless = services[spec["serviceName"]]
            assert headless["spec"]["clusterIP"] == "None"
            assert headless["spec"]["selector"].items() <= labels.items()
    for service in services.values():
        selected = [w for w in all_workloads() if service["spec"]["selector"].items()
                    <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert selected, service["metadata"]["name"]
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def container_argv(work: dict[str, Any]) -> list[str]:
    container = work["spec"]["template"]["spec"]["containers"][0]
    return [*container.get("command", []), *container.get("args", [])]


def test_deployment_commands_are_valid() -> None:
    by_name = {w["metadata"]["name"]: w for w in workloads()}
    assert by_name["ce-alerts"]["spec"]["replicas"] >= 2
    assert by_name["ce-doors"]["spec"]["replicas"] == 1
    assert by_name["ce-doors"]["spec"]["strategy"]["type"] == "Recreate"
    for name in ("ce-alerts", "ce-doors", "ce-dashboard"):
        args = parse_cli(container_argv(by_name[name]))
        assert args.site == Path("/etc/compoundeye/compound.yaml")
    assert parse_cli(container_argv(by_name["ce-dashboard"])).host == "0.0.0.0"


def test_edge_shard_comes_from_the_pod_ordinal(tmp_path: Path) -> None:
    edge = next(w for w in workloads() if w["kind"] == "StatefulSet")
    replicas = edge["spec"]["replicas"]
    container = edge["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert int(env["CE_SHARDS"]) == replicas
    # Run the container's shell command with a stand-in `compoundeye` that prints its argv.
    fake = tmp_path / "compoundeye"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    seen = set()
    for ordinal in range(replicas):
        hostname = f"{edge['metadata']['name']}-{ordinal}"
        result = subprocess.run(
            container["command"] + container["args"], capture_output=True, text=True, check=True,
            env={**os.environ, **env, "HOSTNAME": hostname,
                 "PATH": f"{tmp_path}:{os.environ['PATH']}"}, timeout=10)
        args = parse_cli(result.stdout.splitlines())
        assert args.command == "edge"
        assert args.shard == (ordinal, replicas)
        assert args.worker_id == hostname
        seen.add(args.shard)
    assert len(seen) == replicas


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds_with_the_site_configmap() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    site = next(d for d in docs if d["kind"] == "ConfigMap"
                and d["metadata"]["name"].startswith("ce-site-"))
    assert set(site["data"]) == {"compound.yaml", "cameras.csv"}
    assert sum(len(v.encode()) for v in site["data"].values()) < 1024 * 1024
    for work in (d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
                 and _image(d).startswith("compoundeye:")):
        volumes = work["spec"]["template"]["spec"]["volumes"]
        refs = [v["configMap"]["name"] for v in volumes if "configMap" in v]
        assert refs == [site["metadata"]["name"]]  # references follow the hashed name


def _cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_edge_requests_cover_the_busiest_shard_from_the_measured_figures() -> None:
    from compoundeye.site import load_site
    from deploy import capacity

    figures = capacity.Figures.load()
    sources = json.loads(capacity.FIGURES.read_text())
    for name in capacity.Figures.__dataclass_fields__:
        assert sources[name]["source"], name  # every figure says where it was measured
    edge = next(w for w in workloads() if w["kind"] == "StatefulSet")
    replicas = edge["spec"]["replicas"]
    requests = edge["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    site = load_site(DEPLOY / "site" / "compound.yaml")
    moment, needs = capacity.busiest(site, replicas, figures)
    assert sum(n.full + n.health for n in needs) == len(site.cameras)
    assert sum(n.full for n in needs) == sum(site.needs_full_rate(c, moment)
                                             for c in site.cameras)
    top_cores = max(n.cores for n in needs)
    top_memory = max(n.memory_mb for n in needs)
    # Covered, and not padded beyond rounding up to the next core / GiB.
    assert top_cores <= _cores(requests["cpu"]) < top_cores + 1
    assert top_memory <= _mib(requests["memory"]) < top_memory + 1024
    # The busiest moment is at night, when the armed schedules put cameras at full rate.
    assert site.schedule_active("night", moment)
    _, day = capacity.quietest(site, replicas, figures)
    assert sum(n.cores for n in day) < 0.75 * sum(n.cores for n in needs)


def test_control_plane_requests_cover_the_scale_bench_figures() -> None:
    from deploy import capacity

    figures = capacity.ControlPlane.load()
    sources = json.loads(capacity.FIGURES.read_text())
    for name in capacity.ControlPlane.__dataclass_fields__:
        assert sources[name]["source"], name  # every figure says where it was measured
    needs = capacity.control_plane_needs(figures)
    by_name = {w["metadata"]["name"]: w for w in workloads()}
    assert set(needs) <= set(by_name)
    for workload, (cores, memory) in needs.items():
        resources = by_name[workload]["spec"]["template"]["spec"]["containers"][0]["resources"]
        requests, limits = resources["requests"], resources["limits"]
        # Covered, and not padded beyond rounding up to the next 100m / 128 MiB.
        assert cores <= _cores(requests["cpu"]) < cores + 0.1, workload
        assert memory <= _mib(requests["memory"]) < memory + 128, workload
        assert _mib(limits["memory"]) >= 2 * _mib(requests["memory"]), workload
        assert "cpu" not in limits, workload  # a CPU limit throttles a backlog's catch-up
