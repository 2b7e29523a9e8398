"""`:fault` without the UI: its grammar, and applying a request to the simulated lab.

The specs are `fleet-tui demo inject|clear`'s (`HOST:KIND[=VALUE]`, `HOST[:KIND]`) with one
addition: no `HOST:` means the device selected in the UI. Requests run on the pipeline's loop
(where the lab lives), one at a time, in the order they were submitted."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, replace
from typing import Any

from fleet_tui.core.sim.faults import (
    FaultError,
    FaultSpec,
    canonical_kind,
    is_clearing_alias,
    make_fault,
    parse_clear,
    parse_spec,
)
from fleet_tui.core.sim.lab import SimLab, SimPi

FAULT_USAGE = "[HOST:]KIND[=VALUE] … | clear [HOST[:KIND] | KIND] …"

# `:fault` requests, one at a time per lab; made and used only on the lab's own loop
_ORDER: weakref.WeakKeyDictionary[SimLab, asyncio.Lock] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Selected:
    """The device the UI has selected (cursor row or open device screen)."""

    endpoint: str | None
    hostname: str


@dataclass(frozen=True)
class FaultRequest:
    """A parsed `:fault` line; a target "" means the selected device."""

    inject: tuple[FaultSpec, ...] = ()
    clear: tuple[tuple[str, str | None], ...] = ()  # (HOST, KIND or None for every fault)

    @property
    def wants_selection(self) -> bool:
        return any(not s.target for s in self.inject) or any(not t for t, _ in self.clear)

    @property
    def empty(self) -> bool:
        return not self.inject and not self.clear


def parse_fault_command(text: str) -> FaultRequest:
    """`overheat`, `2:slow-link=250ms all:under-voltage`, `clear`, `clear pi-5-002:ssh-down`.

    The CLI's parser (`HOST:KIND[=VALUE]`, `HOST[:KIND]`) with one addition: no `HOST:` means
    the selected device. Raises FaultError with a message for the user.
    """
    words = text.split()
    if words and words[0].lower() == "clear":
        return FaultRequest(clear=tuple(_clear_target(w) for w in words[1:]) or (("", None),))
    return FaultRequest(inject=tuple(_inject_spec(w) for w in words))


def _inject_spec(word: str) -> FaultSpec:
    if ":" in word:
        return parse_spec(word)
    kind, _, value = word.partition("=")
    return FaultSpec("", make_fault(kind, value or None), is_clearing_alias(kind))


def _clear_target(word: str) -> tuple[str, str | None]:
    if ":" not in word and _is_kind(word):
        return "", canonical_kind(word)
    return parse_clear(word)


def _is_kind(word: str) -> bool:
    try:
        canonical_kind(word)
    except FaultError:
        return False
    return True


async def apply_in_order(
    lab: SimLab, request: FaultRequest, selected: Selected | None
) -> list[dict[str, Any]]:
    """Apply a request on the lab's loop after every request submitted before it. Returns the
    status rows of the Pis it touched (an empty request: of every Pi with a fault)."""
    lock = _ORDER.get(lab)
    if lock is None:
        lock = _ORDER[lab] = asyncio.Lock()
    async with lock:
        return await apply_faults(lab, request, selected)


async def apply_faults(
    lab: SimLab, request: FaultRequest, selected: Selected | None
) -> list[dict[str, Any]]:
    if request.empty:
        return [row for row in lab.status() if row["faults"]]
    chosen = _selected_pi(lab, selected) if request.wants_selection else None

    def target(name: str) -> str:
        return name or (chosen.hostname if chosen is not None else name)

    for spec in request.inject:  # every target first: a bad one changes nothing
        lab.select(target(spec.target))
    for name, _ in request.clear:
        lab.select(target(name))
    hit: dict[int, SimPi] = {}
    for spec in request.inject:
        for pi in await lab.apply(replace(spec, target=target(spec.target))):
            hit[pi.index] = pi
    for name, kind in request.clear:
        for pi in await lab.clear(target(name), kind):
            hit[pi.index] = pi
    return lab.status([hit[i] for i in sorted(hit)])


def _selected_pi(lab: SimLab, selected: Selected | None) -> SimPi:
    if selected is None:
        raise FaultError("no device selected: name one (HOST:KIND, e.g. 1:overheat)")
    for pi in lab.pis:
        if selected.endpoint is not None and pi.endpoint == selected.endpoint:
            return pi
    for pi in lab.pis:
        if pi.hostname == selected.hostname:
            return pi
    raise FaultError(f"{selected.hostname!r} is not one of this demo's simulated Pis")
