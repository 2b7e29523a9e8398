"""What a scanned or typed code names: a device's serial (with or without its leading zeros,
any case) or its asset tag (the device's `label`). A USB barcode scanner is a keyboard that
types the code and Enter; what it typed is kept literally in the audit row, matched here."""

from __future__ import annotations

from collections.abc import Iterable

from fleet_tui.core.records import DeviceRecord


def _serial_key(text: str) -> str:
    """A serial compared without case and without leading zeros ("00000000ab12" = "AB12")."""
    return text.strip().lower().lstrip("0") or "0"


def clean_code(code: str) -> str:
    """The code without surrounding blanks and control characters (a scanner's CR/TAB)."""
    return "".join(ch for ch in code if ch.isprintable()).strip()


def match_code(code: str, devices: Iterable[DeviceRecord]) -> DeviceRecord | None:
    """The known device `code` names, or None: a serial first (exact, then without case and
    leading zeros), then an asset tag (the label, without case)."""
    text = clean_code(code)
    if not text:
        return None
    known = list(devices)
    for d in known:
        if d.serial == text:
            return d
    key = _serial_key(text)
    for d in known:
        if _serial_key(d.serial) == key:
            return d
    tag = text.casefold()
    for d in known:
        if d.label and d.label.strip().casefold() == tag:
            return d
    return None
