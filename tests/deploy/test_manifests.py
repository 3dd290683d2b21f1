"""deploy/: Docker cannot run here, so the compose file, the Kubernetes manifests, the scrape and log-shipping
configuration and the image are checked by reading them: each process is started through one of the
`python -m workers` entry points with arguments that entry point accepts, secrets come from references (each
process only the ones it uses: no vault key outside the API), only the API is published on all interfaces,
and every name one file points at exists in the other."""

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
# What each process may hold, and nothing more (deploy/README.md, "Secrets").
SECRETS = {
    "api": {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "VAULT_KEYS", "METRICS_TOKEN"},
    "standard": {"DATABASE_URL", "REDIS_URL", "VAULT_LEASE_TOKEN"},
    "long-running": {"DATABASE_URL", "REDIS_URL", "VAULT_LEASE_TOKEN"},
    "scheduler": {"DATABASE_URL", "REDIS_URL"},
    "flower": {"REDIS_URL", "FLOWER_BASIC_AUTH"},
    "migrate": {"DATABASE_URL"},
}
WORKERS = ("standard", "long-running")
MIGRATE = ["python", "manage.py", "migrate", "--no-input", "--skip-checks"]


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
            assert service["command"] == MIGRATE
        else:
            assert entry_point(service["command"]) == name


def test_compose_scales_the_standard_pool_with_worker_count(compose: dict[str, Any]) -> None:
    standard = compose["services"]["standard"]
    assert standard["deploy"]["replicas"] == "${WORKER_COUNT:-2}"
    assert standard["command"][-2:] == ["--count", "1"]  # one node per container; containers are the replicas
    assert build_parser().parse_args(standard["command"][3:]).count == 1


def compose_secrets(compose: dict[str, Any], service: dict[str, Any]) -> set[str]:
    """The settings a compose service is given as secrets: NAME_FILE pointing at one of its Docker secrets."""
    environment, mounted = service.get("environment", {}), set(service.get("secrets", []))
    found = set()
    for key, value in environment.items():
        if key.endswith("_FILE"):
            secret = value.removeprefix("/run/secrets/")
            assert secret in mounted and secret in compose["secrets"], (key, value)
            found.add(key.removesuffix("_FILE"))
    return found


def test_each_compose_process_is_given_only_the_secrets_it_uses_and_waits_for_migrations(
    compose: dict[str, Any],
) -> None:
    services = app_services(compose)
    assert set(services) == set(SECRETS)
    for name, service in services.items():
        # compose's Redis is on the compose network only and has no password: its URL is no secret there
        assert compose_secrets(compose, service) == SECRETS[name] - {"REDIS_URL"}, name
        file_settings = {k.removesuffix("_FILE") for k in service.get("environment", {}) if k.endswith("_FILE")}
        assert set(service["secrets"]) == {
            service["environment"][f"{setting}_FILE"].removeprefix("/run/secrets/") for setting in file_settings
        }, name  # no secret mounted that no setting reads
        assert not {"DATABASE_URL", "DJANGO_SECRET_KEY", "VAULT_KEYS", "METRICS_TOKEN"} & set(service["environment"])
        if name not in ("migrate", "flower"):
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_compose_workers_lease_over_http_and_hold_no_vault_key(compose: dict[str, Any]) -> None:
    for name in WORKERS:
        environment = compose["services"][name]["environment"]
        assert not {"VAULT_KEYS", "VAULT_KEYS_FILE"} & set(environment)
        assert environment["VAULT_LEASE_URL"] == "http://api:8000/sfp/api"
        assert environment["VAULT_LEASE_TOKEN_FILE"] == "/run/secrets/vault_lease_token"
    assert compose["services"]["api"]["environment"]["VAULT_REQUIRE_KEYS"] == "true"
    assert compose["services"]["api"]["environment"]["VAULT_LEASE_ENDPOINT"] == "true"  # else it answers 404


def test_compose_publishes_only_the_api_on_all_interfaces(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"api", "flower", "victoriametrics", "victorialogs"}
    for name, ports in published.items():
        for port in ports:
            if name == "api":
                assert port == "${API_PORT:-8000}:8000"
            else:
                assert port.startswith("127.0.0.1:"), (name, port)


