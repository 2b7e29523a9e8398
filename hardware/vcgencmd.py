"""Run ``vcgencmd`` (found via PATH) and parse its real output formats.

The parsers use plain string operations: ``re`` alone costs a cold agent more CPU than a
health reading (tests/test_agent_parsing.py holds them to the regular expressions they
replace).
"""

from __future__ import annotations

from .paths import Missing, which

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

THROTTLE_NAMES = ("under_voltage", "freq_capped", "throttled", "soft_temp_limit")

PMIC_LABEL = "PMIC board rails (sum of V*A); excludes 5V USB and HAT loads"

_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"


def find() -> Optional[str]:
    return which("vcgencmd")


def run(*args: str, timeout: float = 3.0) -> str:
    exe = find()
    if exe is None:
        raise Missing("vcgencmd not found on PATH")
    from . import spawn

    try:
        code, out_b, err_b = spawn.run([exe, *args], timeout=timeout)
    except spawn.Timeout:
        raise Missing("vcgencmd %s timed out" % " ".join(args)) from None
    except OSError as e:
        raise Missing("vcgencmd %s failed: %s" % (" ".join(args), e)) from None
    out = out_b.decode("utf-8", "replace")
    if code != 0:
        err = (err_b.decode("utf-8", "replace") or out).strip()
        raise Missing("vcgencmd %s exited %d: %s" % (" ".join(args), code, err[:200]))
    return out


def _number(text: str, key: str, unit: str, start: int = 0) -> Optional[str]:
    """The first ``key`` + ``-?[0-9.]+`` + ``unit`` in ``text``: the number's text."""
    i = text.find(key, start)
    while i >= 0:
        j = k = i + len(key)
        if k < len(text) and text[k] == "-":
            k += 1
        digits = k
        while k < len(text) and (text[k] in _DIGITS or text[k] == "."):
            k += 1
        if k > digits and text.startswith(unit, k):
            return text[j:k]
        i = text.find(key, i + 1)
    return None


def parse_temp(text: str) -> float:
    value = _number(text, "temp=", "'C")
    if value is None:
        raise Missing("unexpected measure_temp output: %r" % text[:80])
    return float(value)


def parse_volts(text: str) -> float:
    value = _number(text, "volt=", "V")
    if value is None:
        raise Missing("unexpected measure_volts output: %r" % text[:80])
    return float(value)


def decode_throttled(value: int) -> dict[str, Any]:
    """Bits 0-3 are current conditions, bits 16-19 the same conditions since boot."""
    current = [n for i, n in enumerate(THROTTLE_NAMES) if value & (1 << i)]
    sticky = [n for i, n in enumerate(THROTTLE_NAMES) if value & (1 << (16 + i))]
    return {"raw": "0x%x" % value, "current": current, "sticky": sticky}


def parse_throttled(text: str) -> dict[str, Any]:
    i = text.find("throttled=0x")
    while i >= 0:
        j = k = i + len("throttled=0x")
        while k < len(text) and text[k] in _HEX:
            k += 1
        if k > j:
            return decode_throttled(int(text[j:k], 16))
        i = text.find("throttled=0x", i + 1)
    raise Missing("unexpected get_throttled output: %r" % text[:80])


def _pmic_line(line: str) -> Optional[tuple[str, str, float]]:
    """``  VDD_CORE_A current(7)=0.74210000A`` -> ("VDD_CORE", "A", 0.7421)."""
    parts = line.split()
    if len(parts) != 2:
        return None
    label, reading = parts
    if len(label) < 3 or label[-2] != "_" or label[-1] not in "AV":
        return None
    for what in ("current(", "volt("):
        if reading.startswith(what):
            break
    else:
        return None
    k = len(what)
    digits = k
    while k < len(reading) and reading[k] in _DIGITS:
        k += 1
    if k == digits or not reading.startswith(")=", k):
        return None
    value = reading[k + 2 : -1]
    if reading[-1:] not in ("A", "V"):
        return None
    body = value[1:] if value.startswith("-") else value
    if not body or any(c not in _DIGITS and c != "." for c in body):
        return None
    return label[:-2], label[-1], float(value)


def parse_pmic(text: str) -> dict[str, Any]:
    """Parse ``vcgencmd pmic_read_adc`` (Pi 5) into rails, summed watts and EXT5V_V."""
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    for line in text.splitlines():
        parsed = _pmic_line(line)
        if parsed is None:
            continue
        name, kind, val = parsed
        (amps if kind == "A" else volts)[name] = val
    if not volts and not amps:
        raise Missing("no PMIC readings in pmic_read_adc output")
    rails: dict[str, dict[str, Any]] = {}
    total = 0.0
    for name in sorted(set(volts) | set(amps)):
        v = volts.get(name)
        a = amps.get(name)
        w = round(v * a, 4) if v is not None and a is not None else None
        if w is not None:
            total += w
        rails[name] = {"v": v, "a": a, "w": w}
    ext5v = volts.get("EXT5V")
    return {
        "rails": rails,
        "total_w": round(total, 3),
        "ext5v_v": ext5v,
        "label": PMIC_LABEL,
    }
