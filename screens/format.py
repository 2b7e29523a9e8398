"""Turn device state into table cells: short, literal (never markup), and sortable."""

from __future__ import annotations

import time

from rich.text import Text

from core.models import DeviceState
from core.text import visible

# (key, label, width): widths fixed so early rows with unknown values don't shrink columns.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("hostname", "Host", 14),
    ("address", "Address", 15),
    ("model", "Model", 6),
    ("os", "OS", 8),
    ("uptime", "Up", 6),
    ("temp", "Temp", 6),
    ("throttle", "Throttle", 11),
    ("seen", "Seen", 8),
)


def literal(value: object, style: str = "") -> Text:
    return Text(visible(value), style=style, no_wrap=True)


def short_model(model: str | None) -> str:
    if not model:
        return "?"
    text = model.split(" Rev ")[0].replace("Raspberry Pi ", "")
    for long, short in ((" Model ", ""), ("Compute Module ", "CM"), (" Plus", "+"), (" ", "")):
        text = text.replace(long, short)
    return text


def short_os(os_name: str | None) -> str:
    if not os_name:
        return "?"
    # "Debian GNU/Linux 12 (bookworm)" -> "bookworm": the codename is what technicians say.
    if "(" in os_name and os_name.endswith(")"):
        return os_name.rsplit("(", 1)[1][:-1]
    return os_name


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s"


def clock(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "never"


def row_cells(state: DeviceState) -> list[Text]:
    facts, health = state.facts, state.health
    temp = health.temperature_c if health else None
    throttle = health.throttled.summary if health and health.throttled else "?"
    temp_style = "bold red" if temp is not None and temp >= 80 else ("yellow" if temp is not None and temp >= 70 else "")
    throttle_style = "" if throttle in ("ok", "?") else ("bold red" if not throttle.startswith("past") else "yellow")
    return [
        literal(state.hostname, "" if state.reachable else "red"),
        literal(state.address),
        literal(short_model(facts.model if facts else None)),
        literal(short_os(facts.os_name if facts else None)),
        literal(duration(health.uptime_s if health else None)),
        literal(f"{temp:.1f}°C" if temp is not None else "?", temp_style),
        literal(throttle if state.reachable else "unreachable", throttle_style if state.reachable else "red"),
        literal(clock(state.last_seen)),
    ]
