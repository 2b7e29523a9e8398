"""Every kind of operation by name: how a later process finds the kind of a journal row.

Identify and reboot are core/ops/device_actions.py, power on/off/cycle
core/ops/power_actions.py; walkthrough steps, deployment
waves and config pushes add theirs here.
"""

from __future__ import annotations

from fleet_tui.core.ops.config_kind import CONFIG_PUSH
from fleet_tui.core.ops.deploy_kind import DEPLOY
from fleet_tui.core.ops.device_actions import FAN, IDENTIFY, REBOOT, SHUTDOWN
from fleet_tui.core.ops.kinds import OperationKind
from fleet_tui.core.ops.power_actions import POWER_CYCLE, POWER_OFF, POWER_ON

KINDS: dict[str, OperationKind] = {
    k.name: k
    for k in (
        IDENTIFY,
        REBOOT,
        SHUTDOWN,
        FAN,
        POWER_ON,
        POWER_OFF,
        POWER_CYCLE,
        DEPLOY,
        CONFIG_PUSH,
    )
}


class UnknownKind(LookupError):
    pass


def kind_of(name: str) -> OperationKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(
            f"unknown operation kind {name!r} (written by a newer fleet-tui?)"
        ) from None
