"""Setting a Pi 5's fan by hand: which devices may, and what a technician types. The
operation kind itself is core/ops/device_actions.py's FAN (journalled and logged).

`{"mode": "auto"}` gives the fan back to the firmware's curve; `{"mode": "manual",
"percent": P}` holds it at P %. Only a Pi 5's active cooler is driven this way: other models
are refused before anything is sent (`refusal`).
"""

from __future__ import annotations

from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.text import visible

PI5 = "Raspberry Pi 5"


def refusal(device: DeviceRecord) -> str | None:
    """Why `device`'s fan cannot be set, or None (a Pi 5)."""
    model = device.model or ""
    if model.startswith(PI5):
        return None
    name = visible(device.hostname or device.serial, 64)
    what = visible(model, 64) if model else "a Pi of unknown model (not polled yet)"
    return f"{name}: fan control is for a Pi 5's fan; this is {what}"


def parse_setting(text: str) -> dict[str, object]:
    """'auto' or a percentage 0-100 ('60', '60%') -> the fan operation's params."""
    word = text.strip().lower().removesuffix("%")
    if word == "auto":
        return {"mode": "auto"}
    try:
        percent = float(word)
    except ValueError:
        raise ValueError(f"{visible(text, 20)!r}: give auto or a percentage 0-100") from None
    if not 0 <= percent <= 100:
        raise ValueError(f"{percent:g}: a percentage is 0-100")
    return {"mode": "manual", "percent": percent}
