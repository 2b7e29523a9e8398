"""Raspberry Pi revision codes, new-style bit layout and the old-style table.

New-style layout (from the Raspberry Pi documentation, "Raspberry Pi revision codes"):
``NOQuuuWuFMMMCCCCPPPPTTTTTTTTRRRR`` — N overvoltage disallowed, O OTP programming
disallowed, Q OTP reading disallowed, W warranty voided, F new-style flag, M memory size,
C manufacturer, P processor, T type, R PCB revision.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

TYPES = {
    0x00: "A",
    0x01: "B",
    0x02: "A+",
    0x03: "B+",
    0x04: "2B",
    0x05: "Alpha (early prototype)",
    0x06: "CM1",
    0x08: "3B",
    0x09: "Zero",
    0x0A: "CM3",
    0x0C: "Zero W",
    0x0D: "3B+",
    0x0E: "3A+",
    0x0F: "Internal use only",
    0x10: "CM3+",
    0x11: "4B",
    0x12: "Zero 2 W",
    0x13: "400",
    0x14: "CM4",
    0x15: "CM4S",
    0x16: "Internal use only",
    0x17: "5",
    0x18: "CM5",
    0x19: "500",
    0x1A: "CM5 Lite",
}

PROCESSORS = {0: "BCM2835", 1: "BCM2836", 2: "BCM2837", 3: "BCM2711", 4: "BCM2712"}

MANUFACTURERS = {
    0: "Sony UK",
    1: "Egoman",
    2: "Embest",
    3: "Sony Japan",
    4: "Embest",
    5: "Stadium",
}

MEMORY_MB = {0: 256, 1: 512, 2: 1024, 3: 2048, 4: 4096, 5: 8192, 6: 16384}

# Old-style codes: (type, pcb revision, memory MB, manufacturer). All are BCM2835 boards.
# 0015 shipped with 256 MB or 512 MB; the table gives both, we report the smaller.
OLD_STYLE = {
    0x0002: ("B", "1.0", 256, "Egoman"),
    0x0003: ("B", "1.0", 256, "Egoman"),
    0x0004: ("B", "2.0", 256, "Sony UK"),
    0x0005: ("B", "2.0", 256, "Qisda"),
    0x0006: ("B", "2.0", 256, "Egoman"),
    0x0007: ("A", "2.0", 256, "Egoman"),
    0x0008: ("A", "2.0", 256, "Sony UK"),
    0x0009: ("A", "2.0", 256, "Qisda"),
    0x000D: ("B", "2.0", 512, "Egoman"),
    0x000E: ("B", "2.0", 512, "Sony UK"),
    0x000F: ("B", "2.0", 512, "Egoman"),
    0x0010: ("B+", "1.2", 512, "Sony UK"),
    0x0011: ("CM1", "1.0", 512, "Sony UK"),
    0x0012: ("A+", "1.1", 256, "Sony UK"),
    0x0013: ("B+", "1.2", 512, "Embest"),
    0x0014: ("CM1", "1.0", 512, "Embest"),
    0x0015: ("A+", "1.1", 256, "Embest"),
}

NEW_FLAG = 1 << 23
WARRANTY_BIT = 1 << 25
OLD_WARRANTY_BIT = 1 << 24  # old-style codes with warranty voided are prefixed 100...


def parse_code(code: Any) -> Optional[int]:
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code if code >= 0 else None
    if not isinstance(code, str):
        return None
    s = code.strip().lower()
    if s.startswith("0x"):
        s = s[2:]
    if not s or len(s) > 8:
        return None
    try:
        return int(s, 16)
    except ValueError:
        return None


def decode(code: Any) -> Optional[dict[str, Any]]:
    """Decode a revision code (hex string or int). ``None`` if it is not a known code."""
    value = parse_code(code)
    if value is None:
        return None
    if value & NEW_FLAG:
        return _decode_new(value)
    return _decode_old(value)


def _decode_new(value: int) -> dict[str, Any]:
    rev = value & 0xF
    typ = (value >> 4) & 0xFF
    proc = (value >> 12) & 0xF
    manu = (value >> 16) & 0xF
    mem = (value >> 20) & 0x7
    return {
        "code": "%x" % value,
        "new_style": True,
        "type": TYPES.get(typ, "unknown (0x%02x)" % typ),
        "memory_mb": MEMORY_MB.get(mem),
        "processor": PROCESSORS.get(proc, "unknown (%d)" % proc),
        "manufacturer": MANUFACTURERS.get(manu, "unknown (%d)" % manu),
        "pcb_revision": "1.%d" % rev,
        "warranty_voided": bool(value & WARRANTY_BIT),
        "overvoltage_disallowed": bool(value & (1 << 31)),
        "otp_program_disallowed": bool(value & (1 << 30)),
        "otp_read_disallowed": bool(value & (1 << 29)),
    }


def _decode_old(value: int) -> Optional[dict[str, Any]]:
    warranty = bool(value & OLD_WARRANTY_BIT)
    entry = OLD_STYLE.get(value & 0xFFFF if warranty else value)
    if entry is None or (value & ~OLD_WARRANTY_BIT) > 0xFFFF:
        return None
    typ, pcb, mem, manu = entry
    return {
        "code": "%04x" % value,
        "new_style": False,
        "type": typ,
        "memory_mb": mem,
        "processor": "BCM2835",
        "manufacturer": manu,
        "pcb_revision": pcb,
        "warranty_voided": warranty,
        "overvoltage_disallowed": False,
        "otp_program_disallowed": False,
        "otp_read_disallowed": False,
    }
