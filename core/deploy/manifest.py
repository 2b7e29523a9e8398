"""`fleet-release.toml`: what a release is and how a Pi runs it, validated before anything is
stored. A bad manifest is refused with the field and the reason (`service.start: ...`)."""

from __future__ import annotations

import re
import tomllib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MANIFEST_NAME = "fleet-release.toml"
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62})$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")


class ManifestError(ValueError):
    """One line: `fleet-release.toml: FIELD: reason`."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Part):
    unit: str = ""  # a systemd unit to (re)start, where systemd runs
    start: str = ""  # otherwise: run detached in the release dir by the agent
    stop: str = ""  # default: SIGTERM to what `start` started, then SIGKILL

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z0-9@._:-]{1,200}", v):
            raise ValueError("a systemd unit name ([A-Za-z0-9@._:-])")
        return v


class Health(_Part):
    http: str = ""  # GET; any 2xx passes
    command: str = ""  # exit status 0 passes; run in the release dir
    deadline_s: Annotated[float, Field(gt=0, le=3600)] = 30.0

    @field_validator("http")
    @classmethod
    def _http(cls, v: str) -> str:
        if v and not re.fullmatch(r"https?://[^\s]+", v):
            raise ValueError("an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _one(self) -> Health:
        if self.http and self.command:
            raise ValueError("give http or command, not both")
        return self


class Hooks(_Part):
    pre: str = ""  # run in the new release dir before the switch; failing aborts this device
    post: str = ""  # run after a passing health check; failing rolls the device back


class ReleaseManifest(_Part):
    name: str
    version: str
    service: Service = Service()
    health: Health = Health()
    hooks: Hooks = Hooks()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME_RE.fullmatch(v):
            raise ValueError("only a-z, 0-9 and '-', starting with a letter or digit, at most 63")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not VERSION_RE.fullmatch(v):
            raise ValueError("letters, digits and . + _ - only, at most 64 (e.g. 2.0.1)")
        return v

    @model_validator(mode="after")
    def _runs(self) -> ReleaseManifest:
        if not self.service.unit and not self.service.start:
            raise ValueError("service: needs unit (systemd) or start (a command), or both")
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _where(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"] if p != "__root__")
    return loc or "manifest"


def _reason(error: Any) -> str:
    kind, msg = error["type"], str(error["msg"])
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return "unknown key"
    return msg.removeprefix("Value error, ")


def parse_manifest(text: str) -> ReleaseManifest:
    """The manifest of `text` (TOML), or ManifestError naming the first bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ManifestError(f"{MANIFEST_NAME}: not TOML: {e}") from None
    return manifest_of(data)


def manifest_of(data: object) -> ReleaseManifest:
    try:
        return ReleaseManifest.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ManifestError(f"{MANIFEST_NAME}: {_where(first)}: {_reason(first)}{more}") from None
