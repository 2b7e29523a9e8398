"""Health readings: temperature, throttling, volts, PMIC, fan, CPU, memory, disk, network.

What the kernel exposes as the same value is read from sysfs/procfs; ``vcgencmd`` runs only
for what only the firmware has, once per command a reading needs:

- temperature: the thermal zone (``vcgencmd measure_temp`` only without one);
- core volts: ``rpi_volt``'s ``in0_input`` (label ``core``) on kernels whose raspberrypi-hwmon
  has voltage inputs, which is the firmware's own GET_VOLTAGE; else ``measure_volts core``,
  at most every 30 s;
- throttling: ``vcgencmd get_throttled``, because its since-boot ("sticky") half exists only
  in the firmware. The kernel's copies are not the same value: the raspberrypi-hwmon driver
  polls the firmware every 2 s asking it to clear the sticky bits, so both ``rpi_volt``'s
  ``in0_lcrit_alarm`` and the firmware driver's ``get_throttled`` file (a cache of that poll,
  deprecated, and warned about in the kernel log when read on 6.x kernels) only say what
  happened within the last poll. They are the fallback when vcgencmd cannot answer (not
  installed, no access to /dev/vcio): better than no reading, and labelled as such.
"""

from __future__ import annotations

import os
import time
from _thread import allocate_lock

