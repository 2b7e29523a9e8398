"""The agent's deploy replies (hardware/deploy.py), validated on the laptop: a reply that does
not fit is an AgentFailure for that device, never a crash or a guess."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleet_tui.core.agent.client import AgentFailure


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RollbackReport(_Reply):
    id: str
    time: float = 0.0
    kind: str = "rollback"
    app: str = ""
    from_version: str | None = Field(default=None, alias="from")
    to_version: str | None = Field(default=None, alias="to")
    reason: str = ""
    by: str = ""  # "watchdog" (no commit in time) or "agent" (health check failed)
    outcome: str = ""


class PendingSwitch(_Reply):
    version: str | None = None
    previous: str | None = None
    deadline: float | None = None


class AppStatus(_Reply):
    name: str
    current: str | None = None
    versions: list[str] = Field(default_factory=list)
    pending: PendingSwitch | None = None
    reports: list[RollbackReport] = Field(default_factory=list)
    systemd: bool = False
    running: bool | None = None


class StageReply(_Reply):
    ready: bool = False
    missing: list[str] = Field(default_factory=list)
    reused: int = 0


class PutReply(_Reply):
    received: int
    done: bool


class FinishReply(_Reply):
    version: str
    ready: bool


class SwitchReply(_Reply):
    switched: bool
    already: bool = False
    healthy: bool | None = None
    version: str
    previous: str | None = None
    token: str | None = None
    service: str | None = None
    health: str = ""
    running: bool | None = None
    rolled_back: RollbackReport | None = None


class CommitReply(_Reply):
    committed: bool
    version: str
    pruned: list[str] = Field(default_factory=list)
    kept: list[str] = Field(default_factory=list)


class AckReply(_Reply):
    acked: int


_R = TypeVar("_R", bound=_Reply)


def reply(model: type[_R], data: Any) -> _R:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise AgentFailure(
            f"agent sent a malformed {model.__name__}: {e.errors()[0]['msg']}"
        ) from None