def test_compose_requires_the_metrics_token_and_flower_login(compose: dict[str, Any]) -> None:
    api, flower = compose["services"]["api"], compose["services"]["flower"]
    assert api["environment"]["METRICS_TOKEN_FILE"] == "/run/secrets/metrics_token"
    assert flower["environment"]["FLOWER_BASIC_AUTH_FILE"] == "/run/secrets/flower_basic_auth"
    assert "metrics_token" in compose["services"]["victoriametrics"]["secrets"]
    [api_job] = [
        j
        for j in load(DEPLOY / "victoriametrics" / "scrape.yaml")[0]["scrape_configs"]
        if j["job_name"] == "sfp-server"
    ]
    assert api_job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}


def test_compose_runs_the_real_sfp_cli(compose: dict[str, Any]) -> None:
    for name in ("api", *WORKERS, "scheduler"):
        assert compose["services"][name]["environment"]["SFP_CLI"] == "real"


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


def test_kubernetes_gives_each_pod_only_the_secret_keys_it_uses_and_settings_from_the_config_map(
    manifests: list[dict[str, Any]],
) -> None:
    config_maps = of_kind(manifests, "ConfigMap")
    workloads = [*of_kind(manifests, "Deployment").values(), *of_kind(manifests, "Job").values()]
    assert {w["metadata"]["labels"]["app.kubernetes.io/component"] for w in workloads} == set(SECRETS)
    for workload in workloads:
        spec = container(workload)
        references = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in spec["env"] if "valueFrom" in e}
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        assert set(references) == SECRETS[component], component
        for setting, reference in references.items():
            assert reference == {"name": "sfp-secrets", "key": setting}  # required: never `optional`
        assert all("value" not in e for e in spec["env"])  # no literal values beside the references
        assert [ref["configMapRef"]["name"] for ref in spec["envFrom"]] == ["sfp-config"]
    assert "sfp-config" in config_maps
    data = config_maps["sfp-config"]["data"]
    assert not set(data) & set().union(*SECRETS.values())
    assert data["SFP_CLI"] == "real"
    assert data["VAULT_LEASE_URL"] == "http://sfp-api:8000/sfp/api"
    assert data["VAULT_LEASE_ENDPOINT"] == "true"
    assert of_kind(manifests, "Service")["sfp-api"]["spec"]["ports"][0]["port"] == 8000


def test_kubernetes_services_are_cluster_internal(manifests: list[dict[str, Any]]) -> None:
    for service in of_kind(manifests, "Service").values():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP"


def test_the_example_secret_names_every_key_a_pod_reads() -> None:
    [example] = load(DEPLOY / "k8s" / "secret.example.yaml")
    assert set(example["stringData"]) == set().union(*SECRETS.values())
    assert example["stringData"]["METRICS_TOKEN"]


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


def test_the_image_installs_the_requirements_and_the_pinned_sfp_cli_and_starts_an_entry_point() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert "pip install --requirement requirements.txt" in dockerfile
    assert "COPY tasks/sfp/npm/package.json tasks/sfp/npm/package-lock.json ./" in dockerfile
    assert re.search(r"^RUN npm ci ", dockerfile, re.MULTILINE)  # exactly the lock file's versions
    [workdir] = re.findall(r"^WORKDIR (/opt/\S+)$", dockerfile, re.MULTILINE)
    assert re.search(rf"SFP_BIN={workdir}/node_modules/\.bin/sfp\b", dockerfile)
    assert re.search(r"^\s+SFP_CLI=real \\$", dockerfile, re.MULTILINE)
    assert (DEPLOY.parent / "tasks" / "sfp" / "npm" / "package-lock.json").is_file()
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert entry_point(json.loads(cmd)) == "api"
    assert re.search(r"^USER sfp$", dockerfile, re.MULTILINE)
    code = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"SECRET|TOKEN|VAULT_KEYS=", code)  # no secret baked into the image


def test_the_update_script_is_valid_shell_and_uses_commands_that_exist() -> None:
    script = DEPLOY / "update.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "manage drain --timeout" in text and "manage resume" in text
    assert {"drain", "resume"} <= set(get_commands())
    makefile = (DEPLOY.parent / "Makefile").read_text()
    assert "deploy/update.sh $(DEPLOY)" in makefile