from . import ambient as ambient_sensors
from . import clock, vcgencmd
from .collect import Collector
from .paths import (
    Missing,
    is_rerooted,
    listdir,
    path,
    read_stripped,
    read_text,
    root,
    site_packages,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Optional

    from .collect import Reading

THERMAL = "/sys/class/thermal/thermal_zone0/temp"
HWMON = "/sys/class/hwmon"
FIRMWARE_THROTTLED = "/sys/devices/platform/soc/soc:firmware/get_throttled"
FIRMWARE_DRIVER = "/sys/bus/platform/drivers/raspberrypi-firmware"


# --- hwmon devices -------------------------------------------------------------------------


def hwmon_devices() -> list[tuple[str, str]]:
    """(dir, name) of every hwmon device, in index order (found by name, never by index)."""
    found = []
    for entry in listdir(HWMON):
        d = HWMON + "/" + entry
        try:
            found.append((d, read_stripped(d + "/name")))
        except Missing:
            continue
    return found


def rpi_volt(devices: Optional[list[tuple[str, str]]] = None) -> Optional[str]:
    """The firmware's hwmon device (``rpi_volt``, raspberrypi-hwmon), if this kernel has it."""
    for d, name in hwmon_devices() if devices is None else devices:
        if name == "rpi_volt":
            return d
    return None


# --- temperature, throttling, volts, PMIC -------------------------------------------------


def thermal_zone_temp() -> Reading:
    raw = read_stripped(THERMAL)
    try:
        return round(int(raw) / 1000.0, 2), THERMAL
    except ValueError:
        raise Missing("%s: not an integer: %r" % (THERMAL, raw[:40])) from None


def vcgencmd_temp() -> Reading:
    return vcgencmd.parse_temp(vcgencmd.run("measure_temp")), "vcgencmd measure_temp"


def firmware_throttled_file() -> Optional[str]:
    """The firmware driver's ``get_throttled`` (Pi 0-4: ``soc:firmware``; found through the
    driver's bound devices elsewhere)."""
    if os.path.exists(path(FIRMWARE_THROTTLED)):
        return FIRMWARE_THROTTLED
    for entry in listdir(FIRMWARE_DRIVER):
        p = FIRMWARE_DRIVER + "/" + entry + "/get_throttled"
        if "firmware" in entry and os.path.exists(path(p)):
            return p
    return None


def kernel_throttled(devices: Optional[list[tuple[str, str]]] = None) -> Reading:
    """What the kernel knows of throttling: ``rpi_volt``'s under-voltage alarm where it exists
    (the kernel's own advice), else the firmware driver's ``get_throttled``. Either covers only
    the kernel's last 2 s poll, not the time since boot (see the module docstring)."""
    hw = rpi_volt(devices)
    if hw is not None:
        alarm_file = hw + "/in0_lcrit_alarm"
        try:
            alarm = int(read_stripped(alarm_file))
        except (Missing, ValueError):
            pass
        else:
            reading = vcgencmd.decode_throttled(0x1 if alarm else 0)
            return reading, (
                "%s (kernel: under-voltage now only; no other flag, no history)" % alarm_file
            )
    copy = firmware_throttled_file()
    if copy is None:
        raise Missing("no rpi_volt hwmon and no firmware get_throttled file")
    text = read_stripped(copy)
    try:
        value = int(text, 16)
    except ValueError:
        raise Missing("%s: not hex: %r" % (copy, text[:40])) from None
    return vcgencmd.decode_throttled(value), (
        "%s (kernel: its sticky bits cover its last poll)" % copy
    )


def throttled(devices: Optional[list[tuple[str, str]]] = None) -> Reading:
    try:
        return vcgencmd.parse_throttled(vcgencmd.run("get_throttled")), "vcgencmd get_throttled"
    except Missing as e:
        reason = str(e)
    try:
        value, source = kernel_throttled(devices)
    except Missing as e:
        raise Missing("%s; %s" % (reason, e)) from None
    return value, "%s; %s" % (source, reason)


def hwmon_core_volts(devices: Optional[list[tuple[str, str]]] = None) -> Reading:
    """``rpi_volt`` ``inN_input`` labelled ``core`` (millivolts), on kernels that have it."""
    hw = rpi_volt(devices)
    if hw is None:
        raise Missing("no rpi_volt hwmon")
    for n in range(4):
        try:
            if read_stripped("%s/in%d_label" % (hw, n)) != "core":
                continue
            mv = int(read_stripped("%s/in%d_input" % (hw, n)))
        except (Missing, ValueError):
            continue
        return round(mv / 1000.0, 4), "%s/in%d_input" % (hw, n)
    raise Missing("rpi_volt has no core voltage input (older kernel)")


def core_volts(devices: Optional[list[tuple[str, str]]] = None) -> Reading:
    try:
        return hwmon_core_volts(devices)
    except Missing:
        pass
    return vcgencmd.parse_volts(
        vcgencmd.run("measure_volts", "core")
    ), "vcgencmd measure_volts core"


def pmic(has_pmic: bool) -> Reading:
    if not has_pmic:
        raise Missing("no PMIC on this model (pmic_read_adc is Pi 5 only)")
    return vcgencmd.parse_pmic(vcgencmd.run("pmic_read_adc")), "vcgencmd pmic_read_adc"


# --- fan -----------------------------------------------------------------------------------


def hat_product() -> Optional[str]:
    """The HAT's EEPROM product string (``/proc/device-tree/hat/product``), if a HAT is fitted."""
    try:
        return read_stripped("/proc/device-tree/hat/product") or None
    except Missing:
        return None


def find_fan_hwmon(
    devices: Optional[list[tuple[str, str]]] = None,
) -> Optional[tuple[str, str]]:
    """Return (hwmon dir, kind) of a PWM fan, found by name never by index.

    The Pi 5 active cooler is the ``cooling_fan`` platform device, hwmon name ``pwmfan``; the
    PoE HAT fan on current kernels is also a ``pwmfan`` hwmon, under a ``pwm-fan`` device.
    """
    found: list[tuple[int, str, str]] = []
    for d, name in hwmon_devices() if devices is None else devices:
        if name not in ("pwmfan", "cooling_fan", "rpipoefan"):
            continue
        real = os.path.realpath(path(d))
        if "cooling_fan" in real or name == "cooling_fan":
            found.append((0, d, "cooling_fan"))
        elif "poe" in real.lower() or name == "rpipoefan" or "poe" in (hat_product() or "").lower():
            found.append((1, d, "poe_hat"))
        else:
            found.append((2, d, "pwm_fan"))
    if not found:
        return None
    found.sort()
    return found[0][1], found[0][2]


def find_poe_cooling_device() -> Optional[str]:
    """Older kernels: the PoE HAT fan is a thermal cooling device of type ``rpi-poe-fan``."""
    for entry in listdir("/sys/class/thermal"):
        if not entry.startswith("cooling_device"):
            continue
        d = "/sys/class/thermal/" + entry
        try:
            if read_stripped(d + "/type") == "rpi-poe-fan":
                return d
        except Missing:
            continue
    return None


def _int(p: str) -> Optional[int]:
    try:
        return int(read_stripped(p))
    except (Missing, ValueError):
        return None


PWM_MODES = {0: "full", 1: "manual", 2: "auto"}


def fan(devices: Optional[list[tuple[str, str]]] = None) -> Reading:
    hw = find_fan_hwmon(devices)
    if hw is not None:
        d, kind = hw
        pwm = _int(d + "/pwm1")
        enable = _int(d + "/pwm1_enable")
        return {
            "kind": kind,
            "rpm": _int(d + "/fan1_input"),
            "pwm": pwm,
            "pwm_percent": round(pwm * 100.0 / 255.0, 1) if pwm is not None else None,
            "mode": PWM_MODES.get(enable, None) if enable is not None else None,
        }, d
    cd = find_poe_cooling_device()
    if cd is not None:
        cur = _int(cd + "/cur_state")
        mx = _int(cd + "/max_state")
        pct = round(cur * 100.0 / mx, 1) if cur is not None and mx else None
        return {
            "kind": "poe_hat",
            "rpm": None,
            "pwm": None if pct is None else int(round(pct * 2.55)),
            "pwm_percent": pct,
            "mode": "auto",
            "state": cur,
            "max_state": mx,
        }, cd
    raise Missing("no fan: no hwmon named pwmfan/cooling_fan and no rpi-poe-fan cooling device")


# --- /proc readings -----------------------------------------------------------------------


def uptime() -> Reading:
    text = read_text("/proc/uptime")
    try:
        return float(text.split()[0]), "/proc/uptime"
    except (IndexError, ValueError):
        raise Missing("/proc/uptime: unexpected %r" % text[:40]) from None


def load() -> Reading:
    text = read_text("/proc/loadavg")
    try:
        return [float(x) for x in text.split()[:3]], "/proc/loadavg"
    except ValueError:
        raise Missing("/proc/loadavg: unexpected %r" % text[:40]) from None


def parse_meminfo(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            try:
                out[key.strip()] = int(parts[0])
            except ValueError:
                pass
    return out


def cpu_times() -> tuple[int, int]:
    """(total jiffies, busy jiffies) from the ``cpu`` line of /proc/stat."""
    for line in read_text("/proc/stat").splitlines():
        if line.startswith("cpu "):
            vals = [int(x) for x in line.split()[1:]]
            idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
            total = sum(vals[:8])
            return total, total - idle
    raise Missing("/proc/stat has no cpu line")


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        vals = rest.split()
        if not name or name == "lo" or len(vals) < 16:
            continue
        try:
            nums = [int(v) for v in vals]
        except ValueError:
            continue
        out[name] = {
            "rx_bytes": nums[0],
            "rx_packets": nums[1],
            "rx_errs": nums[2],
            "rx_drop": nums[3],
            "tx_bytes": nums[8],
            "tx_packets": nums[9],
            "tx_errs": nums[10],
            "tx_drop": nums[11],
        }
    return out


def disk() -> Reading:
    r = root()
    if is_rerooted():
        # Simulator hook (re-rooted only): a fake Pi can report a full disk.
        try:
            text = read_stripped("/sim/disk")
            total, free = (int(x) for x in text.split()[:2])
            return (total, free), "sim:/sim/disk"
        except (Missing, ValueError):
            pass
    st = os.statvfs(r)
    total = st.f_blocks * st.f_frsize // (1024 * 1024)
    free = st.f_bavail * st.f_frsize // (1024 * 1024)
    return (total, free), "statvfs(%s)" % r


class Sampler:
    """Keeps the previous CPU and network counters so rates can be computed."""

    def __init__(self) -> None:
        self.lock = allocate_lock()
        self.cpu: Optional[tuple[float, int, int]] = None
        self.net: Optional[tuple[float, dict[str, dict[str, int]]]] = None
        self.volts: Optional[tuple[float, Any, str]] = None

    def core_volts(self, devices: Optional[list[tuple[str, str]]] = None) -> Reading:
        now = time.monotonic()
        cached = self.volts
        if cached is not None and now - cached[0] < VOLTS_TTL_S:
            return cached[1], cached[2]
        value, source = core_volts(devices)
        self.volts = (now, value, source)
        return value, source

    def prime(self) -> None:
        try:
            self.cpu_percent()
        except Exception:
            pass
        try:
            self.net_counters()
        except Exception:
            pass

    def cpu_percent(self) -> Reading:
        try:
            total, busy = cpu_times()
        except Missing:
            if is_rerooted():
                raise
            try:
                site_packages()
                import psutil  # optional, only where /proc is unavailable
            except ImportError:
                raise Missing("/proc/stat unreadable and psutil not installed") from None
            return psutil.cpu_percent(interval=None), "psutil"
        now = time.monotonic()
        with self.lock:
            prev, self.cpu = self.cpu, (now, total, busy)
        if prev is None:
            raise Missing("first CPU sample; percentage needs two")
        dt = total - prev[1]
        if dt <= 0:
            raise Missing("no CPU time elapsed since the previous sample")
        return round(100.0 * (busy - prev[2]) / dt, 1), "/proc/stat"

    def net_counters(self) -> Reading:
        ifaces = parse_net_dev(read_text("/proc/net/dev"))
        now = time.monotonic()
        with self.lock:
            prev, self.net = self.net, (now, ifaces)
        rates: Optional[dict[str, Any]] = None
        if prev is not None and now > prev[0]:
            dt = now - prev[0]
            rx = tx = 0
            for name, c in ifaces.items():
                p = prev[1].get(name)
                if p is not None:
                    rx += max(0, c["rx_bytes"] - p["rx_bytes"])
                    tx += max(0, c["tx_bytes"] - p["tx_bytes"])
            rates = {"rx_bps": round(rx / dt, 1), "tx_bps": round(tx / dt, 1)}
        result: dict[str, Any] = {"ifaces": ifaces}
        result.update(rates or {"rx_bps": None, "tx_bps": None})
        return result, "/proc/net/dev"


HEALTH_FIELDS = (
    "uptime_s",
    "temperature_c",
    "throttled",
    "core_volts",
    "load",
    "cpu_percent",
    "mem_total_mb",
    "mem_available_mb",
    "disk_total_mb",
    "disk_free_mb",
    "pmic",
    "fan",
    "net",
    "ambient",
)

VOLTS_TTL_S = 30.0  # the core voltage barely moves; saves a vcgencmd run per sample


def _meminfo_or_psutil() -> tuple[dict[str, int], str]:
    try:
        return parse_meminfo(read_text("/proc/meminfo")), "/proc/meminfo"
    except Missing as e:
        if is_rerooted():
            raise
        try:
            site_packages()
            import psutil  # optional, only where /proc is unavailable
        except ImportError:
            raise e from None
        vm = psutil.virtual_memory()
        return {"MemTotal": vm.total // 1024, "MemAvailable": vm.available // 1024}, "psutil"


def health(
    sampler: Sampler, has_pmic: bool, fields: Optional[Iterable[str]] = None
) -> dict[str, Any]:
    """One health sample. ``fields`` limits the sample to those readings (``time`` always)."""
    want = set(HEALTH_FIELDS if fields is None else fields)
    devices = hwmon_devices() if want & {"throttled", "core_volts", "fan", "ambient"} else []
    c = Collector()
    now, source = clock.now()
    c.put("time", now, source)
    if "uptime_s" in want:
        c.run("uptime_s", uptime)
    if "temperature_c" in want:
        c.first("temperature_c", thermal_zone_temp, vcgencmd_temp)
    if "throttled" in want:
        c.run("throttled", lambda: throttled(devices))
    if "core_volts" in want:
        c.run("core_volts", lambda: sampler.core_volts(devices))
    if "load" in want:
        c.run("load", load)
    if "cpu_percent" in want:
        c.run("cpu_percent", sampler.cpu_percent)
    if want & {"mem_total_mb", "mem_available_mb"}:
        try:
            mem, src = _meminfo_or_psutil()
            for field, key in (("mem_total_mb", "MemTotal"), ("mem_available_mb", "MemAvailable")):
                if field not in want:
                    continue
                if key in mem:
                    c.put(field, mem[key] // 1024, src)
                else:
                    c.miss(field, "%s has no %s" % (src, key))
        except Missing as e:
            for field in want & {"mem_total_mb", "mem_available_mb"}:
                c.miss(field, str(e))
    if want & {"disk_total_mb", "disk_free_mb"}:
        try:
            (total, free), src = disk()
            if "disk_total_mb" in want:
                c.put("disk_total_mb", total, src)
            if "disk_free_mb" in want:
                c.put("disk_free_mb", free, src)
        except Exception as e:
            for field in want & {"disk_total_mb", "disk_free_mb"}:
                c.miss(field, str(e))
    if "pmic" in want:
        c.run("pmic", lambda: pmic(has_pmic))
    if "fan" in want:
        c.run("fan", lambda: fan(devices))
    if "net" in want:
        c.run("net", sampler.net_counters)
    if "ambient" in want:
        c.run("ambient", lambda: ambient_sensors.ambient(devices))
    return c.finish()
