"""The `config_push` kind: write one config file on each device (core/configs/ plans it).

Its parameters carry every device's text, so `ops resume` can finish an interrupted push.
One step: the agent validates, backs up, swaps and restarts (hardware/config_files.py); the
step then proves the Pi still answers, over the route the technician uses, and confirms, so
the agent's dead-man watchdog stands down. A Pi the new file cut off is never confirmed and
puts its old file back by itself.
"""

from __future__ import annotations

from typing import Any

from fleet_tui.core.ops.kinds import OperationKind, StepContext

CONFIRM_WITHIN_S = 60.0
UNCHANGED, WRITTEN = "unchanged", "written"


def request(params: dict[str, Any], serial: str) -> dict[str, Any]:
    """The `config_write` request for one device of the operation."""
    mine = params["devices"][serial]
    body: dict[str, Any] = {
        "path": params["path"],
        "content": params["contents"][mine["sha256"]],
        "sha256": mine["sha256"],
        "label": params["config"],
        "version": f"v{mine['number']}",
        "confirm_s": params.get("confirm_s", CONFIRM_WITHIN_S),
    }
    for key in ("mode", "owner", "validate", "restart"):
        if params.get(key):
            body[key] = params[key]
    return body


async def push_step(ctx: StepContext) -> str:
    serial = ctx.target.serial
    body = request(ctx.params, serial)
    number = ctx.params["devices"][serial]["number"]
    answer = await ctx.caller.call(serial, "config_write", body, timeout=ctx.timeout_s)
    result: dict[str, Any] = answer if isinstance(answer, dict) else {}
    if not result.get("changed"):
        return f"{UNCHANGED}: v{number} already there"
    token = result.get("confirm_token")
    if token:
        try:
            await ctx.caller.call(serial, "ping", {}, timeout=15.0)
            await ctx.caller.call(
                serial, "config_confirm", {"path": body["path"], "token": token}, timeout=15.0
            )
        except Exception as e:
            raise RuntimeError(
                f"written, but the Pi did not answer again ({e}): unless reached within "
                f"{body['confirm_s']:g} s of the write it puts the old file back by itself"
            ) from e
    restarted = f", restarted {result['restarted']}" if result.get("restarted") else ""
    backup = f"; backup {result['backup']}" if result.get("backup") else ""
    return f"{WRITTEN}: v{number} via {result.get('via', '?')}{restarted}{backup}"


CONFIG_PUSH = OperationKind(
    "config_push",
    "Config push",
    "Write this config file on these devices? Each validates it, keeps a backup, swaps it in "
    "and restarts:",
    push_step,
    timeout_s=120.0,
    concurrency=16,
)
