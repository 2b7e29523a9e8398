"""The `deploy` kind: one device of one wave of a deployment (core/deploy/rollout.py).

A wave is an operation of the runner, so it is journalled, cancelled and shown like every
other operation; what one device does (pre-flight, send, switch, health, commit) belongs to
core/deploy, which attaches its step for the deployment it runs. A deploy operation found
interrupted is resumed with `fleet-tui deploy resume ID`, which knows its plan, not with
`ops resume`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fleet_tui.core.ops.kinds import OperationKind, StepContext

DeployStep = Callable[[StepContext], Awaitable[str]]
_attached: dict[str, DeployStep] = {}  # deployment id -> the step of the process running it


def attach(deployment_id: str, step: DeployStep) -> None:
    _attached[deployment_id] = step


def detach(deployment_id: str) -> None:
    _attached.pop(deployment_id, None)


async def _deploy(ctx: StepContext) -> str:
    step = _attached.get(str(ctx.params.get("deployment")))
    if step is None:
        raise RuntimeError(
            "a deployment's waves run inside `fleet-tui deploy`: "
            f"fleet-tui deploy resume {ctx.params.get('deployment')}"
        )
    return await step(ctx)


DEPLOY = OperationKind(
    "deploy",
    "Deploy",
    "Deploy the release to these devices? Each switches, restarts and is health-checked:",
    _deploy,
    danger=True,
    timeout_s=900.0,
    concurrency=64,
)
