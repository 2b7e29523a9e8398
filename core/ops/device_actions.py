"""Identify, reboot, shutdown and fan: one agent call per device.

Identify blinks the ACT LED so a technician can find the Pi in a rack (`seconds` 0 stops a
blink early and puts the LED's trigger back: the agent remembers the trigger it found); reboot asks the Pi to
restart (through `sudo -n reboot` on the Pi). Both answer at once: the reboot itself happens
after the agent has replied, so a step's `ok` means "accepted", and the fleet view shows the Pi
going away and coming back.
"""

from __future__ import annotations

from fleet_tui.core.ops.kinds import OperationKind, StepContext

IDENTIFY_SECONDS = 30


async def _identify(ctx: StepContext) -> str:
    seconds = ctx.params.get("seconds", IDENTIFY_SECONDS)
    await ctx.caller.call(
        ctx.target.serial, "identify", {"seconds": seconds}, timeout=ctx.timeout_s
    )
    if not seconds:  # a walkthrough moving on stops the previous blink
        return "LED back to its usual trigger"
    return f"LED blinking for {seconds:g} s"


async def _reboot(ctx: StepContext) -> str:
    await ctx.caller.call(ctx.target.serial, "reboot", {}, timeout=ctx.timeout_s)
    return "rebooting"


async def _shutdown(ctx: StepContext) -> str:
    await ctx.caller.call(ctx.target.serial, "shutdown", {}, timeout=ctx.timeout_s)
    reason = ctx.params.get("reason")
    return f"shutting down ({reason})" if isinstance(reason, str) and reason else "shutting down"


IDENTIFY = OperationKind(
    "identify",
    "Identify",
    f"Blink the ACT LED for {IDENTIFY_SECONDS} s so you can find it in the rack:",
    _identify,
)
REBOOT = OperationKind(
    "reboot",
    "Reboot",
    "Reboot now? Services on it stop until it is back:",
    _reboot,
    danger=True,
)
SHUTDOWN = OperationKind(
    "shutdown",
    "Shut down",
    "Shut down now (graceful poweroff)? It stays off until its power is cycled:",
    _shutdown,
    danger=True,
)


async def _fan(ctx: StepContext) -> str:
    """`{"mode": "auto"}` gives the fan back to the firmware's curve; `{"mode": "manual",
    "percent": P}` holds it at P % (core/thermal/fan.py says which devices may)."""
    if ctx.params.get("mode") == "auto":
        await ctx.caller.call(ctx.target.serial, "fan", {"mode": "auto"}, timeout=ctx.timeout_s)
        return "fan on automatic control"
    percent = float(ctx.params.get("percent", 100))
    await ctx.caller.call(
        ctx.target.serial, "fan", {"mode": "manual", "percent": percent}, timeout=ctx.timeout_s
    )
    return f"fan held at {percent:g} %"


FAN = OperationKind("fan", "Set fan", "Set the fan of:", _fan, timeout_s=15.0)
