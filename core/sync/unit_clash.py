"""Rack units claimed twice: the overlaps no CRDT can hold for rack equipment.

Every write checks a unit is free first (core/racks/rules.py), but two laptops can each add
equipment to overlapping units, put equipment over a unit where the other placed a device, or
place a full-width device where the other filled a tray slot. After a merge both rows are
live; `clash_groups` finds them. Pure: the merge report (core/sync/conflicts.py) and the rack
elevation (core/racks/layout.py) use the same rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Holder:
    """Something taking rack units: equipment (`face` None: it fills the unit front to back)
    or a device's placement (one unit; `slot` None: full-width)."""

    id: str
    unit: int  # the lowest unit it takes
    height_u: int = 1
    face: str | None = None
    slot: int | None = None
    serial: str | None = None

    @property
    def is_item(self) -> bool:
        return self.face is None

    @property
    def units(self) -> range:
        return range(self.unit, self.unit + max(1, self.height_u))


def clash(a: Holder, b: Holder) -> bool:
    """Whether `a` and `b` cannot both be where they are. Two devices in one slot and one
    device in two places are conflicts of their own (core/sync/conflicts.py), not clashes."""
    if a.id == b.id or not set(a.units) & set(b.units):
        return False
    if a.is_item or b.is_item:
        return True
    if a.serial == b.serial or a.face != b.face:
        return False
    return (a.slot is None) != (b.slot is None)


def clash_groups(holders: Iterable[Holder]) -> list[list[Holder]]:
    """The holders of one rack that clash, in connected groups (each sorted by id), the
    groups by their lowest clashing unit."""
    by_unit: dict[int, list[Holder]] = defaultdict(list)
    for h in holders:
        for u in h.units:
            by_unit[u].append(h)
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[str, int] = {}
    known: dict[str, Holder] = {}
    for u in sorted(by_unit):
        here = by_unit[u]
        for i, a in enumerate(here):
            for b in here[i + 1 :]:
                if not clash(a, b):
                    continue
                for h in (a, b):
                    parent.setdefault(h.id, h.id)
                    known[h.id] = h
                    first.setdefault(h.id, u)
                ra, rb = root(a.id), root(b.id)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[Holder]] = defaultdict(list)
    for hid, h in known.items():
        groups[root(hid)].append(h)
    out = [sorted(g, key=lambda h: h.id) for g in groups.values()]
    return sorted(out, key=lambda g: (min(first[h.id] for h in g), g[0].id))


def clashing_units(holders: Iterable[Holder]) -> set[int]:
    """Every unit where two of `holders` clash."""
    out: set[int] = set()
    for group in clash_groups(holders):
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if clash(a, b):
                    out |= set(a.units) & set(b.units)
    return out
