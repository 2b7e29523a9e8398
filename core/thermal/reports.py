"""`fleet-tui export thermal|power --csv` (and the screens' `x`): one row per device.

Thermal rows also carry ambient sensors, one row each (`kind` = ambient), so a customer's
spreadsheet has the room next to the Pis. Power rows say `measured` or `estimate` in their
own column: an estimate is never a measurement.
"""

from __future__ import annotations

from datetime import datetime

from fleet_tui.core.export import CsvRow, iso
from fleet_tui.core.policy import StatusPolicy
from fleet_tui.core.store.database import Store
from fleet_tui.core.thermal.dashboard import load_thermal
from fleet_tui.core.thermal.power import load_power


class ThermalCsvRow(CsvRow):
    kind: str  # device | ambient
    serial: str
    hostname: str | None
    rack: str | None
    where: str | None
    time: datetime | None
    sensor: str | None  # ambient: the sensor's name
    temperature_c: float | None
    humidity_percent: float | None
    state: str | None
    reasons: str
    throttled_now: list[str]
    throttled_since_boot: list[str]
    fan_rpm: float | None
    policies_firing: list[str]


class PowerCsvRow(CsvRow):
    serial: str
    hostname: str | None
    model: str | None
    rack: str | None
    source: str
    time: datetime | None
    watts: float | None
    kind: str  # measured | estimate | none
    basis: str
    under_voltage_now: bool
    under_voltage_since_boot: bool
    rack_budget_w: float | None
    outlet_state: str | None  # "sw1-p3 off" per outlet ("; "), as last learned; None: no outlet
    outlet_state_at: datetime | None  # when the newest of those states was learned


def thermal_rows(store: Store, policy: StatusPolicy | None = None) -> list[ThermalCsvRow]:
    view = load_thermal(store, policy)
    rows = [
        ThermalCsvRow(
            kind="device",
            serial=d.serial,
            hostname=d.hostname,
            rack=d.rack,
            where=d.where,
            time=iso(d.time),
            sensor=None,
            temperature_c=d.temperature_c,
            humidity_percent=None,
            state=d.state,
            reasons="; ".join(d.reasons),
            throttled_now=list(d.flags_now),
            throttled_since_boot=list(d.flags_past),
            fan_rpm=d.fan_rpm,
            policies_firing=list(d.firing),
        )
        for d in view.devices
    ]
    for a in [x for items in view.ambient.values() for x in items] + view.unplaced_ambient:
        d = view.by_serial.get(a.serial)
        rows.append(
            ThermalCsvRow(
                kind="ambient",
                serial=a.serial,
                hostname=d.hostname if d else None,
                rack=d.rack if d else None,
                where=d.where if d else None,
                time=iso(a.time),
                sensor=a.sensor,
                temperature_c=a.value if a.kind == "temp" else None,
                humidity_percent=a.value if a.kind == "humidity" else None,
                state=None,
                reasons="",
                throttled_now=[],
                throttled_since_boot=[],
                fan_rpm=None,
                policies_firing=[],
            )
        )
    return rows


def power_rows(store: Store) -> list[PowerCsvRow]:
    view = load_power(store)
    budgets = {r.rack_id: r.budget_w for r in view.racks}
    states: dict[str, list[str]] = {}
    learned: dict[str, float] = {}
    for o in view.outlets:
        if o.serial:
            states.setdefault(o.serial, []).append(f"{o.name} {o.state or 'not recorded'}")
            if o.state_time is not None:
                learned[o.serial] = max(learned.get(o.serial, 0.0), o.state_time)
    return [
        PowerCsvRow(
            serial=d.serial,
            hostname=d.hostname,
            model=d.model or None,
            rack=d.rack,
            source=d.source,
            time=iso(d.time),
            watts=None if d.watts is None else round(d.watts, 2),
            kind=d.kind,
            basis=d.basis,
            under_voltage_now=d.under_voltage_now,
            under_voltage_since_boot=d.under_voltage_since_boot,
            rack_budget_w=budgets.get(d.rack_id) if d.rack_id else None,
            outlet_state="; ".join(states[d.serial]) if d.serial in states else None,
            outlet_state_at=iso(learned.get(d.serial)),
        )
        for d in view.devices
    ]
