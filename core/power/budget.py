"""The rack budget check of a power-on: expected draw against `racks.power_budget_w`.

A rack's expected draw after the power-on is the most each device in it may draw (the model
table in core/power/draw.py: an estimate, and said to be one) for the devices being switched on
plus every other device placed there that is not known to be off. A rack without a budget is
not checked.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from fleet_tui.core.power.draw import expected_draw
from fleet_tui.core.power.interlocks import Refusal, rack_members
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


def expected_w(store: Store, serials: Collection[str]) -> float:
    book = DeviceBook(store)
    total = 0.0
    for serial in serials:
        device = book.get(serial)
        total += expected_draw(device.model if device else None).max_w
    return total


def budget_refusal(
    store: Store, serials: Sequence[str], known_off: Collection[str] = ()
) -> Refusal | None:
    chosen = set(serials)
    for rack_id, members in sorted(rack_members(store).items()):
        if not members & chosen:
            continue
        rack = store.get_row("racks", rack_id) or {}
        budget = rack.get("power_budget_w")
        if budget is None:
            continue
        on_after = (members & chosen) | (members - chosen - set(known_off))
        draw = expected_w(store, on_after)
        if draw > float(budget):
            return Refusal(
                "rack-budget",
                f"rack {rack.get('name') or rack_id}: {len(on_after)} devices on would draw up "
                f"to {draw:g} W (estimate from each model's maximum) against its budget of "
                f"{float(budget):g} W",
            )
    return None
