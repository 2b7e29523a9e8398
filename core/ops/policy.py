"""Limits on operations, checked by core before anything is sent to a device.

`[operations]` in config.toml overrides them. A refused step is recorded with the rule that
refused it; nothing is sent. `force` (a technician who typed `--force`) skips the cooldowns,
and that is logged like any other step.
"""

from __future__ import annotations

import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from fleet_tui.core.clock import span
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal


class OperationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # devices worked on at once, at most (a kind may ask for fewer)
    concurrency: Annotated[int, Field(ge=1, le=256)] = 16
    # per kind: a device the same kind finished on less than this long ago is refused
    # (a Pi that was just rebooted is still booting; rebooting it again helps nobody)
    cooldown_s: dict[str, Annotated[float, Field(ge=0, le=7 * 86400)]] = Field(
        default_factory=lambda: {"reboot": 300.0}
    )

    def refusal(
        self, journal: OperationJournal, kind: str, target: DeviceTarget, now: float | None = None
    ) -> str | None:
        """Why `kind` may not run on `target` now, or None."""
        cooldown = self.cooldown_s.get(kind, 0.0)
        if cooldown <= 0:
            return None
        now = time.time() if now is None else now
        recent = journal.recent_ok_steps(kind, target.serial, now - cooldown)
        if not recent:
            return None
        last = max(s.finished or 0.0 for s in recent)
        return (
            f"{kind} done {span(now - last)} ago (policy: cooldown_s.{kind} = {cooldown:g} s;"
            " --force overrides)"
        )
