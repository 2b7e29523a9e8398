"""The `config_push` kind: write one config file on each device (core/configs/push.py).
Its parameters carry every device's text, so `ops resume` can finish an interrupted push."""

from __future__ import annotations

from fleet_tui.core.configs.push import push_step
from fleet_tui.core.ops.kinds import OperationKind

CONFIG_PUSH = OperationKind(
    "config_push",
    "Push config",
    "Write this config file on these devices? Each validates it, keeps a backup, swaps it in "
    "and restarts:",
    push_step,
    timeout_s=120.0,
    concurrency=16,
)
