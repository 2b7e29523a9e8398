"""Shared pieces for the TUI tests (no tests here): a fixed fleet, a seeded store, waiting.

Everything time-dependent is frozen: `NOW` is the app's clock and TZ is UTC, so snapshots and
CSV files come out the same on every machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from fleet_tui.app import FleetApp
from fleet_tui.core.fleet.runtime import FleetConfig
from fleet_tui.core.models import DeviceState, Facts, Health, Throttled
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.demo import DEMO_SUB_TITLE
from fleet_tui.demo import fault_command as _fault_command
from fleet_tui.screens.common.context import UiOptions

# The demo's `:fault`, registered as `fleet-tui demo` registers it: the command table (and with
# it `?` help, completion and the palette) is the same whichever TUI tests run. In an app that
# is not inside the simulated lab it answers that it is demo-only.
_ = _fault_command

NOW = 1_714_557_600.0  # 2024-05-01 10:00:00 UTC
HOSTILE_HOST = "[bold red]evil[/]\x1b[2J"
HOSTILE_SERIAL = "hostile0000000001"

# (hostname, serial, model, temp, throttled raw, reachable, error, mem avail of 4096 MB)
FLEET: list[tuple[str, str, str, float | None, str, bool, str | None]] = [
    ("pi-4b-001", "10000000a0000001", "Raspberry Pi 4 Model B Rev 1.4", 48.3, "0x0", True, None),
    ("pi-5-002", "10000000a0000002", "Raspberry Pi 5 Model B Rev 1.0", 74.9, "0x0", True, None),
    (
        "pi-3bp-003",
        "10000000a0000003",
        "Raspberry Pi 3 Model B Plus Rev 1.3",
        61.0,
        "0x50005",
        True,
        None,
    ),
    (
        "pi-zero2w-004",
        "10000000a0000004",
        "Raspberry Pi Zero 2 W Rev 1.0",
        52.5,
        "0x50000",
        True,
        None,
    ),
    (
        "pi-cm4-005",
        "10000000a0000005",
        "Raspberry Pi Compute Module 4 Rev 1.1",
        83.1,
        "0x0",
        True,
        None,
    ),
    (
        "pi-4b-006",
        "10000000a0000006",
        "Raspberry Pi 4 Model B Rev 1.5",
        None,
        "0x0",
        False,
        "127.0.0.1:2206: unreachable (connection refused)",
    ),
    ("pi-4b-007", "10000000a0000007", "Raspberry Pi 4 Model B Rev 1.4", 55.0, "0x0", True, None),
    ("pi-5-008", "10000000a0000008", "Raspberry Pi 5 Model B Rev 1.0", 66.6, "0x0", True, None),
    (
        HOSTILE_HOST,
        HOSTILE_SERIAL,
        "Raspberry Pi 4 Model B Rev 1.4\x1b]0;pwned\x07",
        50.0,
        "0x0",
        True,
        None,
    ),
]


def state(i: int, spec: tuple[str, str, str, float | None, str, bool, str | None]) -> DeviceState:
    hostname, serial, model, temp, raw, reachable, error = spec
    port = 2201 + i
    value = int(raw, 16)
    current = [
        n
        for b, n in enumerate(("under_voltage", "freq_capped", "throttled", "soft_temp_limit"))
        if value & (1 << b)
    ]
    sticky = [
        n
        for b, n in enumerate(("under_voltage", "freq_capped", "throttled", "soft_temp_limit"))
        if value & (1 << (b + 16))
    ]
    facts = Facts(
        hostname=hostname,
        model=model,
        serial=serial,
        os_name="Debian GNU/Linux 12 (bookworm)",
        kernel="6.6.31+rpt-rpi-v8",
        arch="aarch64",
        agent_version="0.1.0",
        capabilities={"sudo": None},  # nothing has needed sudo since boot
    )
    health = Health(
        time=NOW - 1,
        uptime_s=86400 * (i + 1) + 3600 * i,
        temperature_c=temp,
        throttled=Throttled(raw=raw, current=current, sticky=sticky),
        core_volts=0.85,
        load=[0.1 * i, 0.1, 0.1],
        cpu_percent=3.0 * i,
        mem_total_mb=4096.0,
        mem_available_mb=3000.0,
        disk_total_mb=30000.0,
        disk_free_mb=20000.0,
    )
    return DeviceState(
        key=serial,  # the device's identity
        endpoint=f"127.0.0.1:{port}",
        address="127.0.0.1",
        port=port,
        name=hostname,
        reachable=reachable,
        error=error,
        facts=facts if reachable or i else None,
        health=health if reachable else None,
        last_seen=NOW - 2 if reachable else NOW - 600,
        clock_skew_s=0.3 if reachable else None,  # in step
    )


def fleet_states() -> list[DeviceState]:
    return [state(i, spec) for i, spec in enumerate(FLEET)]


def seed_store(db: Path, samples: bool = True) -> None:
    """Labels, tags, racks, an hour of samples, events and host keys, all before NOW."""
    with Store.open(db) as store:
        for i, (hostname, serial, model, *_rest) in enumerate(FLEET):
            DeviceBook(store).upsert(
                serial,
                hostname=hostname,
                address="127.0.0.1",
                port=2201 + i,
                model=model,
                last_seen=NOW - 60,
            )
        DeviceBook(store).upsert(
            FLEET[0][1], label="front door", tags=["lab", "poe"], notes="by the door"
        )
        DeviceBook(store).upsert(FLEET[1][1], tags=["lab"])
        # one device known only from the store: never contacted in this session
        DeviceBook(store).upsert(
            "10000000a00000ff",
            hostname="pi-old-099",
            address="10.0.0.99",
            port=22,
            model="Raspberry Pi 3 Model B Rev 1.2",
            last_seen=NOW - 5 * 86400,
        )
        store.set_row("racks", "rack-a", name="R1", height_u=42)
        store.set_row("racks", "rack-b", name="R2", height_u=42)
        store.set_row("placements", "p1", serial=FLEET[0][1], rack_id="rack-a", unit=1)
        store.set_row("placements", "p2", serial=FLEET[2][1], rack_id="rack-b", unit=2)
        EventLog(store).record(FLEET[0][1], "identify", "identify requested by tech from fleet-tui")
        EventLog(store).record(FLEET[0][1], "edit", "label='front door'")
        EventLog(store).record(HOSTILE_SERIAL, "agent", "output: [red]x[/red] \x1b[31m")
        if samples:
            items: list[tuple[str, Mapping[str, object]]] = []
            for k in range(120):  # one every 30 s for the last hour
                t = NOW - 3600 + 30 * k
                temp = 45.0 + 10 * ((k % 20) / 20)
                raw = "0x50005" if 60 <= k < 70 else ("0x50000" if k >= 70 else "0x0")
                items.append(
                    (
                        FLEET[0][1],
                        {
                            "time": t,
                            "temperature_c": temp,
                            "cpu_percent": k % 50,
                            "load": [0.5],
                            "throttled": {"raw": raw},
                            "mem_total_mb": 4096,
                            "mem_available_mb": 3000,
                            "core_volts": 0.85,
                        },
                    )
                )
            SampleLog(store).record_many(items)
        HostKeys(store).pin(
            "127.0.0.1:2201",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            FLEET[0][1],
        )
    # fixed times for what the store stamped with the wall clock
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET time = ?", (NOW - 120,))
    conn.execute("UPDATE host_key_history SET time = ?", (NOW - 7200,))
    conn.execute("UPDATE host_keys SET pinned_at = ?", (NOW - 7200,))
    conn.commit()
    conn.close()


def make_app(
    db: Path,
    *,
    readonly: bool = False,
    low_bandwidth: bool = False,
    keymap: dict[str, str] | None = None,
    **options: Any,
) -> FleetApp:
    opts = UiOptions(
        readonly=readonly,
        low_bandwidth=low_bandwidth,
        now=lambda: NOW,
        animate=False,
        flush_seconds=options.pop("flush_seconds", 0.05),
        **options,
    )
    return FleetApp(FleetConfig(db_path=db), opts, start_backend=False, keymap=keymap)


def post_fleet(app: FleetApp, states: list[DeviceState] | None = None) -> None:
    from fleet_tui.screens.common.messages import DeviceUpdated

    for s in states if states is not None else fleet_states():
        app.post_message(DeviceUpdated(s))


async def command_line(pilot: Any, line: str) -> None:
    """Type a `:` command and run it."""
    await pilot.press("colon")
    await pilot.pause(0.05)
    await pilot.press(*line, "enter")


def demo_app(
    db: Path,
    options: UiOptions | None = None,
    *,
    devices: int = 2,
    poll_interval: float = 2.0,
    start_backend: bool = True,
) -> FleetApp:
    """The app as `fleet-tui demo` makes it: inside a simulated lab, with `:fault`. (The lab
    starts with the backend; an unstarted one leaves nothing behind.)"""
    config = FleetConfig(db_path=db, lab=SimLab(devices), poll_interval=poll_interval)
    return FleetApp(config, options, start_backend=start_backend, sub_title=DEMO_SUB_TITLE)


@asynccontextmanager
async def live_demo(db: Path, devices: int = 2) -> AsyncIterator[tuple[FleetApp, Any, Any]]:
    """The real TUI on a simulated lab of `devices` Pis, once every Pi has a health reading:
    (app, pilot, fleet screen)."""
    from fleet_tui.screens.fleet.fleet import FleetScreen

    app = demo_app(
        db, UiOptions(flush_seconds=0.1, animate=False), devices=devices, poll_interval=0.5
    )
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: live_rows(fleet) == devices, 30.0), "no lab"
        yield app, pilot, fleet


def live_rows(fleet: Any) -> int:
    """Rows of the fleet screen with a health reading (the demo lab's Pis that answered)."""
    m = fleet.model
    if m is None:
        return 0
    return sum(1 for r in m.rows.values() if r.state is not None and r.state.health is not None)


async def wait_for(pilot: Any, condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll `condition` while the app runs; bounded. A widget not mounted yet counts as False."""
    from textual.css.query import NoMatches

    def check() -> bool:
        try:
            return bool(condition())
        except NoMatches:
            return False

    for _ in range(int(seconds / 0.02)):
        if check():
            return True
        await pilot.pause(0.02)
    return check()


@pytest.fixture
def utc() -> Iterator[None]:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


def exported_csv(directory: Path, kind: str = "fleet") -> Path | None:
    """The CSV a TUI export wrote into `directory` (its default name), if any."""
    return next(directory.glob(f"fleet-{kind}-*.csv"), None)
