"""The top of the device detail: the title line, the facts panel, live health with last-hour
sparklines, and the clock/sudo line. Each widget renders what it is given; the screen owns the
data."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from fleet_tui.core.clock import describe
from fleet_tui.core.models import DeviceState
from fleet_tui.core.policy import Severity, Status, StatusPolicy, clock_is_off
from fleet_tui.core.records import DeviceRecord
from fleet_tui.screens.device_data import METRICS, Point, series
from fleet_tui.screens.format import SEVERITY_STYLE, duration, literal, short_os, stamp

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
            ("model", pick("model")),
            ("os", short_os(pick("os_name"))),  # type: ignore[arg-type]
            ("kernel", f"{pick('kernel') or '?'} {pick('arch') or ''}".strip()),
            ("address", endpoint),
            (
                "up",
                f"{duration(health.uptime_s if health else None)}  seen {stamp(last_seen)[11:]}",
            ),
            ("rack", f"{rack or '-'}  agent {pick('agent_version') or '?'}"),
        ]
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (name, value) in enumerate(rows):
            text.append(f"{name:<8}", style="bold")
            text.append_text(literal("?" if value is None else value))
            if i < len(rows) - 1:
                text.append("\n")
        self.update(text)


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


class HealthPanel(Vertical):
    """One line per metric: the latest reading and a last-hour sparkline. The fan's line only
    where the Pi has one (a reading in the last hour)."""

    has_fan = False

    def compose(self) -> ComposeResult:
        for name, _, _ in METRICS:
            with Horizontal(id=f"metric-row-{name}", classes="metric") as row:
                row.display = name != FAN  # until a fan reading comes
                yield Static(id=f"metric-{name}", classes="metric-value")
                yield Sparkline([], id=f"spark-{name}", classes="metric-spark")

    def show(self, points: list[Point]) -> None:
        latest = points[-1] if points else None
        has_fan = any(p.values.get(FAN) is not None for p in points)
        if has_fan != self.has_fan:
            self.has_fan = has_fan
            self.query_one(f"#metric-row-{FAN}").display = has_fan
        for name, label, fmt in METRICS:
            value = latest.values.get(name) if latest else None
            shown = fmt.format(value) if value is not None else "?"
            self.query_one(f"#metric-{name}", Static).update(
                Text.assemble((f"{label:<6}", "bold"), f"{shown:>8}")
            )
            data = series(points, name)
            # one reading is not a trend (Textual would draw it as a full bar)
            self.query_one(f"#spark-{name}", Sparkline).data = data if len(data) > 1 else []
