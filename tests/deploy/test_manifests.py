"""deploy/: Docker cannot run here, so the compose file, the Kubernetes manifests, the scrape and log-shipping
configuration and the image are checked by reading them: each process is started through one of the
`python -m workers` entry points with arguments that entry point accepts, secrets come from references, and
every name one file points at exists in the other."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

from sfpserver.monitoring.logs import JsonFormatter
from workers.__main__ import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROCESSES = {"api", "standard", "long-running", "scheduler", "flower"}
SECRET_SETTINGS = ("DATABASE_URL", "REDIS_URL", "VAULT_KEYS")


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def entry_point(argv: list[str]) -> str:
    """The `python -m workers` sub-command an argv starts, checked against the real argument parser."""
    assert argv[:3] == ["python", "-m", "workers"], argv
    return str(build_parser().parse_args(argv[3:]).command)


# --- compose ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(DEPLOY / "compose.yaml")[0]


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("build")}


def test_compose_runs_every_platform_process_and_its_backing_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= PROCESSES | {"postgres", "redis", "victoriametrics", "victorialogs"}
    for name, service in app_services(compose).items():
        if name == "migrate":
            assert service["command"] == ["python", "manage.py", "migrate", "--no-input"]
        else:
            assert entry_point(service["command"]) == name


def test_compose_scales_the_standard_pool_with_worker_count(compose: dict[str, Any]) -> None:
    standard = compose["services"]["standard"]
    assert standard["deploy"]["replicas"] == "${WORKER_COUNT:-2}"
    assert standard["command"][-2:] == ["--count", "1"]  # one node per container; containers are the replicas
    assert build_parser().parse_args(standard["command"][3:]).count == 1


def test_compose_gives_every_process_its_secrets_by_reference_and_waits_for_migrations(
    compose: dict[str, Any],
) -> None:
    for name, service in app_services(compose).items():
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://") and environment["REDIS_URL"].startswith("redis://")
        assert environment["VAULT_KEYS_FILE"] == "/run/secrets/vault_keys"
        assert environment["DJANGO_SECRET_KEY_FILE"] == "/run/secrets/django_secret_key"
        assert set(service["secrets"]) <= set(compose["secrets"])
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_mounts_configuration_files_that_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), source


# --- Kubernetes -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kustomization = load(DEPLOY / "k8s" / "kustomization.yaml")[0]
    return [doc for resource in kustomization["resources"] for doc in load(DEPLOY / "k8s" / resource)]


def of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests if doc["kind"] == kind}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    [only] = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def test_kubernetes_runs_each_process_in_its_own_deployment(manifests: list[dict[str, Any]]) -> None:
    deployments = of_kind(manifests, "Deployment")
    started = {entry_point(container(d)["args"]): name for name, d in deployments.items()}
    assert set(started) == PROCESSES
    assert deployments[started["scheduler"]]["spec"]["replicas"] == 1
    for deployment in deployments.values():
        assert "command" not in container(deployment)  # keeps the image's tini entrypoint


def test_kubernetes_takes_secrets_from_the_secret_and_settings_from_the_config_map(
    manifests: list[dict[str, Any]],
) -> None:
    config_maps = of_kind(manifests, "ConfigMap")
    workloads = [*of_kind(manifests, "Deployment").values(), *of_kind(manifests, "Job").values()]
    for workload in workloads:
        spec = container(workload)
        references = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in spec["env"] if "valueFrom" in e}
        for setting in SECRET_SETTINGS:
            assert references[setting] == {"name": "sfp-secrets", "key": setting}
        assert all("value" not in e for e in spec["env"])  # no literal values beside the references
        assert [ref["configMapRef"]["name"] for ref in spec["envFrom"]] == ["sfp-config"]
    assert "sfp-config" in config_maps
    assert not set(config_maps["sfp-config"]["data"]) & set(SECRET_SETTINGS)


def test_every_service_selects_pods_of_a_deployment_on_a_port_they_name(manifests: list[dict[str, Any]]) -> None:
    deployments = of_kind(manifests, "Deployment").values()
    for service in of_kind(manifests, "Service").values():
        selector = service["spec"]["selector"].items()
        [target] = [d for d in deployments if selector <= d["spec"]["template"]["metadata"]["labels"].items()]
        ports = {p["name"] for p in container(target)["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_the_autoscaler_scales_the_standard_pool_on_a_metric_that_metrics_exposes(
    manifests: list[dict[str, Any]], db_access: None, client: Any
) -> None:
    [hpa] = of_kind(manifests, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] in of_kind(manifests, "Deployment")
    assert container(of_kind(manifests, "Deployment")[hpa["spec"]["scaleTargetRef"]["name"]])["args"][3] == "standard"
    [metric] = hpa["spec"]["metrics"]
    name, labels = metric["external"]["metric"]["name"], metric["external"]["metric"]["selector"]["matchLabels"]
    text = client.get("/metrics").content.decode()
    matcher = ",".join(f'{key}="{value}"' for key, value in labels.items())
    assert re.search(rf"^{name}\{{{matcher}\}} \d+$", text, re.MULTILINE), (name, labels)


# --- scraping and log shipping ------------------------------------------------------------------------------


def test_victoriametrics_scrapes_the_api_and_flower_where_compose_and_kubernetes_serve_them(
    compose: dict[str, Any], manifests: list[dict[str, Any]]
) -> None:
    exposed = {
        f"{name}:{port.split(':')[-1]}" for name, s in compose["services"].items() for port in s.get("ports", [])
    }
    exposed |= {f"{name}:{cmd[cmd.index('--port') + 1]}" for name, s in app_services(compose).items()
                if "--port" in (cmd := s["command"])}  # fmt: skip
    services = {
        f"{name}.sfp.svc:{p['port']}" for name, s in of_kind(manifests, "Service").items() for p in s["spec"]["ports"]
    }
    for path, served in (("scrape.yaml", exposed), ("scrape-k8s.yaml", services)):
        jobs = load(DEPLOY / "victoriametrics" / path)[0]["scrape_configs"]
        assert {job["job_name"] for job in jobs} == {"sfp-server", "flower"}
        for job in jobs:
            assert job["metrics_path"] == "/metrics"
            assert {t for c in job["static_configs"] for t in c["targets"]} <= served, path


def test_vector_ships_the_fields_the_json_log_lines_have() -> None:
    record = logging.LogRecord("sfpserver.engine.runtime", logging.INFO, __file__, 1, "step completed", None, None)
    fields = set(json.loads(JsonFormatter().format(record)))
    for path in ("vector.yaml", "vector-k8s.yaml"):
        sink = load(DEPLOY / "vector" / path)[0]["sinks"]["victorialogs"]
        assert {sink["query"]["_msg_field"], sink["query"]["_time_field"]} <= fields
        assert sink["endpoints"][0].endswith(":9428/insert/elasticsearch/")


# --- the image and the update sequence --------------------------------------------------------------------


def test_the_image_installs_the_requirements_the_sfp_cli_when_declared_and_starts_an_entry_point() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "pip install --requirement requirements.txt" in dockerfile
    assert "if [ -f package.json ]" in dockerfile  # an image without package.json still builds
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert entry_point(json.loads(cmd)) == "api"
    assert re.search(r"^USER sfp$", dockerfile, re.MULTILINE)


def test_the_update_script_is_valid_shell_and_uses_commands_that_exist() -> None:
    script = DEPLOY / "update.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "manage drain --timeout" in text and "manage resume" in text
    assert {"drain", "resume"} <= set(get_commands())
    makefile = (DEPLOY.parent / "Makefile").read_text()
    assert "deploy/update.sh $(DEPLOY)" in makefile
