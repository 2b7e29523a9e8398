"""The top of the device detail: the title line, the facts panel, live health with last-hour
sparklines, and the clock/sudo line. Each widget renders what it is given; the screen owns the
data.

At 80 columns the facts get 36 cells and health the rest: values too long for a line wrap under
themselves (nothing is cut), and each sparkline carries its scale (screens/common/sparkline.py)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from fleet_tui.core.clock import describe
from fleet_tui.core.models import DeviceState
from fleet_tui.core.policy import Severity, Status, StatusPolicy, clock_is_off
from fleet_tui.core.records import DeviceRecord
from fleet_tui.screens.common.format import (
    SEVERITY_STYLE,
    duration,
    literal,
    pi_model,
    safe,
    short_os,
    stamp,
)
from fleet_tui.screens.common.sparkline import SCALES, Scale, metric_text
from fleet_tui.screens.device.device_data import HOUR, METRICS, Point

FAN = "fan_rpm"  # its line only where the Pi has a fan


class DeviceTitle(Static):
    """Hostname (label), severity and its reasons, and READ-ONLY when it applies."""

    def show(self, hostname: str, rec: DeviceRecord | None, status: Status, readonly: bool) -> None:
        text = literal(hostname, "bold")
        if rec and rec.label:
            text.append(" (")
            text.append_text(literal(rec.label))
            text.append(")")
        text.append("  ")
        text.append(status.severity.value, style=SEVERITY_STYLE[status.severity])
        if status.reasons and status.severity is not Severity.OK:
            text.append(" — ")
            text.append_text(literal("; ".join(status.reasons)))
        if readonly:
            text.append("  READ-ONLY", style="bold")
        self.update(text)


class FactsPanel(Static):
    """Serial, model, OS, kernel, address, uptime and rack: live facts over stored ones."""

    plain = ""  # what it shows, as text

    def show(
        self,
        live: DeviceState | None,
        rec: DeviceRecord | None,
        serial: str | None,
        endpoint: str | None,
        rack: str | None,
    ) -> None:
        facts = live.facts if live else None

        def pick(name: str) -> object:
            value = getattr(facts, name, None) if facts else None
            return value if value is not None else getattr(rec, name, None) if rec else None

        health = live.health if live else None
        last_seen = live.last_seen if live and live.last_seen else (rec.last_seen if rec else None)
        rows: list[tuple[str, object]] = [
            ("serial", serial),
            ("model", pi_model(pick("model"))),  # type: ignore[arg-type]
            ("os", short_os(pick("os_name"))),  # type: ignore[arg-type]
            ("kernel", f"{pick('kernel') or '?'} {pick('arch') or ''}".strip()),
            ("address", endpoint),
            (
                "up",
                f"{duration(health.uptime_s if health else None)}  seen {stamp(last_seen)[11:]}",
            ),
            ("rack", f"{rack or '-'}  agent {pick('agent_version') or '?'}"),
        ]
        grid = Table.grid(padding=(0, 1, 0, 0))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")  # wraps under itself: a long model, an IPv6 address
        for name, value in rows:
            grid.add_row(name, Text(safe("?" if value is None else value)))
        self.plain = "\n".join(f"{name} {safe(value)}" for name, value in rows)
        self.update(grid)


# capabilities.sudo as the agent reports it (hardware/README.md, "Privileges")
SUDO_TEXT = {
    True: "allowed",
    False: "refused (see hardware/README.md for the sudoers rule)",
    None: "not needed since boot",  # sudo runs only for an action that needs it, never to probe
}


def sudo_text(live: DeviceState | None) -> str:
    caps = live.facts.capabilities if live and live.facts else {}
    return SUDO_TEXT[caps["sudo"]] if "sudo" in caps else "?"


class ClockSudoLine(Static):
    """The Pi's clock against ours (a Pi without NTP may be days off) and what sudo allows."""

    def show(
        self, live: DeviceState | None, rec: DeviceRecord | None, policy: StatusPolicy
    ) -> None:
        skew = live.clock_skew_s if live else None
        if skew is None and rec is not None:
            skew = rec.clock_skew_s  # measured at the last contact
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("clock ", style="bold")
        warn = SEVERITY_STYLE[Severity.WARN] if clock_is_off(skew, policy) else ""
        text.append(describe(skew), style=warn)
        text.append("  sudo ", style="bold")
        text.append(sudo_text(live))
        self.update(text)


class MetricLine(Static):
    """One metric: label, latest value, the last hour's bars (as wide as the line) and their
    scale. Drawn for the width it has, on every refresh."""

    def __init__(self, name: str, label: str, *, id: str, classes: str = "") -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.scale: Scale = SCALES[name]
        self.value = "?"
        self.readings: Sequence[tuple[float, float]] = ()
        self.span = (0.0, HOUR)

    def show(
        self, value: str, readings: Sequence[tuple[float, float]], span: tuple[float, float]
    ) -> None:
        self.value, self.readings, self.span = value, readings, span
        self.refresh()

    def render(self) -> Text:
        width = self.content_size.width or 40
        return metric_text(self.label, self.value, self.readings, self.span, self.scale, width)


class HealthPanel(Vertical):
    """One line per metric: the latest reading and a last-hour sparkline with its scale. The
    fan's line only where the Pi has one (a reading in the last hour)."""

    has_fan = False

    def compose(self) -> ComposeResult:
        for name, label, _ in METRICS:
            line = MetricLine(name, label, id=f"metric-{name}", classes="metric")
            line.display = name != FAN  # until a fan reading comes
            yield line

    def show(self, points: list[Point], now: float) -> None:
        latest = points[-1] if points else None
        has_fan = any(p.values.get(FAN) is not None for p in points)
        if has_fan != self.has_fan:
            self.has_fan = has_fan
            self.query_one(f"#metric-{FAN}").display = has_fan
        span = (now - HOUR, now)
        for name, _, fmt in METRICS:
            value = latest.values.get(name) if latest else None
            readings = [(p.time, v) for p in points if (v := p.values.get(name)) is not None]
            self.query_one(f"#metric-{name}", MetricLine).show(
                fmt.format(value) if value is not None else "?", readings, span
            )
