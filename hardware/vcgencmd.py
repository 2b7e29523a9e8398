"""Run ``vcgencmd`` (found via PATH) and parse its real output formats."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any, Optional

from .paths import Missing

THROTTLE_NAMES = ("under_voltage", "freq_capped", "throttled", "soft_temp_limit")

PMIC_LABEL = "PMIC board rails (sum of V*A); excludes 5V USB and HAT loads"

_TEMP = re.compile(r"temp=(-?[0-9.]+)'C")
_THROTTLED = re.compile(r"throttled=(0x[0-9a-fA-F]+)")
_VOLT = re.compile(r"volt=(-?[0-9.]+)V")
_PMIC = re.compile(r"^\s*(\S+)_([AV])\s+(?:current|volt)\(\d+\)=(-?[0-9.]+)[AV]\s*$")


def find() -> Optional[str]:
    return shutil.which("vcgencmd")


def run(*args: str, timeout: float = 3.0) -> str:
    exe = find()
    if exe is None:
        raise Missing("vcgencmd not found on PATH")
    try:
        proc = subprocess.run(
            [exe, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise Missing("vcgencmd %s timed out" % " ".join(args)) from None
    except OSError as e:
        raise Missing("vcgencmd %s failed: %s" % (" ".join(args), e)) from None
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        err = (proc.stderr.decode("utf-8", "replace") or out).strip()
        raise Missing("vcgencmd %s exited %d: %s" % (" ".join(args), proc.returncode, err[:200]))
    return out


def parse_temp(text: str) -> float:
    m = _TEMP.search(text)
    if not m:
        raise Missing("unexpected measure_temp output: %r" % text[:80])
    return float(m.group(1))


def parse_volts(text: str) -> float:
    m = _VOLT.search(text)
    if not m:
        raise Missing("unexpected measure_volts output: %r" % text[:80])
    return float(m.group(1))


def decode_throttled(value: int) -> dict[str, Any]:
    """Bits 0-3 are current conditions, bits 16-19 the same conditions since boot."""
    current = [n for i, n in enumerate(THROTTLE_NAMES) if value & (1 << i)]
    sticky = [n for i, n in enumerate(THROTTLE_NAMES) if value & (1 << (16 + i))]
    return {"raw": "0x%x" % value, "current": current, "sticky": sticky}


def parse_throttled(text: str) -> dict[str, Any]:
    m = _THROTTLED.search(text)
    if not m:
        raise Missing("unexpected get_throttled output: %r" % text[:80])
    return decode_throttled(int(m.group(1), 16))


def parse_pmic(text: str) -> dict[str, Any]:
    """Parse ``vcgencmd pmic_read_adc`` (Pi 5) into rails, summed watts and EXT5V_V."""
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    for line in text.splitlines():
        m = _PMIC.match(line)
        if not m:
            continue
        name, kind, val = m.group(1), m.group(2), float(m.group(3))
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
