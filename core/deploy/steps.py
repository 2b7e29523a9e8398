"""A deployment's record in the database: the `deployments` row (LWW) and its per-device,
per-step history (`deployment_steps`, append-only), read back as each device's state."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible

DEPLOYMENTS, STEPS = "deployments", "deployment_steps"
OUTPUT_LIMIT = 1000  # a failing step's output, as kept


class DeployStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # between waves, asked to; `deploy resume ID` goes on
    DONE = "done"  # every device on the version (or skipped: already there)
    PARTIAL = "partial"  # finished; some devices failed or were refused
    STOPPED = "stopped"  # failures passed --max-failures: no further wave started
    ABORTED = "aborted"
    FAILED = "failed"  # could not start or go on (its release content unreadable, …)
    INTERRUPTED = "interrupted"  # the process running it died; `deploy resume ID`


OPEN = frozenset({DeployStatus.RUNNING, DeployStatus.PAUSED, DeployStatus.INTERRUPTED})
# a device's last step that ends it for this deployment
DEVICE_DONE = {("commit", "ok"), ("skip", "ok")}


class Plan(BaseModel):
    """What a deployment does, fixed when it is created (the `params` column)."""

    release: str  # name@version
    kind: str = "deploy"  # or "rollback"
    filter: str = ""
    waves: list[list[str]]  # serials, canary first
    hostnames: dict[str, str] = Field(default_factory=dict)
    max_failures: int = 0  # failures allowed; one more stops the deployment
    pause_after_canary: bool = False
    confirm_s: float = 30.0
    canary: int = 0  # how many of waves[0] are the canary (0: no canary wave)


class DeploymentRecord(BaseModel):
    id: str
    release_id: str
    status: DeployStatus = DeployStatus.RUNNING
    plan: Plan
    created: float = 0.0
    finished: float | None = None
    kind: str = "deploy"
    who: str = ""
    site: str = ""
    pid: int | None = None
    pid_start: str | None = None
    wave: int = 0  # the wave running or next to run
    control: str = ""  # "pause" / "abort" asked by another process
    message: str = ""

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        return value if value in DeployStatus._value2member_map_ else DeployStatus.INTERRUPTED

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"pid_start"})


class StepRow(BaseModel):
    deployment_id: str
    serial: str
    step: str
    status: str
    message: str = ""
    time: float = 0.0
    duration: float | None = None
    wave: int | None = None

    @field_validator("message", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        return "" if value is None else value


@dataclass
class DeviceState:
    """One device in one deployment, as its steps tell it."""

    serial: str
    hostname: str
    wave: int
    step: str = ""  # the last step recorded
    status: str = "pending"
    message: str = ""
    duration: float = 0.0  # all its steps
    rollback: str = ""  # the reason of the last rollback, if any
    steps: list[StepRow] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return (self.step, self.status) in DEVICE_DONE

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def refused(self) -> bool:
        return self.status == "refused"

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "hostname": self.hostname,
            "wave": self.wave,
            "step": self.step,
            "status": self.status,
            "message": self.message,
            "duration": round(self.duration, 3),
            "rollback": self.rollback,
            "steps": [s.model_dump() for s in self.steps],
        }


def tally(states: list[DeviceState]) -> dict[str, int]:
    """How a deployment's devices stand: done (on the version or skipped), failed, refused by
    pre-flight (nothing changed on them), rolled back, pending. Refusals are not failures."""
    counts = {"done": 0, "failed": 0, "refused": 0, "rolled back": 0, "pending": 0}
    for s in states:
        if s.done:
            counts["done"] += 1
        elif s.refused:
            counts["refused"] += 1
        elif s.failed:
            counts["failed"] += 1
        elif s.step == "rollback":
            counts["rolled back"] += 1
        else:
            counts["pending"] += 1
    return counts


def new_deployment_id(now: float) -> str:
    return "d" + time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + "-" + secrets.token_hex(2)


class DeploymentBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, record: DeploymentRecord) -> None:
        self.store.set_row(DEPLOYMENTS, record.id, **_fields(record))

    def update(self, dep_id: str, **fields: object) -> None:
        if "status" in fields and isinstance(fields["status"], DeployStatus):
            fields["status"] = fields["status"].value
        self.store.set_row(DEPLOYMENTS, dep_id, **fields)

    def get(self, ref: str) -> DeploymentRecord:
        row = self.store.get_row(DEPLOYMENTS, ref)
        if row is None:
            found = [d for d in self.all() if d.id.endswith(ref) or d.id.startswith(ref)]
            if len(found) != 1:
                raise LookupError(
                    f"no deployment {visible(ref, 60)!r} (fleet-tui deploy status lists them)"
                    if not found
                    else f"{visible(ref, 60)!r} names {len(found)} deployments; give more of it"
                )
            return found[0]
        return _record(row)

    def all(self) -> list[DeploymentRecord]:
        found = [_record(r) for r in self.store.rows(DEPLOYMENTS)]
        return sorted(found, key=lambda d: (d.created, d.id), reverse=True)

    def record_step(
        self,
        dep_id: str,
        serial: str,
        step: str,
        status: str,
        message: str = "",
        duration: float | None = None,
        wave: int | None = None,
    ) -> StepRow:
        row = StepRow(
            deployment_id=dep_id,
            serial=serial,
            step=step,
            status=status,
            message=visible(message, OUTPUT_LIMIT),
            time=time.time(),
            duration=duration,
            wave=wave,
        )
        self.store.append_row(STEPS, **row.model_dump())
        return row

    def steps(self, dep_id: str) -> list[StepRow]:
        rows = self.store.appended(STEPS, "deployment_id = ?", (dep_id,))
        return sorted((StepRow.model_validate(r) for r in rows), key=lambda s: s.time)

    def devices(self, record: DeploymentRecord) -> list[DeviceState]:
        states: dict[str, DeviceState] = {}
        for i, wave in enumerate(record.plan.waves):
            for serial in wave:
                states[serial] = DeviceState(serial, record.plan.hostnames.get(serial, serial), i)
        for s in self.steps(record.id):
            st = states.get(s.serial)
            if st is None:
                continue
            st.steps.append(s)
            st.step, st.status, st.message = s.step, s.status, s.message
            st.duration += s.duration or 0.0
            if s.step == "rollback":
                st.rollback = s.message
        return list(states.values())


def _fields(r: DeploymentRecord) -> dict[str, object]:
    return {
        "release_id": r.release_id,
        "status": r.status.value,
        "params": json.dumps(r.plan.model_dump(), sort_keys=True),
        "created": r.created,
        "finished": r.finished,
        "kind": r.kind,
        "who": r.who,
        "site": r.site,
        "pid": r.pid,
        "pid_start": r.pid_start,
        "wave": r.wave,
        "control": r.control,
        "message": r.message,
    }


def _record(row: dict[str, Any]) -> DeploymentRecord:
    try:
        plan = Plan.model_validate_json(row.get("params") or "{}")
    except ValueError:
        plan = Plan(release=row.get("release_id") or "?", waves=[])
    return DeploymentRecord(
        id=row["id"],
        release_id=row.get("release_id") or plan.release,
        status=row.get("status") or DeployStatus.INTERRUPTED,
        plan=plan,
        created=row.get("created") or 0.0,
        finished=row.get("finished"),
        kind=row.get("kind") or "deploy",
        who=row.get("who") or "",
        site=row.get("site") or "",
        pid=row.get("pid"),
        pid_start=row.get("pid_start"),
        wave=row.get("wave") or 0,
        control=row.get("control") or "",
        message=row.get("message") or "",
    )
