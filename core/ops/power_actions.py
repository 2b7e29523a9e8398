"""Power on, off and cycle: operations whose steps switch outlets (core/power/).

The runner hands each step to the power service it was given (`StepContext.power`); the
service checks the interlocks again right before any outlet changes. `refuse` runs the same
checks before a step starts, so a refused device is `refused` with its rule, nothing sent.
Power on runs one device at a time: the service spaces the outlets (`--stagger`).
"""

from __future__ import annotations

from collections.abc import Callable

from fleet_tui.core.ops.kinds import OperationKind, StepContext

HARD_WORD = "cut"
HARD_QUESTION = "Cut the power WITHOUT a shutdown (file systems may be damaged):"


def hard_word(count: int) -> str:
    """What a technician types to confirm `power off --hard` of `count` devices."""
    return f"{HARD_WORD} {count}"


class NoPowerControl(RuntimeError):
    pass


async def _step(ctx: StepContext, kind: str) -> str:
    if ctx.power is None:
        raise NoPowerControl("power control is not available in this process")
    return await ctx.power.step(kind, ctx.target, ctx.params)


async def _on(ctx: StepContext) -> str:
    return await _step(ctx, "power_on")


async def _off(ctx: StepContext) -> str:
    return await _step(ctx, "power_off")


async def _cycle(ctx: StepContext) -> str:
    return await _step(ctx, "power_cycle")


def _refuse(kind: str) -> Callable[[StepContext], str | None]:
    def check(ctx: StepContext) -> str | None:
        return None if ctx.power is None else ctx.power.refusal(kind, ctx.target, ctx.params)

    return check


POWER_ON = OperationKind(
    "power_on",
    "Power on",
    "Switch on the outlets of these devices (one after the other)?",
    _on,
    timeout_s=60.0,
    concurrency=1,
    refuse=_refuse("power_on"),
)
POWER_OFF = OperationKind(
    "power_off",
    "Power off",
    "Shut down and cut the power of these devices? They stay off until powered on:",
    _off,
    danger=True,
    timeout_s=120.0,
    concurrency=8,
    refuse=_refuse("power_off"),
)
POWER_CYCLE = OperationKind(
    "power_cycle",
    "Power cycle",
    "Reboot over SSH, and cut the power if they do not come back?",
    _cycle,
    danger=True,
    timeout_s=300.0,
    concurrency=8,
    refuse=_refuse("power_cycle"),
)
