"""Clock skew end to end on the lab: the clock-skew fault, the poller's measurement, the status
reason, the stored skew behind `export health`, `fleet-tui poll`; and sudo's answers showing
in the capabilities after an action that needed it. Real SSH, the real agent; bounded waits."""

from __future__ import annotations

import pytest
from lab_support import candidate, until

from fleet_tui.core.agent.client import AgentFailure
from fleet_tui.core.export import health_rows
from fleet_tui.core.fleet.poll import poll
from fleet_tui.core.fleet.service import FleetService
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target
from fleet_tui.core.policy import Severity, StatusPolicy, evaluate
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

DAYS_3 = 3 * 86400.0


def _near(value: float | None, target: float) -> bool:
    """Within the measurement's noise (we ignore the round trip's asymmetry)."""
    return value is not None and abs(value - target) < 2


def _clock_reasons(reasons: tuple[str, ...] | str) -> list[str]:
    items = reasons.split("; ") if isinstance(reasons, str) else reasons
    return [r for r in items if r.startswith("clock ")]


async def test_a_skewed_pi_warns_is_stored_and_recovers_when_cleared(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[0]
    service = FleetService(store, lab.connect_options(), poll_interval=0.2, discover=False)
    await service.start()
    try:
        service.add_candidate(candidate(pi.port, pi.hostname))
        key = pi.serial
        assert await until(lambda: key in service.states)

        def skew() -> float | None:
            return service.states[key].clock_skew_s

        assert await until(lambda: skew() is not None)
        assert _near(skew(), 0)
        assert not _clock_reasons(evaluate(service.states[key], StatusPolicy()).reasons)

        await lab.inject(pi.hostname, "clock-skew", "-259200")
        assert pi.faults == {"clock-skew": "-259200"}
        assert await until(lambda: _near(skew(), -DAYS_3)), skew()
        status = evaluate(service.states[key], StatusPolicy())
        assert status.severity in (Severity.WARN, Severity.CRITICAL)
        assert _clock_reasons(status.reasons) == ["clock 3d behind"]
        # the threshold is the policy's: a lenient one does not mind, 0 turns the check off
        assert not _clock_reasons(
            evaluate(service.states[key], StatusPolicy(clock_skew_warn_s=4 * 86400)).reasons
        )
        assert not _clock_reasons(
            evaluate(service.states[key], StatusPolicy(clock_skew_warn_s=0)).reasons
        )

        # stored on the device: `export health` says it without a new column
        def stored() -> float | None:
            record = DeviceBook(store).get(pi.serial)
            return record.clock_skew_s if record else None

        assert await until(lambda: _near(stored(), -DAYS_3)), stored()
        row = next(r for r in health_rows(store) if r.serial == pi.serial)
        assert _clock_reasons(row.reasons) == ["clock 3d behind"] and row.status != "ok"

        await lab.clear(pi.hostname, "clock-skew")
        assert pi.faults == {}
        assert await until(lambda: _near(skew(), 0)), skew()
        assert not _clock_reasons(evaluate(service.states[key], StatusPolicy()).reasons)
        assert await until(lambda: _near(stored(), 0)), stored()
        row = next(r for r in health_rows(store) if r.serial == pi.serial)
        assert not _clock_reasons(row.reasons)
    finally:
        await service.stop()


async def test_poll_reports_and_stores_the_skew(lab: SimLab, pool: ConnectionPool) -> None:
    ahead, steady = lab.pis[1], lab.pis[2]
    await lab.inject(ahead.index, "clock-skew", "12m")
    targets = [Target(LOOPBACK, p.port, None, None, None, p.hostname) for p in (ahead, steady)]
    rows = {row.target.port: row async for row in poll(pool, targets, timeout=30.0)}
    assert _near(rows[ahead.port].clock_skew_s, 720)
    assert _near(rows[steady.port].to_json()["clock_skew_s"], 0)
    record = DeviceBook(pool.store).get(ahead.serial)
    assert record is not None and _near(record.clock_skew_s, 720)
    row = next(r for r in health_rows(pool.store) if r.serial == ahead.serial)
    assert _clock_reasons(row.reasons) == ["clock 12m ahead"]


async def test_an_action_that_needed_sudo_updates_the_capabilities(
    lab: SimLab, store: Store
) -> None:
    allowed, refused = lab.pis[0], lab.pis[1]
    await lab.inject(refused.hostname, "sudo-denied")
    service = FleetService(store, lab.connect_options(), poll_interval=0.2, discover=False)
    await service.start()
    try:
        keys = []
        for pi in (allowed, refused):
            service.add_candidate(candidate(pi.port, pi.hostname))
            keys.append(pi.serial)

        def sudo(key: str) -> object:
            facts = service.states[key].facts
            return facts.capabilities.get("sudo", "missing") if facts else "missing"

        assert await until(
            lambda: all(k in service.states and service.states[k].health for k in keys)
        )
        assert [sudo(k) for k in keys] == [None, None]  # nothing has needed sudo yet

        await service.call(keys[0], "reboot")  # the simulator only records the request
        assert await until(lambda: sudo(keys[0]) is True, 10.0)
        with pytest.raises(AgentFailure, match="not permitted"):
            await service.call(keys[1], "reboot")
        assert await until(lambda: sudo(keys[1]) is False, 10.0)
        assert "reboot" in (allowed.root / "sim/requests").read_text()
    finally:
        await service.stop()
