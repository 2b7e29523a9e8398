"""The faults a simulated Pi can be given, and the `HOST:KIND[=VALUE]` text that names them.

Pi-level faults (heat, power, disk, firmware, sudo, clock) change the fake Pi tree through
``pi_tree.apply_fault``; the others act on the lab's network side (its SSH server, its mDNS
advertisement, the agent processes). ``SimLab.inject`` / ``SimLab.clear`` apply them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_SLOW_LINK_S = 0.3
MAX_SLOW_LINK_S = 30.0
MAX_CLOCK_SKEW_S = 10 * 365 * 86400.0  # the agent ignores anything wilder


@dataclass(frozen=True)
class FaultKind:
    name: str
    help: str
    pi_fault: str | None = None  # the pi_tree.apply_fault kind, for Pi-level faults
    sticky: bool = True  # stays on until cleared (False: a one-off event)
    value: str = ""  # its parameter as listings show it: "=SECONDS", "[=SECONDS]"
    example: str = ""  # a value the TUI's :fault offers (kinds that need one)

    @property
    def usage(self) -> str:
        return self.name + self.value


KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind(
            "overheat", "blocked airflow: past the throttle temperature, throttled", "overheat"
        ),
        FaultKind(
            "under-voltage",
            "weak supply: under-voltage now and in the sticky bits",
            "under_voltage",
        ),
        FaultKind(
            "disk-full",
            "no space left: health shows 0 MB free, file writes fail (a new agent's upload too)",
            "disk_full",
        ),
        FaultKind("vcgencmd-fail", "vcgencmd cannot reach the firmware", "vcgencmd_fail"),
        FaultKind("sudo-denied", "sudo -n has no NOPASSWD rule", "sudo_denied"),
        FaultKind(
            "clock-skew",
            "no NTP: the Pi's clock is SECONDS off (negative: behind; 90m, -3d also work)",
            "clock_skew",
            value="=SECONDS",
            example="-259200",
        ),
        FaultKind("ssh-down", "sshd stops: connections drop, new ones are refused (clear: ssh up)"),
        FaultKind(
            "ssh-hang",
            "sshd hangs: connections are accepted and never answered (a power cycle cures it)",
        ),
        FaultKind("host-key-change", "re-imaged card: sshd comes back with a new host key"),
        FaultKind(
            "slow-link",
            "every reply of the agent arrives VALUE seconds late (default 0.3)",
            value="[=SECONDS]",
        ),
        FaultKind(
            "agent-crash",
            "the agent is killed; with =persist every new agent dies at start until cleared",
            sticky=False,
            value="[=persist]",
        ),
        FaultKind("device-gone", "unplugged: mDNS advert withdrawn and SSH down"),
    )
}
ALIASES = {"ssh-up": "ssh-down"}  # injecting ssh-up clears ssh-down


class FaultError(ValueError):
    """A fault spec or target that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class Fault:
    kind: str
    value: str = ""  # the kind's parameter, normalised ("" when it takes none)

    @property
    def sticky(self) -> bool:
        return KINDS[self.kind].sticky or self.value == "persist"

    @property
    def seconds(self) -> float:
        return float(self.value) if self.value else DEFAULT_SLOW_LINK_S

    def __str__(self) -> str:
        return f"{self.kind}={self.value}" if self.value else self.kind


@dataclass(frozen=True)
class FaultSpec:
    target: str  # hostname, 1-based number, or "all"
    fault: Fault
    clears: bool = False  # an alias such as ssh-up: clear the fault instead

    def __str__(self) -> str:
        return f"{self.target}:{self.fault}"


def _spelled(text: str) -> str:
    """How people may type a kind: any case, with _ for -."""
    return text.strip().lower().replace("_", "-")


def is_clearing_alias(text: str) -> bool:
    return _spelled(text) in ALIASES


def canonical_kind(text: str) -> str:
    kind = _spelled(text)
    kind = ALIASES.get(kind, kind)
    if kind not in KINDS:
        raise FaultError(f"unknown fault {text!r}; known: {', '.join(KINDS)}, ssh-up")
    return kind


def make_fault(kind: str, value: str | float | None = None) -> Fault:
    """Validate ``kind`` and its optional parameter."""
    name = canonical_kind(kind)
    raw = "" if value is None else str(value).strip()
    if name == "slow-link":
        return Fault(name, _seconds(raw) if raw else "")
    if name == "clock-skew":
        return Fault(name, _skew(raw))
    if name == "agent-crash":
        if raw not in ("", "once", "persist"):
            raise FaultError("agent-crash takes =once (default) or =persist")
        return Fault(name, "" if raw == "once" else raw)
    if raw:
        raise FaultError(f"{name} takes no value (got {raw!r})")
    return Fault(name)


def parse_spec(text: str) -> FaultSpec:
    """``HOST:KIND[=VALUE]``, e.g. ``pi-4b-001:overheat``, ``3:slow-link=250ms``, ``all:ssh-down``."""
    target, sep, rest = text.strip().partition(":")
    if not sep or not target or not rest:
        raise FaultError(f"{text!r}: expected HOST:KIND (e.g. pi-4b-001:overheat)")
    kind, _, value = rest.partition("=")
    return FaultSpec(target.strip(), make_fault(kind, value or None), is_clearing_alias(kind))


def parse_clear(text: str) -> tuple[str, str | None]:
    """``HOST`` (every fault) or ``HOST:KIND`` for `fleet-tui demo clear`."""
    target, sep, kind = text.strip().partition(":")
    if not target:
        raise FaultError(f"{text!r}: expected HOST or HOST:KIND")
    return target, canonical_kind(kind) if sep else None


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)?$")
_SKEW = re.compile(r"^([+-]?\d+(?:\.\d+)?)\s*([smhd])?$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(raw: str) -> str:
    match = _DURATION.match(raw.lower())
    if match is None:
        raise FaultError(f"slow-link wants seconds like 0.3, 0.3s or 300ms (got {raw!r})")
    seconds = float(match.group(1)) / (1000.0 if match.group(2) == "ms" else 1.0)
    if not 0.0 < seconds <= MAX_SLOW_LINK_S:
        raise FaultError(f"slow-link must be more than 0 and at most {MAX_SLOW_LINK_S:g} s")
    return f"{seconds:g}"


def _skew(raw: str) -> str:
    """Whole or fractional seconds, signed: `-259200`, `-3d`, `90m`, `+2h` -> `-259200` etc."""
    match = _SKEW.match(raw.lower())
    if match is None:
        raise FaultError(
            f"clock-skew wants seconds, negative for behind: =-259200, =-3d, =90m (got {raw!r})"
        )
    seconds = float(match.group(1)) * _UNIT_S[match.group(2) or "s"] + 0.0  # no "-0"
    if abs(seconds) > MAX_CLOCK_SKEW_S:
        raise FaultError("clock-skew must be within ten years")
    return f"{seconds:.3f}".rstrip("0").rstrip(".")
