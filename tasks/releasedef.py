"""Release definitions (sfp-domain §2.2): YAML with `release`, an `artifacts` map `package: X.Y.Z-build` and
optional settings. Parsed and checked before a release runs, so a malformed one is refused with the field
and the reason."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

VERSION = re.compile(r"^\d+\.\d+\.\d+([.-](\d+|LATEST|NEXT))?(-ALIGN)?$")
PACKAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@/-]{0,199}$")


class ReleaseDefinitionError(ValueError):
    """A release definition that cannot be used; the message names the field and the problem."""

    non_retryable = True


class Changelog(BaseModel):
    model_config = ConfigDict(extra="allow")
    workItemFilters: list[str] = Field(default_factory=list)
    workItemUrl: str | None = None
    limit: int | None = None
    repoUrl: str | None = None
    showAllArtifacts: bool | None = None


class ReleaseDefinition(BaseModel):
    model_config = ConfigDict(extra="allow")
    release: str = Field(min_length=1, max_length=200)
    artifacts: dict[str, str] = Field(min_length=1)
    skipIfAlreadyInstalled: bool = False
    baselineOrg: str | None = None
    promotePackagesBeforeDeploymentToOrg: str | None = None
    packageDependencies: dict[str, str] = Field(default_factory=dict)
    changelog: Changelog | None = None

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
