"""Protective policies: a threshold with a hold time and a lower clear level, per metric.

A policy fires when its metric has been at or above `above` for `hold_s` seconds (the time
counts from the first reading at or above it, and keeps counting while the metric stays
above `clear_below`), and clears when the metric falls to `clear_below` or under: a Pi
wavering 79.9 <-> 80.1 °C around an 80 °C threshold fires once and stays fired until it is
really cool again. Stored as rows of the `policies` table (kind "thermal", body = this
model's JSON), also set in the config file (`[policies.NAME]`), with built-in defaults.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Metric = Literal["temperature", "ambient", "throttled", "under_voltage", "unreachable"]
Action = Literal["notify", "fan_full", "shutdown", "power_cycle"]
METRICS: tuple[str, ...] = ("temperature", "ambient", "throttled", "under_voltage", "unreachable")
ACTIONS: tuple[str, ...] = ("notify", "fan_full", "shutdown", "power_cycle")
UNITS = {
    "temperature": "°C",
    "ambient": "°C",
    "throttled": "",
    "under_voltage": "",
    "unreachable": "min",
}
FLAGS = ("throttled", "under_voltage")  # 1 while the Pi reports it now, else 0
POLICY_KIND = "thermal"
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class PolicyError(ValueError):
    """A policy that cannot be stored: one line for people."""


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Metric
    above: Annotated[float, Field(ge=-50, le=10_000)]  # fires at or above (min for unreachable)
    clear_below: Annotated[float, Field(ge=-50, le=10_000)] | None = None  # clears at or under
    hold_s: Annotated[float, Field(ge=0, le=86_400)] = 30.0
    actions: tuple[Action, ...] = ("notify",)
    sensor: str | None = None  # ambient: only this sensor (by the name the Pi reports)

    @model_validator(mode="after")
    def _sane(self) -> PolicyBody:
        if not self.clear < self.above:
            raise ValueError(f"clear_below ({self.clear:g}) must be under above ({self.above:g})")
        if self.metric in FLAGS and not 0 < self.above <= 1:
            raise ValueError(f"{self.metric} is 1 while the Pi reports it: use above = 1")
        if not self.actions:
            raise ValueError("give at least one action (notify, fan_full, shutdown, power_cycle)")
        if "power_cycle" in self.actions and self.metric != "unreachable":
            raise ValueError("power_cycle is only for the unreachable metric")
        if self.metric == "unreachable" and {"fan_full", "shutdown"} & set(self.actions):
            raise ValueError("an unreachable Pi cannot be told anything: notify or power_cycle")
        if self.sensor is not None and self.metric != "ambient":
            raise ValueError("sensor is only for the ambient metric")
        return self

    @property
    def clear(self) -> float:
        """The clear level: `clear_below`, else 5 °C under a temperature, else 0."""
        if self.clear_below is not None:
            return self.clear_below
        if self.metric in ("temperature", "ambient"):
            return self.above - 5.0
        return 0.0 if self.metric in FLAGS else self.above / 2

    def describe(self) -> str:
        """'temperature >= 80 °C for 30 s, clear <= 75 °C: notify, fan_full'."""
        unit = UNITS[self.metric]
        what = self.metric + (f" [{self.sensor}]" if self.sensor else "")
        if self.metric in FLAGS:
            cond = f"{what} for {self.hold_s:g} s"
        else:
            cond = (
                f"{what} >= {self.above:g}{' ' + unit if unit else ''} for {self.hold_s:g} s, "
                f"clear <= {self.clear:g}{' ' + unit if unit else ''}"
            )
        return f"{cond}: {', '.join(self.actions)}"


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    body: PolicyBody
    enabled: bool = True
    origin: Literal["default", "config", "store"] = "default"

    @property
    def id(self) -> str:
        return policy_id(self.name)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "origin": self.origin,
            "describe": self.body.describe(),
            **self.body.model_dump(mode="json"),
            "clear_below": self.body.clear,
        }


def policy_id(name: str) -> str:
    return f"policy-{name}"


def check_name(name: str) -> str:
    if not name or len(name) > 40 or not set(name) <= NAME_CHARS:
        raise PolicyError(
            f"bad policy name {name[:40]!r}: 1-40 of a-z, 0-9, - and _ (like hot-fan)"
        )
    return name


def parse_body(text: str | dict[str, object]) -> PolicyBody:
    """A body from JSON text or a mapping; PolicyError with the first problem otherwise."""
    try:
        data = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as e:
        raise PolicyError(f"policy body is not JSON: {e.msg} at {e.pos}") from None
    try:
        return PolicyBody.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise PolicyError(f"{where + ': ' if where else ''}{err['msg']}") from None


DEFAULTS: tuple[Policy, ...] = (
    Policy(
        name="hot",
        body=PolicyBody(
            metric="temperature",
            above=80,
            clear_below=75,
            hold_s=30,
            actions=("notify", "fan_full"),
        ),
    ),
    Policy(
        name="critical",
        body=PolicyBody(
            metric="temperature",
            above=85,
            clear_below=78,
            hold_s=60,
            actions=("notify", "shutdown"),
        ),
    ),
    Policy(
        name="ambient-hot",
        body=PolicyBody(metric="ambient", above=35, clear_below=32, hold_s=120),
    ),
    Policy(
        name="under-voltage",
        body=PolicyBody(metric="under_voltage", above=1, clear_below=0, hold_s=10),
    ),
    Policy(
        name="throttled",
        body=PolicyBody(metric="throttled", above=1, clear_below=0, hold_s=60),
    ),
    Policy(
        name="unreachable-cycle",
        body=PolicyBody(
            metric="unreachable",
            above=10,
            clear_below=0,
            hold_s=0,
            actions=("notify", "power_cycle"),
        ),
        enabled=False,  # power-cycling a Pi nobody looked at is a decision, not a default
    ),
)
