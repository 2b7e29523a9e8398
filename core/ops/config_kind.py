"""The `config_push` kind: write one config file on each device (core/configs/ plans it).

Its parameters carry every device's text, so `ops resume` can finish an interrupted push.
One step: the agent validates, backs up, swaps and restarts (hardware/config_files.py); the
step then proves the Pi still answers, over the route the technician uses, and confirms, so
the agent's dead-man watchdog stands down. A Pi the new file cut off is never confirmed and
puts its old file back by itself.
"""

from __future__ import annotations

from typing import Any

from fleet_tui.core.ops.kinds import DeviceCaller, OperationKind, StepContext

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
    for key in ("mode", "owner", "validate", "restart", "keep"):
        if params.get(key):
            body[key] = params[key]
    return body


def rollback_text(path: str, report: dict[str, Any]) -> str:
    by = "the agent, its watchdog gone" if report.get("by") == "agent" else "its watchdog"
    return f"{path}: the Pi put the old file back by itself ({by}): {report.get('reason', '?')}"


async def acknowledge(caller: DeviceCaller, serial: str, path: str, report: dict[str, Any]) -> None:
    """Tell the Pi the report is recorded (best effort: unacknowledged, it is news again)."""
    if report.get("id"):
        try:
            await caller.call(serial, "config_ack", {"path": path, "id": report["id"]}, 15.0)
        except Exception:  # noqa: S110 - the next contact hands it over again
            pass


async def push_step(ctx: StepContext) -> str:
    serial = ctx.target.serial
    body = request(ctx.params, serial)
    number = ctx.params["devices"][serial]["number"]
    answer = await ctx.caller.call(serial, "config_write", body, timeout=ctx.timeout_s)
    result: dict[str, Any] = answer if isinstance(answer, dict) else {}
    earlier = ""
    report = result.get("rolled_back")
    if isinstance(report, dict):  # in this step's event; acknowledged so it is told once
        earlier = f"; before this push, {rollback_text(body['path'], report)}"
        await acknowledge(ctx.caller, serial, body["path"], report)
    if not result.get("changed"):
        return f"{UNCHANGED}: v{number} already there{earlier}"
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
    return f"{WRITTEN}: v{number} via {result.get('via', '?')}{restarted}{backup}{earlier}"


CONFIG_PUSH = OperationKind(
    "config_push",
    "Config push",
    "Write this config file on these devices? Each validates it, keeps a backup, swaps it in "
    "and restarts:",
    push_step,
    timeout_s=120.0,
    concurrency=16,
)
