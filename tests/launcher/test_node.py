"""Which Node runs the sfp CLI: the machine's own when it is >= 20 with npm beside it, else the wheel's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tasks.sfp import node


def fake_tools(folder: Path, version: str, npm: bool = True) -> Path:
    folder.mkdir(parents=True)
    script = folder / "node"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(0o755)
    if npm:
        (folder / "npm").write_text("#!/bin/sh\n")
        (folder / "npm").chmod(0o755)
    return folder


@pytest.mark.parametrize(
    ("answer", "major"),
    [("v20.20.2\n", 20), ("v24.19.0", 24), ("v18.19.1", 18), ("22.1.0", 22), ("", None), ("node: not found", None)],
)
def test_the_major_version_is_read_from_node_s_answer(answer: str, major: int | None) -> None:
    assert node.major_version(answer) == major


@pytest.mark.parametrize(("major", "fits"), [(None, False), (18, False), (19, False), (20, True), (24, True)])
def test_node_20_or_newer_fits_the_pinned_cli(major: int | None, fits: bool) -> None:
    assert node.suitable(major) is fits


def test_a_recent_node_with_npm_on_the_path_is_used(tmp_path: Path) -> None:
    folder = fake_tools(tmp_path / "bin", "v22.3.0")

    chosen = node.system_node(str(folder))

    assert chosen == node.Node(folder / "node", [str(folder / "npm")], "system")


@pytest.mark.parametrize(("version", "npm"), [("v18.19.1", True), ("v22.3.0", False)])
def test_an_old_node_or_one_without_npm_is_not_used(tmp_path: Path, version: str, npm: bool) -> None:
    assert node.system_node(str(fake_tools(tmp_path / "bin", version, npm))) is None


def test_the_machine_s_node_comes_before_the_wheel_and_none_asks_for_the_wheel(tmp_path: Path) -> None:
    system = node.Node(Path("/usr/bin/node"), ["/usr/bin/npm"], "system")
    wheel = node.Node(tmp_path / "node", [str(tmp_path / "node"), "npm-cli.js"], "wheel")

    assert node.choose(system, wheel) is system
    assert node.choose(None, wheel) is wheel
    assert node.choose(None, None) is None


def test_the_wheel_s_npm_runs_through_its_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel's bin/npm stands for a symbolic link: npm runs as `node …/npm/bin/npm-cli.js`."""
    package = tmp_path / "site" / node.WHEEL_PACKAGE
    (package / "bin").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "bin" / "node").write_text("")
    (package / "bin" / "node").chmod(stat.S_IRWXU)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    wheel = node.wheel_node()

    assert wheel == node.Node(
        package / "bin" / "node",
        [str(package / "bin" / "node"), str(package / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")],
        "wheel",
    )
    assert wheel.bin_dir == package / "bin"


def test_the_cli_s_path_is_left_alone_where_the_machine_has_a_node() -> None:
    if node.system_node() is None:
        pytest.skip("this machine has no Node >= 20")
    assert node.path_for_cli(os.environ["PATH"]) == os.environ["PATH"]
