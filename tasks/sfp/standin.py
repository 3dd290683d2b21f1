"""A Salesforce stand-in: accepts the org-bound sfp command lines the workflows use and reproduces the CLI's
observable contract without reaching Salesforce (selected with SFP_CLI=standin; run as
`python -m tasks.sfp.standin <sfp arguments>`).

What it reproduces (reference/sfp-domain.md §5): the banner; `org login url` reading the auth URL from
stdin or a file and remembering the alias in $HOME (never the secret); `NamedOrgNotFoundError` for an alias
that was not logged in; the `Installing: i/N  pkg` groups, `Deploying to … with id:…`, `Status: … Progress:
x/y` polling lines and summaries; `.sfpowerscripts/logs/metrics.log` NDJSON; `buildResult.json`; artifacts;
`.testresults/` JUnit; `.sfpowerscripts/outputs/*.md`; exit codes (1 on failure, 0 for a pool at capacity,
2 for a usage error); SIGTERM during `apextests trigger` cancels the test run and exits.

Slow and failing cases on request, through SFP_STANDIN_SIMULATE (JSON, chosen for the step by the runner):
`seconds` (how long the work takes), `fail_attempts` (fail while SFP_STANDIN_ATTEMPT < n), `fail` (always),
`exit_code`, `message`, `failed_packages` (names), `capacity` ("MaxCapacity" | "NoCapacity"),
`nothing_changed` (build --diffcheck finds nothing); and, to prove the worker's defences, a careless CLI:
`leak_env` (print these environment variables), `leak_stdin` (print the auth URL it was given) and
`grandchild` (start a child that ignores SIGTERM, so stopping must kill the whole process group).

No Django, no network: a plain program, like the CLI it stands in for.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

VERSION = "39.2.2"
AUTH_URL = re.compile(r"^force://[^:@\s/]+:[^:@\s]*:[^@\s]+@(?P<host>[A-Za-z0-9.-]+(:\d+)?)/?$")
METRICS = Path(".sfpowerscripts") / "logs" / "metrics.log"
OUTPUTS = Path(".sfpowerscripts") / "outputs"


class Usage(Exception):
    """A usage error: exit code 2, as oclif does."""


class Failed(Exception):
    """The command failed: exit code 1 (or the simulated code)."""


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def banner() -> None:
    say("-" * 90)
    say(f"sfp  -- Salesforce stand-in (no org is contacted) -Version:{VERSION} -Release:standin")
    say("-" * 90)


# --- arguments, simulation, metrics ------------------------------------------------------------------------


def parse(args: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    words: list[str] = []
    flags: dict[str, list[str]] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("-") and arg != "-":
            name, _, inline = arg.lstrip("-").partition("=")
            if inline:
                flags.setdefault(name, []).append(inline)
            elif index + 1 < len(args) and (not args[index + 1].startswith("-") or args[index + 1] == "-"):
                flags.setdefault(name, []).append(args[index + 1])
                index += 1
            else:
                flags.setdefault(name, []).append("true")
        elif not flags:
            words.append(arg)
        index += 1
    return words, flags


def flag(flags: dict[str, list[str]], *names: str, default: str | None = None) -> str | None:
    for name in names:
        if name in flags:
            return flags[name][-1]
    return default


def simulation() -> dict[str, Any]:
    try:
        value = json.loads(os.environ.get("SFP_STANDIN_SIMULATE") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def attempt() -> int:
    try:
        return int(os.environ.get("SFP_STANDIN_ATTEMPT", "0"))
    except ValueError:
        return 0


def should_fail(sim: dict[str, Any]) -> bool:
    return bool(sim.get("fail")) or attempt() < int(sim.get("fail_attempts") or 0)


def metric(name: str, kind: str, value: float | None = None, **tags: Any) -> None:
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    event: dict[str, Any] = {"metric": f"sfpowerscripts.{name}", "type": kind, "timestamp": int(time.time() * 1000)}
    if value is not None:
        event["value"] = value
    event["tags"] = tags
    with METRICS.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")


def output(name: str, text: str) -> None:
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    (OUTPUTS / name).write_text(text, encoding="utf-8")


def pause(sim: dict[str, Any], share: float) -> None:
    seconds = float(sim.get("seconds") or 0)
    if seconds > 0:
        time.sleep(seconds * share)


def elapsed(started: float) -> str:
    millis = int((time.monotonic() - started) * 1000)
    seconds = millis // 1000
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millis % 1000:03d}"


# --- orgs ---------------------------------------------------------------------------------------------------


def org_store() -> Path:
    return Path(os.environ.get("HOME", ".")) / ".sfdx" / "standin-orgs.json"


def known_orgs() -> dict[str, dict[str, str]]:
    try:
        value = json.loads(org_store().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def require_org(flags: dict[str, list[str]], *names: str, what: str) -> dict[str, str]:
    alias = flag(flags, *names)
    if alias is None:
        raise Usage(f"Missing required flag {what}")
    org = known_orgs().get(alias)
    if org is None:
        say(f"Error: Parsing --{what}")
        say(f"    NamedOrgNotFoundError: No authorization information found for {alias}.")
        raise Failed(f"no org {alias}")
    return org


def login(flags: dict[str, list[str]]) -> None:
    source = flag(flags, "u", "url-stdin")
    if source == "-":
        raw = sys.stdin.read()
    elif flag(flags, "f", "url-file"):
        raw = Path(str(flag(flags, "f", "url-file"))).read_text(encoding="utf-8")
    else:
        raise Usage("Provide the auth URL with --url-stdin - or --url-file")
    raw = raw.strip()
    if simulation().get("leak_stdin"):
        say(f"debug: read auth url {raw}")
    if raw.startswith("{"):
        data = json.loads(raw)
        raw = str(data.get("sfdxAuthUrl") or (data.get("result") or {}).get("sfdxAuthUrl") or "")
    match = AUTH_URL.match(raw)
    if match is None:
        say(
            "Error (1): Invalid SFDX authorization URL. Must be in the format "
            "force://<clientId>:<clientSecret>:<refreshToken>@<instanceUrl>"
        )
        raise Failed("bad auth url")
    alias = flag(flags, "a", "alias") or "default"
    orgs = known_orgs()
    orgs[alias] = {
        "username": f"{alias}@{match['host']}",
        "instanceUrl": f"https://{match['host']}",
        "orgId": "00D" + uuid.uuid5(uuid.NAMESPACE_DNS, match["host"]).hex[:15].upper(),
    }
    store = org_store()
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(orgs), encoding="utf-8")
    say(f"Successfully authorized {orgs[alias]['username']} with org ID {orgs[alias]['orgId']}")


# --- packages and deployments -------------------------------------------------------------------------------


def project_packages() -> list[dict[str, Any]]:
    try:
        project = json.loads(Path("sfdx-project.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        say("Error: sfdx-project.json not found or unreadable in the current directory")
        raise Failed("no project") from None
    return [d for d in project.get("packageDirectories", []) if isinstance(d, dict) and d.get("package")]


def components(package: str) -> int:
    return 3 + sum(map(ord, package)) % 9


def deploy(org: dict[str, str], package: str, sim: dict[str, Any], share: float) -> bool:
    total = components(package)
    deploy_id = "0Af" + uuid.uuid4().hex[:15].upper()
    say(f"Deploying to {org['username']} with id:{deploy_id}")
    failing = package in (sim.get("failed_packages") or [])
    steps = [max(1, total // 3), max(1, 2 * total // 3), total]
    for done in steps:
        pause(sim, share / len(steps))
        status = "Failed" if failing and done == total else "InProgress" if done < total else "Succeeded"
        say(f"Status: {status} Progress: {done}/{total}")
    if failing:
        say("Failed to deploy after 00:00:01.000")
        say(f"Error: {sim.get('message') or 'DEPLOYMENT_FAILED: component failure in ' + package}")
        return False
    say(f"Succesfully Deployed {total} components in 00:00:01.000")
    return True


def install_queue(org: dict[str, str], packages: list[str], sim: dict[str, Any], verb: str, op: str) -> None:
    started = time.monotonic()
    failed: list[str] = []
    deployed: list[str] = []
    for index, package in enumerate(packages, start=1):
        say(f"::group::{verb}: {index}/{len(packages)}  {package}")
        say(f"{'Installing' if verb == 'Installing' else 'Validating'} artifact:{package}")
        say(f"Name: {package}")
        say("Type: source")
        say("Skip Testing: false")
        ok = deploy(org, package, sim, 1 / max(1, len(packages)))
        metric(
            "package.installation.elapsed_time",
            "timers",
            1000,
            package=package,
            type="source",
            target_org=org["username"],
        )
        say("::endgroup::")
        if not ok:
            failed.append(package)
            break
        deployed.append(package)
    for name, value in (
        ("packages.scheduled", len(packages)),
        ("succeeded.packages", len(deployed)),
        ("failed.packages", len(failed)),
    ):
        metric(f"{op}.{name}", "guage", value, target_org=org["username"])
    say(f"{len(deployed)} artifacts installed in {elapsed(started)} with {{{len(failed)}}} errors")
    if failed:
        say(f"Artifacts failed to install: [{', '.join(failed)}]")
        output("deployment-error.md", f"# Deployment failed\n\nPackages: {', '.join(failed)}\n")
        raise Failed("install failed")
    output("deployment-breakdown.md", "\n".join(f"- {p}: succeeded" for p in deployed) + "\n")


def artifacts_in(directory: str) -> list[str]:
    found = sorted(Path(directory).glob("*_sfpowerscripts_artifact_*.zip"))
    return [path.name.split("_sfpowerscripts_artifact_")[0] for path in found]


def cmd_build(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    require_org(flags, "v", "devhubalias", what="devhubalias")
    if flag(flags, "diffcheck") and sim.get("nothing_changed"):
        say("No packages found to be built.. Exiting..")
        return
    only = {p.strip() for value in flags.get("p", []) + flags.get("buildOnly", []) for p in value.split(",")}
    packages = [p for p in project_packages() if not only or p["package"] in only]
    artifact_dir = Path(flag(flags, "artifactdir", default="artifacts") or "artifacts")
    artifact_dir.mkdir(parents=True, exist_ok=True)
    build_number = flag(flags, "buildnumber", default="1")
    started, results = time.monotonic(), []
    for p in packages:
        metric("build.scheduled.packages", "count", package=p["package"], type=p.get("type", "source"))
    say(f"Packages currently processed:{{{len(packages)}}} + {', '.join(p['package'] for p in packages)}")
    say("Awaiting Dependencies to be resolved:{0}")
    for p in packages:
        name = p["package"]
        say(f"Package creation initiated for {name}")
        pause(sim, 1 / max(1, len(packages)))
        version = (
            str(p.get("versionNumber", "1.0.0.NEXT"))
            .replace("NEXT", str(build_number))
            .replace("LATEST", str(build_number))
        )
        if name in (sim.get("failed_packages") or []):
            results.append({"name": name, "version": version, "elapsed_time": 1, "versionId": None, "status": "failed"})
            metric("build.failed.packages", "count", package=name)
            say(f"Package creation failed for {name}: {sim.get('message') or 'compilation error'}")
            continue
        _artifact(artifact_dir, name, version, p)
        results.append({"name": name, "version": version, "elapsed_time": 1, "versionId": None, "status": "succeeded"})
        metric("build.succeeded.packages", "count", package=name)
        say(f"Created artifact for {name} at {artifact_dir}/{name}_sfpowerscripts_artifact_{version}.zip")
    failed = [r for r in results if r["status"] == "failed"]
    summary = {
        "scheduled_packages": len(packages),
        "elapsed_time": int((time.monotonic() - started) * 1000),
        "succeeded": len(results) - len(failed),
        "failed": len(failed),
        "sucessfullReleaseConfigs": [],
        "failedReleaseConfigs": [],
    }
    Path("buildResult.json").write_text(
        json.dumps({"packages": results, "summary": summary}, indent=2), encoding="utf-8"
    )
    metric("build.duration", "guage", float(int((time.monotonic() - started) * 1000)))
    say(f"{len(results) - len(failed)} artifacts created in {elapsed(started)} minutes with {len(failed)} errors")
    if failed:
        output("build-error-info.md", "\n".join(f"- {r['name']}: failed" for r in failed) + "\n")
        raise Failed("build failed")


def _artifact(directory: Path, name: str, version: str, package: dict[str, Any]) -> None:
    path = directory / f"{name}_sfpowerscripts_artifact_{version}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        meta = {"package_name": name, "package_version_number": version, "package_type": package.get("type", "source")}
        archive.writestr("artifact_metadata.json", json.dumps(meta))


def cmd_install(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    org = require_org(flags, "o", "targetorg", what="targetorg")
    directory = flag(flags, "artifactdir", default="artifacts") or "artifacts"
    packages = artifacts_in(directory)
    only = {p.strip() for value in flags.get("p", []) + flags.get("artifacts", []) for p in value.split(",")}
    packages = [p for p in packages if not only or p in only]
    if not packages:
        say(f"Error: no artifacts found in {directory}")
        raise Failed("no artifacts")
    if should_fail(sim) and not sim.get("failed_packages"):
        sim = {**sim, "failed_packages": [packages[-1]]}
    install_queue(org, packages, sim, "Installing", "install")
    metric("deploy.duration", "guage", 1000, target_org=org["username"])


def cmd_validate(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    org = require_org(flags, "o", "targetorg", what="targetorg")
    mode = flag(flags, "mode")
    if mode not in ("individual", "fastfeedback", "thorough", "ff-release-config", "thorough-release-config"):
        raise Usage(
            f"Expected --mode=individual|fastfeedback|thorough|ff-release-config|thorough-release-config, got {mode}"
        )
    packages = [p["package"] for p in project_packages()]
    metric("validate.scheduled", "count", mode=mode)
    if should_fail(sim) and not sim.get("failed_packages"):
        sim = {**sim, "failed_packages": [packages[-1]]}
    try:
        install_queue(org, packages, sim, "Validating/Synchronizing", "validate")
    except Failed:
        metric("validate.failed", "count", mode=mode)
        output("validation-error.md", "# Validation failed\n")
        raise
    say(f"Validated {len(packages)} packages against {org['username']} (mode {mode}); coverage 82%")
    metric("validate.succeeded", "count", mode=mode)
    metric("validate.duration", "guage", 1000, mode=mode)


def cmd_release(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    org = require_org(flags, "o", "targetorg", what="targetorg")
    definitions = [
        p.strip() for value in flags.get("p", []) + flags.get("releasedefinition", []) for p in value.split(",")
    ]
    if not definitions:
        raise Usage("Missing required flag releasedefinition")
    if flag(flags, "npm"):
        _check_npmrc(flag(flags, "npmrcpath"))
    for path in definitions:
        definition = _release_definition(path)
        artifacts = definition["artifacts"]
        say(f"Release {definition['release']}: {len(artifacts)} artifacts")
        directory = Path("artifacts")
        directory.mkdir(exist_ok=True)
        for name, version in artifacts.items():
            say(f"Fetching artifact {name} version {version}")
            _artifact(directory, name, str(version), {})
        if should_fail(sim) and not sim.get("failed_packages"):
            sim = {**sim, "failed_packages": [list(artifacts)[-1]]}
        metric("release.scheduled", "count", release=definition["release"])
        try:
            install_queue(org, list(artifacts), sim, "Installing", "release")
        except Failed:
            metric("release.failed", "count", release=definition["release"])
            raise
        metric("release.succeeded", "count", release=definition["release"])
        output(
            "release-changelog.md",
            f"# {definition['release']}\n" + "".join(f"- {n} {v}\n" for n, v in artifacts.items()),
        )


def _release_definition(path: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        say(f"Error: unable to read release definition {path}: {type(exc).__name__}")
        raise Failed("bad definition") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("release"), str)
        or not isinstance(data.get("artifacts"), dict)
    ):
        say(f"Error: release definition {path} does not meet schema requirements (release, artifacts)")
        raise Failed("bad definition")
    return data


def _check_npmrc(path: str | None) -> None:
    if not path or not Path(path).is_file():
        say("Error: --npmrcpath must name a readable .npmrc")
        raise Failed("no npmrc")
    text = Path(path).read_text(encoding="utf-8")
    for variable in re.findall(r"\$\{([A-Z0-9_]+)\}", text):
        if not os.environ.get(variable):
            say(f"Error: npm registry authentication failed (E401): ${{{variable}}} is not set")
            raise Failed("npm auth")


def cmd_pool_prepare(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    require_org(flags, "v", "targetdevhubusername", "devhubalias", what="targetdevhubusername")
    config_path = flag(flags, "f", "poolconfig", default="config/poolconfig.json") or "config/poolconfig.json"
    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        say(f"Error: pool config {config_path} is missing or is not JSON")
        raise Failed("PrerequisitesMissing") from None
    tag, wanted = str(config.get("tag", "pool")), int(config.get("maxAllocation", 2))
    if sim.get("capacity") in ("MaxCapacity", "NoCapacity"):
        say(f"Pool {tag}: {sim['capacity']} - there is no capacity to provision more scratch orgs")
        return
    started = time.monotonic()
    failed = wanted if should_fail(sim) else 0
    for index in range(1, wanted + 1):
        pause(sim, 1 / wanted)
        say(f"Status: Provisioning Progress: {index}/{wanted}")
        metric("prepare.org.failed" if failed else "prepare.org.succeeded", "count", poolName=tag)
    metric("prepare.succeededorgs", "guage", wanted - failed, poolName=tag)
    metric("prepare.failedorgs", "guage", failed, poolName=tag)
    took = elapsed(started)
    say(f"Provisioned {{{wanted - failed}}}  scratchorgs out of {wanted} requested with {failed} failed in {took}")
    if failed:
        say("Error: UnableToProvisionAny - all scratch orgs failed to provision")
        raise Failed("UnableToProvisionAny")


def cmd_apextests(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    org = require_org(flags, "o", "targetusername", "targetorg", what="targetusername")
    level = flag(flags, "l", "testlevel", default="RunLocalTests")
    run_id = "707" + uuid.uuid4().hex[:15].upper()

    def cancel(signum: int, _frame: FrameType | None) -> None:
        say(f"Cancelling test run {run_id} (signal {signum})")
        sys.exit(130)

    signal.signal(signal.SIGTERM, cancel)
    signal.signal(signal.SIGINT, cancel)
    classes = 8
    say(f"Triggering tests ({level}) in {org['username']}: test run {run_id}")
    for done in range(1, classes + 1):
        pause(sim, 1 / classes)
        say(f"Status: Processing Progress: {done}/{classes}")
    failures = 1 if should_fail(sim) else 0
    results = Path(".testresults")
    results.mkdir(exist_ok=True)
    (results / f"test-result-{run_id}-junit.xml").write_text(
        f'<testsuites><testsuite name="{level}" tests="{classes * 5}" failures="{failures}"/></testsuites>\n',
        encoding="utf-8",
    )
    (results / f"test-result-{run_id}.json").write_text(
        json.dumps(
            {"summary": {"testRunId": run_id, "testsRan": classes * 5, "failing": failures, "testRunCoverage": "82%"}}
        ),
        encoding="utf-8",
    )
    metric("apextest.tests.ran", "guage", classes * 5, test_level=str(level))
    metric("apextest.testcoverage", "guage", 82, test_level=str(level))
    say(f"{classes * 5} tests ran, {failures} failed; coverage 82%")
    if failures:
        say(f"Error: {sim.get('message') or 'Test failure: System.AssertException in MyTest.testIt'}")
        raise Failed("tests failed")


def cmd_org_operation(title: str) -> Callable[[dict[str, list[str]], dict[str, Any]], None]:
    def run(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
        org = require_org(flags, "o", "targetorg", "targetusername", what="targetorg")
        items = 6
        for done in range(1, items + 1):
            pause(sim, 1 / items)
            say(f"Status: {title} Progress: {done}/{items}")
        if should_fail(sim):
            say(f"Error: {sim.get('message') or title + ' failed'}")
            raise Failed(title)
        say(f"{title} completed on {org['username']}")

    return run


def cmd_analyze(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    packages = [p["package"] for p in project_packages()]
    findings = [{"package": p, "rule": "ApexDoc", "severity": "info", "count": len(p) % 3} for p in packages]
    report_dir = Path(flag(flags, "report-dir", default=".sfpowerscripts/analysis") or ".sfpowerscripts/analysis")
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "analysis.json").write_text(json.dumps({"findings": findings}), encoding="utf-8")
    for item in findings:
        say(f"{item['package']}: {item['count']} {item['rule']} finding(s)")
    if should_fail(sim):
        say("Error: analysis found violations of rules listed in --fail-on")
        raise Failed("analysis")


def cmd_artifacts_query(flags: dict[str, list[str]], sim: dict[str, Any]) -> None:
    org = require_org(flags, "o", "targetorg", "targetusername", what="targetorg")
    if should_fail(sim):
        say("Error: INVALID_SESSION_ID: Session expired or invalid")
        raise Failed("session")
    say(json.dumps({"status": 0, "result": [], "org": org["username"]}))


COMMANDS: dict[str, Callable[[dict[str, list[str]], dict[str, Any]], None]] = {
    "build": cmd_build,
    "quickbuild": cmd_build,
    "install": cmd_install,
    "deploy": cmd_install,
    "validate org": cmd_validate,
    "release": cmd_release,
    "pool prepare": cmd_pool_prepare,
    "prepare": cmd_pool_prepare,
    "apextests trigger": cmd_apextests,
    "project:pull": cmd_org_operation("Retrieving"),
    "project:push": cmd_org_operation("Deploying"),
    "project:analyze": cmd_analyze,
    "artifacts query": cmd_artifacts_query,
    "profile retrieve": cmd_org_operation("Retrieving profiles"),
    "profile reconcile": cmd_org_operation("Reconciling profiles"),
    "profile merge": cmd_org_operation("Merging profiles"),
    "flow activate": cmd_org_operation("Activating flows"),
    "flow deactivate": cmd_org_operation("Deactivating flows"),
    "flow cleanup": cmd_org_operation("Cleaning up flows"),
}


def careless(sim: dict[str, Any]) -> None:
    for variable in sim.get("leak_env") or []:
        say(f"debug: {variable}={os.environ.get(str(variable), '')}")
    if sim.get("grandchild"):
        import subprocess

        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
        child = subprocess.Popen([sys.executable, "-c", code])
        say(f"started helper process {child.pid}")


def main(argv: list[str]) -> int:
    words, flags = parse(argv)
    name = " ".join(words[:2]) if " ".join(words[:2]) in COMMANDS else " ".join(words[:1])
    if words[:3] == ["org", "login", "url"]:
        name = "org login url"
    sim = simulation()
    if "json" not in flags:
        banner()
    try:
        if name == "org login url":
            careless({"leak_env": sim.get("leak_env")})
            login(flags)
            return 0
        handler = COMMANDS.get(name)
        if handler is None:
            say(f"Error: command {' '.join(words) or '(none)'} not found")
            return 2
        careless(sim)
        handler(flags, sim)
        return 0
    except Usage as exc:
        say(f"Error: {exc}")
        say("See more help with --help")
        return 2
    except Failed:
        return int(sim.get("exit_code") or 1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
