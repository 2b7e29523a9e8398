"""Where health readings meet the thermal part: ambient readings stored, policies evaluated.

The live fleet service (core/fleet/service.py) and `fleet-tui poll` (core/fleet/poll.py) hand
every health reading of a device to one `ThermalWatch`; what it returns (policies that fired
or cleared) goes to a `PolicyActor` (core/policies/actions.py).
"""

from __future__ import annotations

import time

from fleet_tui.core.models import Health
from fleet_tui.core.policies.book import PolicyBook
from fleet_tui.core.policies.engine import PolicyEngine, Transition, health_metrics
from fleet_tui.core.store.ambient import AmbientLog
from fleet_tui.core.store.database import Store


class ThermalWatch:
    """One per process that polls: its ambient gate and the policies' states."""

    def __init__(self, store: Store, book: PolicyBook | None = None) -> None:
        self.ambient = AmbientLog(store)
        self.engine = PolicyEngine(store, book)

    def health(self, serial: str, health: Health, now: float | None = None) -> list[Transition]:
        now = time.time() if now is None else now
        self.ambient.record(serial, health.ambient, now)
        return self.engine.observe(serial, health_metrics(health), now)

    def unreachable(self, serial: str, since: float, now: float | None = None) -> list[Transition]:
        """A device not answering since `since` (its last contact)."""
        now = time.time() if now is None else now
        return self.engine.observe(serial, {"unreachable": max(0.0, now - since) / 60.0}, now)
