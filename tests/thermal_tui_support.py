"""A seeded fleet for the thermal, power and policies screens (no tests here): the TUI tests'
fixed fleet (test_tui_support.py) placed in two racks of Pi trays, with ambient probes, an
outlet, policy events and a firing policy, all before NOW."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from test_tui_support import FLEET, HOSTILE_SERIAL, NOW, seed_store

from fleet_tui.core.models import AmbientReading
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.ambient import AmbientLog
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog


def seed_thermal(db: Path) -> None:
    seed_store(db)
    with Store.open(db) as store:
        store.delete_rows("placements", ["p1", "p2"])
        store.delete_rows("racks", ["rack-a", "rack-b"])
        book = RackBook(store)
        r1 = book.add_rack("R1", room="lab", site="home", budget_w=20.0)
        r2 = book.add_rack("R2", room="lab", site="home", height_u=12)
        book.set_tray(r1, 12, 4)
        book.set_tray(r1, 11, 4)
        book.set_tray(r2, 3, 2)
        for i, (_, serial, *_rest) in enumerate(FLEET[:6]):
            book.place(serial, r1, 12 - i // 4, i % 4 + 1)
        book.place(FLEET[6][1], r2, 3, 1)
        book.place(FLEET[7][1], r2, 3, 2)
        book.place(HOSTILE_SERIAL, r2, 5)
        log = AmbientLog(store)
        log.record(
            FLEET[0][1],
            [
                AmbientReading(name="inlet", kind="temp", value=24.2),
                AmbientReading(name="top of rack", kind="temp", value=31.4),
            ],
            NOW - 30,
        )
        log.record(
            HOSTILE_SERIAL,
            [AmbientReading(name="[red]probe[/]", kind="temp", value=27.0)],
            NOW - 30,
        )
        # a Pi 5 measures its draw (PMIC); the others are estimated
        SampleLog(store).record_many(
            [
                (
                    s,
                    {
                        "time": NOW - 20,
                        "temperature_c": t,
                        "load": [0.5 * k],
                        "throttled": {"raw": raw},
                        **({"pmic": {"total_w": 6.25}} if "Pi 5" in m else {}),
                    },
                )
                for k, (_, s, m, t, raw, *_r) in enumerate(FLEET)
                if t is not None
            ]
        )
        store.set_row(
            "outlets", "out-1", name="sw1-p3", kind="poe", host="10.0.0.2", serial=FLEET[1][1]
        )
        EventLog(store).record(
            FLEET[4][1],
            "policy",
            "hot fired: temperature 83.1 °C (reached 80, above 75 for 30 s) -> notify, fan_full",
        )
        EventLog(store).record(FLEET[4][1], "policy", "hot: fan not changed: no PWM fan")
        EventLog(store).record(FLEET[1][1], "policy", "hot cleared: temperature 74.9 °C (<= 75)")
        with store.write() as c:
            c.execute(
                "INSERT INTO policy_state (policy, serial, state, since, value) VALUES "
                "('hot', ?, 'firing', ?, 83.1)",
                (FLEET[4][1], NOW - 300),
            )
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET time = ? WHERE kind = 'policy'", (NOW - 90,))
    conn.execute("UPDATE ambient SET time = ?", (NOW - 30,))
    conn.commit()
    conn.close()
