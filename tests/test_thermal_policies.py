"""Protective policies: hysteresis without flapping, persisted states, config and store, and
their actions on real simulated Pis (a Pi 5's fan to full and back, a refusal elsewhere, the
power-cycle hook, a shutdown through the operation runner)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lab_support import until

from fleet_tui.core.fleet.service import FleetService
from fleet_tui.core.models import Health
from fleet_tui.core.net.hosts import HostBook, HostEntry
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.policies.actions import PolicyActor
from fleet_tui.core.policies.book import PolicyBook, config_policies
from fleet_tui.core.policies.intake import ThermalWatch
from fleet_tui.core.policies.model import Policy, PolicyBody, PolicyError, parse_body
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.sim.pi_paths import fan_hwmon_dir
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog

HOT = PolicyBody(metric="temperature", above=80, clear_below=75, hold_s=30)


def _policy_events(store: Store, serial: str | None = None) -> list[str]:
    return [e.message for e in reversed(EventLog(store).recent(serial)) if e.kind == "policy"]


def _reading(t: float, temp: float, flags: list[str] | None = None) -> Health:
    throttled = {"raw": "0x0", "current": flags or [], "sticky": []}
    return Health.model_validate({"time": t, "temperature_c": temp, "throttled": throttled})


def test_oscillating_around_the_threshold_fires_once_and_clears_once(store: Store) -> None:
    PolicyBook(store).set("hot", HOT)
    watch = ThermalWatch(store)
    fired = []
    t = 1000.0
    for i in range(90):  # three minutes of 79.9 <-> 80.1 every 2 s
        fired += watch.health("s1", _reading(t, 80.1 if i % 2 else 79.9), t)
        t += 2
    assert [(x.policy.name, x.fired) for x in fired] == [("hot", True)]
    assert fired[0].time - 1002.0 >= 30  # held 30 s from the first reading over 80
    # a restart (a new engine on the same file) knows it already fired
    watch = ThermalWatch(store)
    for i in range(20):
        fired += watch.health("s1", _reading(t, 80.1 if i % 2 else 78.0), t)
        t += 2
    assert len(fired) == 1
    for temp in (76.0, 74.9, 80.1, 79.9, 74.0):  # cools below 75: cleared; a blip: pending only
        fired += watch.health("s1", _reading(t, temp), t)
        t += 2
    assert [(x.policy.name, x.fired) for x in fired] == [("hot", True), ("hot", False)]
    messages = [m for m in _policy_events(store, "s1")]
    assert len(messages) == 2
    assert messages[0].startswith("hot fired: temperature ")
    assert "(reached 80, above 75 for 30 s) -> notify" in messages[0]
    assert messages[1] == "hot cleared: temperature 74.9 °C (<= 75)"


def test_a_short_spike_never_fires(store: Store) -> None:
    watch = ThermalWatch(store)
    out = []
    for t, temp in ((0, 81.0), (10, 82.0), (20, 74.0), (40, 81.0), (60, 70.0)):
        out += watch.health("s1", _reading(1000.0 + t, temp), 1000.0 + t)
    assert out == [] and _policy_events(store) == []


def test_flags_and_unreachable_minutes(store: Store) -> None:
    book = PolicyBook(store)
    book.enable("unreachable-cycle", True)
    watch = ThermalWatch(store)
    out = watch.health("s1", _reading(0.0, 50.0, ["under_voltage"]), 0.0)
    out += watch.health("s1", _reading(11.0, 50.0, ["under_voltage"]), 11.0)
    assert [(x.policy.name, x.fired) for x in out] == [("under-voltage", True)]
    out = watch.health("s1", _reading(20.0, 50.0), 20.0)
    assert [(x.policy.name, x.fired) for x in out] == [("under-voltage", False)]
    assert watch.unreachable("s1", since=20.0, now=20.0 + 9 * 60) == []
    out = watch.unreachable("s1", since=20.0, now=20.0 + 10 * 60)
    assert [(x.policy.name, x.fired) for x in out] == [("unreachable-cycle", True)]
    out = watch.health("s1", _reading(700.0, 50.0), 700.0)
    assert [(x.policy.name, x.fired) for x in out] == [("unreachable-cycle", False)]


def test_disabling_a_firing_policy_clears_it_everywhere(store: Store) -> None:
    """`policy disable` of a policy that is firing: its state goes (an event says so on the
    device), :thermal's model no longer lists it, and the evaluating process gets a clearing
    transition (so its actions are undone) without a second event."""
    from fleet_tui.core.store.devices import DeviceBook
    from fleet_tui.core.thermal.dashboard import load_thermal

    DeviceBook(store).upsert("s1", hostname="pi-one")
    PolicyBook(store).set("hot", HOT.model_copy(update={"hold_s": 0}))
    watch = ThermalWatch(store)
    assert [x.fired for x in watch.health("s1", _reading(10.0, 85.0), 10.0)] == [True]
    assert "policy hot firing" in load_thermal(store, now=11.0).by_serial["s1"].reasons
    PolicyBook(store).enable("hot", False, who="ana")
    assert store.query("SELECT * FROM policy_state WHERE policy = 'hot'") == []
    assert "hot disabled while firing; cleared" in _policy_events(store, "s1")
    assert not any("policy hot" in r for r in load_thermal(store, now=12.0).by_serial["s1"].reasons)
    (undo,) = watch.engine.reload(now=13.0)
    assert (undo.policy.name, undo.serial, undo.fired) == ("hot", "s1", False)
    assert _policy_events(store, "s1").count("hot disabled while firing; cleared") == 1
    assert watch.health("s1", _reading(20.0, 90.0), 20.0) == []  # off: not evaluated
    # a leftover firing state of a disabled policy (another copy merged in) is not shown
    with store.write() as c:
        c.execute("INSERT INTO policy_state VALUES ('hot', 's1', 'firing', 1.0, 85.0)")
    assert not any("policy hot" in r for r in load_thermal(store, now=21.0).by_serial["s1"].reasons)


def test_store_overrides_config_overrides_defaults(store: Store) -> None:
    config, problems = config_policies(
        {
            "hot": {"metric": "temperature", "above": 70, "hold_s": 5, "enabled": False},
            "Bad Name": {"metric": "temperature", "above": 70},
            "loud": {"metric": "temperature", "above": 70, "clear_below": 72},
            "fan-off": {"metric": "unreachable", "above": 3, "actions": ["fan_full"]},
        }
    )
    assert [p.name for p in config] == ["hot"]
    assert len(problems) == 3
    assert any("clear_below (72) must be under above (70)" in p for p in problems)
    assert any("unreachable Pi cannot be told" in p for p in problems)
    book = PolicyBook(store, config)
    hot = book.get("hot")
    assert (hot.origin, hot.enabled, hot.body.above, hot.body.clear) == ("config", False, 70, 65)
    book.set("hot", HOT, enabled=True, who="ana@laptop")
    hot = book.get("hot")
    assert (hot.origin, hot.enabled, hot.body.above) == ("store", True, 80)
    assert "policy hot set by ana@laptop" in _policy_events(store)[-1]
    with pytest.raises(PolicyError, match="above: Input should be a valid number"):
        parse_body('{"metric": "temperature", "above": "hot"}')
    with pytest.raises(PolicyError, match="unknown policy 'nope'"):
        book.get("nope")


async def test_actions_on_simulated_pis(lab: SimLab, store: Store) -> None:
    """Overheat a Pi 5 and a Pi 4: the Pi 5's fan goes to full and back to automatic when it
    cools; the Pi 4 has no PWM fan and the refusal is recorded; the power-cycle hook says power
    control is not configured; a critical shutdown goes through the operation runner."""
    book = HostBook(store)
    for pi in lab.pis[:2]:
        book.add(HostEntry(LOOPBACK, pi.port, name=pi.hostname))
    hot = PolicyBody(
        metric="temperature", above=78, clear_below=70, hold_s=0, actions=("notify", "fan_full")
    )
    service = FleetService(
        store,
        lab.connect_options(),
        poll_interval=0.2,
        discover=False,
        known=True,
        policies=[Policy(name="hot", body=hot, origin="config")],
    )
    pi4, pi5 = lab.pis[0], lab.pis[1]
    assert pi5.model.has_fan and not pi4.model.has_fan
    fan = fan_hwmon_dir(pi5.root)
    await service.start()
    try:
        assert await until(
            lambda: len(service.states) == 2 and all(s.health for s in service.states.values())
        )
        await lab.inject(pi5.index, "overheat")
        await lab.inject(pi4.index, "overheat")
        assert await until(
            lambda: "hot: fan set to full" in _policy_events(store, pi5.serial), 20.0
        ), _policy_events(store)
        assert (fan / "pwm1_enable").read_text().strip() == "1"
        assert (fan / "pwm1").read_text().strip() == "255"
        assert await until(
            lambda: any("fan not changed" in m for m in _policy_events(store, pi4.serial)), 20.0
        )
        await lab.clear(pi5.index, "overheat")
        await lab.advance(600)
        assert await until(
            lambda: "hot: fan back to automatic control" in _policy_events(store, pi5.serial),
            20.0,
        ), _policy_events(store, pi5.serial)
        assert (fan / "pwm1_enable").read_text().strip() == "2"
        fired = [m for m in _policy_events(store, pi5.serial) if m.startswith("hot ")]
        assert len(fired) == 2 and "fired" in fired[0] and "cleared" in fired[1]
        # firing again, then disabled (as `fleet-tui policy disable hot` does): the live
        # service takes the edit in and gives the fan back to automatic control
        await lab.inject(pi5.index, "overheat")
        assert await until(lambda: (fan / "pwm1_enable").read_text().strip() == "1", 20.0)
        PolicyBook(store).enable("hot", False, who="test")
        assert await until(lambda: (fan / "pwm1_enable").read_text().strip() == "2", 20.0)
        said = _policy_events(store, pi5.serial)
        assert said.count("hot disabled while firing; cleared") == 1
        assert said[-1] == "hot: fan back to automatic control"
        await lab.clear(pi5.index, "overheat")

        # the shutdown and power-cycle actions, driven by transitions from the real engine
        runner = OperationRunner(store, service, who="policy-test")
        actor = PolicyActor(EventLog(store), service, runner)
        crit = PolicyBody(metric="temperature", above=80, hold_s=0, actions=("shutdown",))
        PolicyBook(store).set("crit", crit)
        cycle = PolicyBody(metric="unreachable", above=1, hold_s=0, actions=("power_cycle",))
        PolicyBook(store).set("cycle", cycle)
        watch = ThermalWatch(store)
        await actor.act(watch.health(pi4.serial, _reading(0, 81.5), 5000.0))
        await actor.act(watch.unreachable(pi5.serial, since=0.0, now=120.0))
        ops = {op.kind: op for op in runner.running()}
        assert sorted(ops) == ["power_cycle", "shutdown"]
        done = await runner.wait(ops["shutdown"].id)
        # no outlet powers the lab's Pi 5 and this runner has no power control: the cycle is
        # refused by core before anything is switched, and says why
        cycled = await runner.wait(ops["power_cycle"].id)
        await runner.close()
        (step,) = runner.journal.steps(cycled.id)
        assert step.status != "done" and (
            "outlet" in (step.message or "") or "power control" in (step.message or "")
        ), step
        assert done.status == "done", runner.journal.steps(done.id)
        assert "poweroff" in (pi4.root / "sim/requests").read_text()
        assert any(
            m.startswith("crit: shutdown started (operation ")
            for m in _policy_events(store, pi4.serial)
        )
        assert any(
            m.startswith("cycle: power cycle started (operation ")
            for m in _policy_events(store, pi5.serial)
        ), _policy_events(store, pi5.serial)
    finally:
        await service.stop()


async def test_poll_counts_unreachable_minutes_from_the_stored_last_contact(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fleet-tui poll` that cannot reach a known Pi hands its minutes since the stored last
    contact to the unreachable policies: the firing is an event, as in the live service."""
    from lab_support import cli, known_fleet, ssh_args

    from fleet_tui.core.sim.sshd import stop_server
    from fleet_tui.core.store.devices import DeviceBook

    db = await known_fleet(lab, tmp_path, capsys)
    gone = PolicyBody(metric="unreachable", above=5, clear_below=0, hold_s=0)
    pi = lab.pis[0]
    with Store.open(db) as store:
        PolicyBook(store).set("gone", gone)
        DeviceBook(store).upsert(pi.serial, last_seen=time.time() - 600)  # ten minutes ago
    await stop_server(pi)
    code, _, _ = await cli(capsys, db, "poll", *ssh_args(lab, tmp_path))
    assert code != 0  # one Pi did not answer
    with Store.open(db) as store:
        said = _policy_events(store, pi.serial)
        assert len(said) == 1 and said[0].startswith("gone fired: unreachable 10")
        assert _policy_events(store, lab.pis[1].serial) == []  # it answered
        state = store.query("SELECT state FROM policy_state WHERE policy = 'gone'")
        assert state == [{"state": "firing"}]
    code, _, _ = await cli(capsys, db, "poll", *ssh_args(lab, tmp_path))
    with Store.open(db) as store:  # still unreachable: fired once, not again
        assert len(_policy_events(store, pi.serial)) == 1
