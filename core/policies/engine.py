"""Evaluating the protective policies where health readings arrive.

`PolicyEngine.observe` takes one device's metric values at one moment and moves each enabled
policy's state for that device: clear -> pending (the metric reached `above`) -> firing (it
stayed over the clear level for `hold_s`) -> clear (it fell to the clear level). Every firing
and clearing is an event of kind "policy", written in the same transaction as the new state,
and returned as a `Transition` so the caller can act (fan, shutdown, power cycle: see
core/policies/actions.py). States live in the local `policy_state` table: a restarted app picks
up where it was and does not fire again what already fired.

Policy edits made elsewhere (`fleet-tui policy disable`, the TUI) are taken in every
`RELOAD_S`: a policy that is no longer enabled but was firing on a device is cleared, and a
clearing `Transition` is returned so what its actions changed is undone (a Pi 5's fan back to
automatic control). `PolicyBook.enable` already cleared its stored states and said so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from fleet_tui.core.models import Health
from fleet_tui.core.policies.book import POLICY_EVENT, PolicyBook
from fleet_tui.core.policies.model import FLAGS, UNITS, Policy
from fleet_tui.core.store.database import Store

CLEAR, PENDING, FIRING = "clear", "pending", "firing"
EVENT_KIND = POLICY_EVENT
RELOAD_S = 5.0  # policy edits of other processes are taken in this often


@dataclass(frozen=True)
class Transition:
    policy: Policy
    serial: str
    fired: bool  # True: fired; False: cleared
    value: float
    time: float
    message: str


@dataclass
class _State:
    state: str
    since: float | None
    value: float | None


def health_metrics(
    health: Health, sensors: Mapping[str, float] | None = None
) -> dict[str, float | None]:
    """The values policies look at in one health reading (`ambient`: the warmest temperature
    sensor; a policy naming a sensor reads `ambient:<name>`)."""
    flags = health.throttled.current if health.throttled is not None else None
    temps = {
        r.name: float(r.value)
        for r in (health.ambient or ())
        if r.kind == "temp" and r.name and isinstance(r.value, int | float)
    }
    out: dict[str, float | None] = {
        "temperature": health.temperature_c,
        "ambient": max(temps.values()) if temps else None,
        "throttled": None if flags is None else float(any(f != "under_voltage" for f in flags)),
        "under_voltage": None if flags is None else float("under_voltage" in flags),
        "unreachable": 0.0,
    }
    for name, value in temps.items():
        out[f"ambient:{name}"] = value
    return out


def _fmt(policy: Policy, value: float) -> str:
    metric = policy.body.metric
    if metric in FLAGS:
        return f"{metric.replace('_', '-')} {'now' if value else 'gone'}"
    unit = UNITS[metric]
    return f"{metric} {value:.1f}{' ' + unit if unit else ''}"


class PolicyEngine:
    """Per (policy, device) hysteresis, persisted. One per process that evaluates (the live
    fleet service, a `fleet-tui poll`); `reload` after the policies changed."""

    def __init__(self, store: Store, book: PolicyBook | None = None) -> None:
        self.store = store
        self.book = book or PolicyBook(store)
        self.policies = self.book.enabled()
        self._loaded = time.monotonic()
        self._states: dict[tuple[str, str], _State] = {}
        for r in store.query("SELECT policy, serial, state, since, value FROM policy_state"):
            self._states[(r["policy"], r["serial"])] = _State(r["state"], r["since"], r["value"])

    def reload(self, now: float | None = None) -> list[Transition]:
        """Read the policies again. States of policies no longer enabled are dropped; each
        one that was firing comes back as a clearing transition (its actions undone), and its
        stored state, if still there, is deleted with a "disabled while firing" event."""
        now = time.time() if now is None else now
        self._loaded = time.monotonic()
        self.policies = self.book.enabled()
        names = {p.name for p in self.policies}
        gone = [(k, s) for k, s in self._states.items() if k[0] not in names]
        if not gone:
            return []
        known = {p.name: p for p in self.book.all()}
        out: list[Transition] = []
        with self.store.write() as c:
            for (name, serial), state in gone:
                del self._states[(name, serial)]
                stored = c.execute(
                    "DELETE FROM policy_state WHERE policy = ? AND serial = ? RETURNING state",
                    (name, serial),
                ).fetchall()
                if state.state != FIRING or name not in known:
                    continue
                message = f"{name} disabled while firing; cleared"
                if stored:  # not cleared by whoever disabled it (a config file edit)
                    self.store.log_event(c, serial, EVENT_KIND, message)
                out.append(Transition(known[name], serial, False, state.value or 0.0, now, message))
        return out

    def state(self, policy: str, serial: str) -> str:
        s = self._states.get((policy, serial))
        return s.state if s is not None else CLEAR

    def firing(self) -> dict[str, list[tuple[str, float | None, float | None]]]:
        """serial -> [(policy, since, value)] of what is firing now."""
        out: dict[str, list[tuple[str, float | None, float | None]]] = {}
        names = {p.name for p in self.policies}
        for (policy, serial), s in self._states.items():
            if s.state == FIRING and policy in names:
                out.setdefault(serial, []).append((policy, s.since, s.value))
        return out

    def observe(
        self, serial: str, metrics: Mapping[str, float | None], now: float | None = None
    ) -> list[Transition]:
        now = time.time() if now is None else now
        changes: list[tuple[Policy, _State]] = []
        out: list[Transition] = []
        if time.monotonic() - self._loaded >= RELOAD_S:
            out += self.reload(now)
        for policy in self.policies:
            body = policy.body
            key = f"ambient:{body.sensor}" if body.sensor else body.metric
            value = metrics.get(key)
            if value is None:
                continue
            cur = self._states.get((policy.name, serial)) or _State(CLEAR, None, None)
            new = self._step(policy, cur, float(value), now)
            if new is None:
                continue
            if new.state == FIRING and cur.state != FIRING:
                held = now - (cur.since if cur.since is not None else now)
                out.append(
                    Transition(
                        policy,
                        serial,
                        True,
                        float(value),
                        now,
                        f"{policy.name} fired: {_fmt(policy, float(value))} "
                        f"(reached {body.above:g}, above {body.clear:g} for {held:.0f} s)"
                        f" -> {', '.join(body.actions)}",
                    )
                )
            elif new.state == CLEAR and cur.state == FIRING:
                out.append(
                    Transition(
                        policy,
                        serial,
                        False,
                        float(value),
                        now,
                        f"{policy.name} cleared: {_fmt(policy, float(value))} (<= {body.clear:g})",
                    )
                )
            changes.append((policy, new))
        if changes:
            self._write(serial, changes, out)
        return out

    @staticmethod
    def _step(policy: Policy, cur: _State, value: float, now: float) -> _State | None:
        """The next state, or None when nothing changes (a Schmitt trigger with a hold)."""
        body = policy.body
        if cur.state == CLEAR:
            if value < body.above:
                return None
            if body.hold_s <= 0:
                return _State(FIRING, now, value)
            return _State(PENDING, now, value)
        if cur.state == PENDING:
            if value <= body.clear:
                return _State(CLEAR, None, None)
            since = cur.since if cur.since is not None else now
            if now - since >= body.hold_s:
                return _State(FIRING, now, value)
            return None
        if value <= body.clear:
            return _State(CLEAR, None, None)
        return None

    def _write(
        self, serial: str, changes: list[tuple[Policy, _State]], transitions: list[Transition]
    ) -> None:
        with self.store.write() as c:
            for policy, new in changes:
                self._states[(policy.name, serial)] = new
                if new.state == CLEAR:
                    c.execute(
                        "DELETE FROM policy_state WHERE policy = ? AND serial = ?",
                        (policy.name, serial),
                    )
                else:
                    c.execute(
                        "INSERT OR REPLACE INTO policy_state (policy, serial, state, since, value)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (policy.name, serial, new.state, new.since, new.value),
                    )
            for t in transitions:
                self.store.log_event(c, serial, EVENT_KIND, t.message)
