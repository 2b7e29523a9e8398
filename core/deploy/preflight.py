"""Pre-flight of one device, before anything changes on it: power, disk, clock, and no power
operation running on it. Unreachable devices are found by the first call (core/deploy/device.py)."""

from __future__ import annotations

import time

from fleet_tui.core.models import Health
from fleet_tui.core.ops.journal import OperationJournal
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.ops.model import OpStatus, StepStatus
from fleet_tui.core.store.database import Store

CLOCK_LIMIT_S = 300.0  # TLS, logs and the watchdog's deadline all need a sane clock
DISK_MARGIN_MB = 20.0
HEALTH_FIELDS = ["throttled", "disk_free_mb"]


def power_operation(journal: OperationJournal, serial: str) -> str | None:
    """A running power operation (on, off, cycle) with this device among its steps."""
    for op in journal.operations(status=OpStatus.RUNNING, limit=None):
        if not op.kind.startswith("power"):
            continue
        step = journal.step(op.id, serial)
        if step is not None and step.status in (StepStatus.PENDING, StepStatus.RUNNING):
            return f"in a running power operation ({op.title}, {op.id})"
    return None


async def preflight_refusal(
    store: Store, caller: DeviceCaller, serial: str, release_bytes: int
) -> str | None:
    """Why this device may not be deployed to now, or None."""
    why = power_operation(OperationJournal(store), serial)
    if why is not None:
        return why
    sent_at = time.time()
    try:
        raw = await caller.call(serial, "health", {"fields": HEALTH_FIELDS}, timeout=15.0)
        health = Health.model_validate(raw)
    except Exception as e:
        return f"unreachable: {e}"
    skew = health.time - (sent_at + time.time()) / 2
    if abs(skew) > CLOCK_LIMIT_S:
        return f"clock off by {skew:+.0f} s (limit {CLOCK_LIMIT_S:g} s): fix NTP first"
    now = health.throttled.current if health.throttled else []
    bad = [flag for flag in now if flag in ("under_voltage", "throttled")]
    if bad:
        return f"{' and '.join(bad).replace('_', '-')} now: fix the power supply or cooling first"
    need_mb = release_bytes / 1e6 + DISK_MARGIN_MB
    if health.disk_free_mb is not None and health.disk_free_mb < need_mb:
        return (
            f"disk too full: {health.disk_free_mb:.0f} MB free, the release needs {need_mb:.0f} MB"
        )
    return None
