"""Release definitions (sfp-domain §2.2): YAML with `release`, an `artifacts` map `package: X.Y.Z-build` and
optional settings. Parsed and checked before a release runs, so a malformed one is refused with the field
and the reason.

A release name becomes a file name in the step's workspace (`release_file`): it matches RELEASE_NAME and holds
no `..`, checked when the definition is parsed (at trigger, for a definition given inline) and again where the
path is built."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

VERSION = re.compile(r"^\d+\.\d+\.\d+([.-](\d+|LATEST|NEXT))?(-ALIGN)?$")
PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@/-]{0,199}$")
RELEASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ReleaseDefinitionError(ValueError):
    """A release definition that cannot be used; the message names the field and the problem."""

    non_retryable = True


def check_release_name(name: str) -> str:
    """`name` if it can name a file in one directory, else ReleaseDefinitionError saying why (never echoing it)."""
    if not RELEASE_NAME.match(name) or ".." in name:
        raise ReleaseDefinitionError(
            "a release name is 1-100 letters, digits, `.`, `_` or `-`, starting with a letter or digit, without `..`"
        )
    return name


def release_file(directory: Path, name: str) -> Path:
    """`directory/<name>.yml`, refused unless it is a file directly in `directory`."""
    path = (directory / f"{check_release_name(name)}.yml").resolve()
    if path.parent != directory.resolve():
        raise ReleaseDefinitionError("a release name must name a file in the release directory")
    return path


class Changelog(BaseModel):
    model_config = ConfigDict(extra="allow")
    workItemFilters: list[str] = Field(default_factory=list)
    workItemUrl: str | None = None
    limit: int | None = None
    repoUrl: str | None = None
    showAllArtifacts: bool | None = None


class ReleaseDefinition(BaseModel):
    model_config = ConfigDict(extra="allow")
    release: str
    artifacts: dict[str, str] = Field(min_length=1)
    skipIfAlreadyInstalled: bool = False
    baselineOrg: str | None = None
    promotePackagesBeforeDeploymentToOrg: str | None = None
    packageDependencies: dict[str, str] = Field(default_factory=dict)
    changelog: Changelog | None = None

    @field_validator("release")
    @classmethod
    def _release(cls, value: str) -> str:
        return check_release_name(value)

    @field_validator("artifacts", mode="before")
    @classmethod
    def _artifacts(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        checked = {}
        for name, version in value.items():
            if not isinstance(name, str) or not PACKAGE.match(name):
                raise ValueError(f"{name!r} is not a package name")
            text = str(version)
            if not VERSION.match(text):
                raise ValueError(f"package {name!r}: version {text!r} is not X.Y.Z-build")
            checked[name] = text
        return checked


def parse(text: str) -> ReleaseDefinition:
    """The definition in `text`, or ReleaseDefinitionError saying what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ReleaseDefinitionError(f"release definition is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ReleaseDefinitionError("release definition must be a YAML mapping with `release` and `artifacts`")
    try:
        return ReleaseDefinition.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'definition'}: {e['msg']}" for e in exc.errors())
        raise ReleaseDefinitionError(f"release definition is malformed: {problems}") from None


def dump(definition: ReleaseDefinition) -> str:
    return str(yaml.safe_dump(definition.model_dump(exclude_none=True), sort_keys=False))


def from_cli_output(lines: list[str]) -> str | None:
    """The YAML that `sfp releasedefinition generate` prints after its `Generated Release Definition` header."""
    for index, line in enumerate(lines):
        if "Generated Release Definition" in line:
            body = lines[index + 1 :]
            return "\n".join(body).strip() + "\n"
    return None
