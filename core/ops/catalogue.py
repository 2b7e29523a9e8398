"""Every kind of operation by name: how a later process finds the kind of a journal row.

Identify and reboot are core/ops/device_actions.py; power, walkthrough steps, deployment
waves and config pushes add theirs here.
"""

from __future__ import annotations

from fleet_tui.core.ops.device_actions import FAN, IDENTIFY, REBOOT, SHUTDOWN
from fleet_tui.core.ops.kinds import OperationKind

KINDS: dict[str, OperationKind] = {k.name: k for k in (IDENTIFY, REBOOT, SHUTDOWN, FAN)}


class UnknownKind(LookupError):
    pass


def kind_of(name: str) -> OperationKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(
            f"unknown operation kind {name!r} (written by a newer fleet-tui?)"
        ) from None
