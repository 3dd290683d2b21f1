"""A sample sfdx repository for tests and the demo: two source packages (`core`, `ui`), a pool config and a
release config, committed in a fresh git repository and published as a bare `origin.git` (cloned by file://).

History: commit 1 adds both packages and is tagged as released (`core_v1.0.0.1`, `ui_v1.0.0.1`, annotated
tags, as sfp publishes them); commit 2 changes only `ui`. So `sfp impact package --basebranch main` finds
`ui` impacted, and `sfp releasedefinition generate` finds both released versions.

    python -m tasks.sample_repo /tmp/where   # prints the file:// URL
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

API_VERSION = "60.0"
IDENTITY = {
    "GIT_AUTHOR_NAME": "Sample Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Sample Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}
CLASS_META = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ApexClass xmlns="http://soap.sforce.com/2006/04/metadata">'
    f"<apiVersion>{API_VERSION}</apiVersion><status>Active</status></ApexClass>\n"
)


@dataclass(frozen=True)
class SampleRepository:
    url: str  # file:// URL of the bare origin
    origin: Path
    work: Path  # a working clone with the history (for tests that add commits)
    packages: tuple[str, ...]


def _git(args: list[str], cwd: Path) -> str:
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        **IDENTITY,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _project(work: Path, packages: tuple[str, ...]) -> None:
    directories = [
        {"path": f"src/{name}", "package": name, "versionNumber": "1.0.0.NEXT", "type": "source", "default": index == 0}
        for index, name in enumerate(packages)
    ]
    project = {
        "packageDirectories": directories,
        "namespace": "",
        "sourceApiVersion": API_VERSION,
        "sfdcLoginUrl": "https://login.salesforce.com",
    }
    _write(work / "sfdx-project.json", json.dumps(project, indent=2) + "\n")
    _write(
        work / "config" / "project-scratch-def.json", json.dumps({"orgName": "sample", "edition": "Developer"}) + "\n"
    )
    _write(
        work / "config" / "poolconfig.json",
        json.dumps({"tag": "dev", "maxAllocation": 2, "expiry": 2, "batchSize": 2, "installAll": True}) + "\n",
    )
    _write(
        work / "config" / "release-config.yaml",
        "releaseName: sample\nincludeOnlyArtifacts:\n" + "".join(f"  - {name}\n" for name in packages),
    )
    for name in packages:
        cls = name.capitalize()
        _write(
            work / "src" / name / "main" / "default" / "classes" / f"{cls}.cls",
            f"public with sharing class {cls} {{\n    public static String name() {{ return '{name}'; }}\n}}\n",
        )
        _write(work / "src" / name / "main" / "default" / "classes" / f"{cls}.cls-meta.xml", CLASS_META)
    _write(work / ".forceignore", "**/jsconfig.json\n")
    _write(work / ".gitignore", "artifacts/\n.sfpowerscripts/\n.sfdx/\n.sf/\nbuildResult.json\nimpacted-package.json\n")


def make_sample_repository(root: Path, packages: tuple[str, ...] = ("core", "ui")) -> SampleRepository:
    """Create the sample repository under `root` (which must not hold one yet)."""
    work, origin = root / "work", root / "origin.git"
    work.mkdir(parents=True)
    _git(["init", "--quiet", "--initial-branch", "main"], work)
    _project(work, packages)
    _git(["add", "--all"], work)
    _git(["commit", "--quiet", "--message", "Add packages"], work)
    for name in packages:
        _git(["tag", "--annotate", f"{name}_v1.0.0.1", "--message", f"{name} 1.0.0.1"], work)
    last = packages[-1]
    cls = work / "src" / last / "main" / "default" / "classes" / f"{last.capitalize()}.cls"
    cls.write_text(cls.read_text(encoding="utf-8").replace("name()", "label()"), encoding="utf-8")
    _git(["commit", "--quiet", "--all", "--message", f"Change {last}"], work)
    _git(["clone", "--quiet", "--bare", str(work), str(origin)], root)
    _git(["remote", "add", "origin", origin.as_uri()], work)
    return SampleRepository(origin.as_uri(), origin, work, packages)


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else ".").resolve()
    sample = make_sample_repository(root)
    sys.stdout.write(sample.url + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
