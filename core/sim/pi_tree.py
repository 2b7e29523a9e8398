"""A fake Raspberry Pi filesystem for the simulator, and the simulated state behind it.

``build_pi_tree`` lays out the files the agent reads (device tree, cpuinfo, thermal zone,
LEDs, hwmon fan, os-release, net addresses) plus an executable ``bin/vcgencmd`` that prints
real-format output from files under ``sim/vcgencmd/``. ``write_dynamic`` atomically rewrites
everything that changes at run time; ``step`` advances temperature, fan and throttling from
load with each model's limits. The agent runs with ``FLEET_AGENT_ROOT=root`` and
``PATH=root/bin:$PATH``.

Files under ``sim/`` exist only in the fake tree (``sim/requests`` records reboot/shutdown
requests made through the fake ``sudo``; ``sim/gpio/<n>`` holds relay pins set by the fake
``pinctrl``).
"""

from __future__ import annotations

import math
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.sim.pi_models import PiModel

AMBIENT_C = 25.0
JIFFIES = 100  # USER_HZ

# Pi 5 active-cooler defaults (firmware dtparams fan_temp0..3 / fan_temp0_speed..3).
PI5_FAN_CURVE: tuple[tuple[float, int], ...] = ((50.0, 75), (60.0, 125), (67.5, 175), (75.0, 250))
PI5_FAN_HYST_C = 5.0
# PoE / PoE+ HAT fan defaults (dtparams poe_fan_temp0..3, hysteresis 2 °C).
POE_FAN_CURVE: tuple[tuple[float, int], ...] = ((40.0, 75), (45.0, 125), (50.0, 175), (55.0, 250))
POE_FAN_HYST_C = 2.0
PI5_FAN_MAX_RPM = 8000

LED_TRIGGERS = (
    "none rc-feedback kbd-scrolllock kbd-numlock kbd-capslock kbd-kanalock kbd-shiftlock "
    "kbd-altgrlock kbd-ctrllock kbd-altlock kbd-shiftllock kbd-shiftrlock kbd-ctrlllock "
    "kbd-ctrlrlock timer oneshot heartbeat backlight gpio cpu cpu0 cpu1 cpu2 cpu3 default-on "
    "input panic actpwr mmc1 [mmc0] rfkill-any rfkill-none"
)

# Pi 5 pmic_read_adc rails: (name, current channel, volt channel, volts, idle amps).
PMIC_RAILS: tuple[tuple[str, int, int, float, float], ...] = (
    ("3V7_WL_SW", 0, 8, 3.636, 0.0039),
    ("3V3_SYS", 1, 9, 3.300, 0.0517),
    ("1V8_SYS", 2, 10, 1.799, 0.1649),
    ("DDR_VDD2", 3, 11, 1.111, 0.0205),
    ("DDR_VDDQ", 4, 12, 0.606, 0.0),
    ("1V1_SYS", 5, 13, 1.110, 0.1893),
    ("0V8_SW", 6, 14, 0.803, 0.3231),
    ("VDD_CORE", 7, 15, 0.723, 0.7421),
    ("3V3_DAC", 17, 20, 3.307, 0.0005),
    ("3V3_ADC", 18, 21, 3.310, 0.0004),
    ("0V8_AON", 16, 19, 0.799, 0.0041),
    ("HDMI", 22, 23, 5.133, 0.0210),
)

VCGENCMD_SCRIPT = r"""#!/bin/sh
# Fake vcgencmd (fleet-tui simulator): prints real-format output from files in this tree.
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
S="$ROOT/sim/vcgencmd"
if [ -f "$S/fail" ]; then
    echo "VCHI initialization failed" >&2
    exit 1
fi
case "$1" in
    measure_temp)
        t=$(cat "$ROOT/sys/class/thermal/thermal_zone0/temp") || exit 1
        t=$(( (t + 50) / 100 ))
        printf "temp=%d.%d'C\n" $(( t / 10 )) $(( t % 10 )) ;;
    get_throttled) cat "$S/get_throttled" ;;
    measure_volts)
        case "${2:-core}" in
            core) cat "$S/measure_volts_core" ;;
            *) echo "volt=1.1000V" ;;
        esac ;;
    pmic_read_adc)
        if [ -f "$S/pmic_read_adc" ]; then
            cat "$S/pmic_read_adc"
        else
            echo 'error=1 error_msg="Command not registered"'
            exit 1
        fi ;;
    version) printf 'Mar 17 2024 10:50:39 \nCopyright (c) 2012 Broadcom\nversion simulated (release) (embedded)\n' ;;
    *) echo 'error=1 error_msg="Command not registered"'; exit 1 ;;
esac
"""

# Fake sudo: only "sudo -n CMD ..." is supported; runs CMD from this tree's sim/sudo-bin/
# (fakes of reboot, poweroff, tee, rm, pinctrl), never a host command. sim/sudo_denied makes
# it answer like a sudo without a NOPASSWD rule.
SUDO_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
if [ "$1" != "-n" ]; then echo "sudo: a password is required" >&2; exit 1; fi
shift
if [ -f "$ROOT/sim/sudo_denied" ]; then echo "sudo: a password is required" >&2; exit 1; fi
CMD=$1; shift
if [ "$CMD" = "true" ]; then exit 0; fi
case "$CMD" in
    */*) ;;
    *) CMD="$ROOT/sim/sudo-bin/$CMD" ;;
esac
case "$CMD" in
    "$ROOT"/*) exec "$CMD" "$@" ;;
    *) echo "sudo: $CMD: command not allowed in the simulator" >&2; exit 1 ;;
esac
"""

# reboot / poweroff / shutdown / systemctl: record the request instead of doing it.
REQUEST_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
echo "$(basename "$0") $*" >> "$ROOT/sim/requests"
"""

# tee restricted to this tree (the agent writes sysfs files through "sudo -n tee").
TEE_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
for f in "$@"; do
    case "$f" in
        "$ROOT"/*) ;;
        *) echo "tee: $f: outside the simulated Pi" >&2; exit 1 ;;
    esac
done
for t in /usr/bin/tee /bin/tee; do [ -x "$t" ] && exec "$t" "$@"; done
echo "tee: not found" >&2
exit 127
"""

RM_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
for f in "$@"; do
    case "$f" in
        -f) ;;
        "$ROOT"/*) [ -e "$f" ] && /bin/rm -f -- "$f" ;;
        *) echo "rm: $f: outside the simulated Pi" >&2; exit 1 ;;
    esac
done
exit 0
"""

# pinctrl subset: "pinctrl set N op dh|dl" and "pinctrl get N"; state kept in sim/gpio/N.
PINCTRL_SCRIPT = r"""#!/bin/sh
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
G="$ROOT/sim/gpio"
mkdir -p "$G"
case "$1" in
    set)
        pin=$2; shift 2
        level=""
        for a in "$@"; do
            case "$a" in dh) level=hi ;; dl) level=lo ;; esac
        done
        [ -n "$level" ] && echo "$level" > "$G/$pin" ;;
    get)
        pin=$2
        level=$(cat "$G/$pin" 2>/dev/null || echo lo)
        echo "$pin: op -- pn | $level // GPIO$pin = output" ;;
    *) echo "pinctrl: unsupported in the simulator" >&2; exit 1 ;;
esac
"""


@dataclass
class SimPiState:
    temperature_c: float = 45.0
    throttled: int = 0
    load: float = 0.1  # 1-minute load average (runnable tasks)
    fan_rpm: int | None = None
    fan_pwm: int | None = None  # 0..255
    uptime_s: float = 600.0
    fan_mode: str = "auto"  # "auto" (firmware curve) or "manual" (set through pwm1)
    under_voltage: bool = False
    ambient_c: float = AMBIENT_C
    core_volts: float | None = None  # None: the model's nominal
    ext5v_v: float = 5.13
    mem_available_mb: int | None = None  # None: derived from RAM and load
    disk_total_mb: int = 29_500
    disk_free_mb: int = 21_800
    boot_time: float = field(default_factory=lambda: float(int(time.time() - 600)))
    cpu_busy_s: float = 0.0  # accumulated busy CPU seconds (all cores)
    net_rx_bytes: int = 123_456
    net_tx_bytes: int = 65_432
    poe_hat: bool = False  # a PoE HAT pwm-fan (Pi 3B+/4B)
    power_w: float = 0.0  # last computed board power
    vcgencmd_fail: bool = False
    overheat: bool = False  # blocked airflow / hot enclosure: step() adds OVERHEAT_EXTRA_C
    saved: dict[str, float] = field(default_factory=dict)  # values a cleared fault restores


# --- small helpers --------------------------------------------------------------------------

_known_dirs: set[str] = set()
_last_written: dict[str, bytes] = {}


def _write(path: Path, data: str | bytes, mode: int | None = None) -> None:
    """Atomic write: temp file in the same directory, then rename (readers never see half)."""
    parent = os.path.dirname(path)
    if parent not in _known_dirs:
        os.makedirs(parent, exist_ok=True)
        _known_dirs.add(parent)
    tmp = f"{parent}/.{os.path.basename(path)}.{os.getpid()}.tmp"
    raw = data.encode() if isinstance(data, str) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode is None else mode)
    try:
        os.write(fd, raw)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)


def forget_trees(prefix: Path) -> None:
    """Drop the write caches for every tree under ``prefix`` (a lab that stopped).

    Without this the caches would grow with every lab a long test run starts, and a new tree
    at a reused path would be wrongly assumed to have its directories already.
    """
    text = str(prefix).rstrip("/") + "/"
    _known_dirs.difference_update([d for d in _known_dirs if d.startswith(text)])
    for key in [k for k in _last_written if k.startswith(text)]:
        del _last_written[key]


def _write_if_changed(path: Path, data: str) -> None:
    """For files only the simulator writes: skip the write when the content is unchanged."""
    raw = data.encode()
    key = str(path)
    if _last_written.get(key) == raw and path.exists():
        return
    _write(path, raw)
    _last_written[key] = raw


def _exe(path: Path, text: str) -> None:
    _write(path, text, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)


def _macs(model: PiModel, serial: str) -> dict[str, str]:
    tail = (serial[-6:] if len(serial) >= 6 else serial.rjust(6, "0")).lower()
    try:
        n = int(tail, 16)
    except ValueError:
        n = abs(hash(serial)) & 0xFFFFFF
    oui = model.mac_oui.lower()

    def mac(v: int) -> str:
        v &= 0xFFFFFF
        return f"{oui}:{v >> 16:02x}:{(v >> 8) & 0xFF:02x}:{v & 0xFF:02x}"

    if model.key == "zero2w":
        return {"wlan0": mac(n)}
    return {"eth0": mac(n), "wlan0": mac(n + 1)}


def cpuinfo_text(model: PiModel, serial: str) -> str:
    if model.arch == "armv7l":
        block = (
            "model name\t: ARMv7 Processor rev 4 (v7l)\n"
            "BogoMIPS\t: 38.40\n"
            "Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32 \n"
            "CPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n"
        )
    elif model.soc == "BCM2712":
        block = (
            "BogoMIPS\t: 108.00\n"
            "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n"
        )
    elif model.soc == "BCM2711":
        block = (
            "BogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n"
        )
    else:
        block = (
            "BogoMIPS\t: 38.40\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n"
        )
    parts = [f"processor\t: {i}\n{block}\n" for i in range(model.cores)]
    tail = ""
    if model.soc != "BCM2712":
        tail += "Hardware\t: BCM2835\n"
    tail += f"Revision\t: {model.revision}\nSerial\t\t: {serial}\nModel\t\t: {model.model_string}\n"
    return "".join(parts) + tail


def os_release_text(model: PiModel) -> str:
    if model.arch == "armv7l":
        return (
            'PRETTY_NAME="Raspbian GNU/Linux 12 (bookworm)"\nNAME="Raspbian GNU/Linux"\n'
            'VERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=raspbian\n'
            'ID_LIKE=debian\nHOME_URL="http://www.raspbian.org/"\n'
            'SUPPORT_URL="http://www.raspbian.org/RaspbianForums"\n'
            'BUG_REPORT_URL="http://www.raspbian.org/RaspbianBugs"\n'
        )
    return (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
        'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
        'HOME_URL="https://www.debian.org/"\nSUPPORT_URL="https://www.debian.org/support"\n'
        'BUG_REPORT_URL="https://bugs.debian.org/"\n'
    )


# --- building --------------------------------------------------------------------------------


def fan_hwmon_dir(root: Path) -> Path:
    return root / "sys/devices/platform/cooling_fan/hwmon/hwmon3"


def poe_hwmon_dir(root: Path) -> Path:
    return root / "sys/devices/platform/pwm-fan/hwmon/hwmon4"


def build_pi_tree(
    root: Path, model: PiModel, hostname: str, serial: str, state: SimPiState
) -> None:
    """Create (or refresh) the fake Pi tree under ``root``."""
    root = Path(root)
    dt = root / "sys/firmware/devicetree/base"
    _write(dt / "model", model.model_string + "\0")
    _write(dt / "serial-number", serial + "\0")
    proc = root / "proc"
    proc.mkdir(parents=True, exist_ok=True)
    link = proc / "device-tree"
    if not link.is_symlink() and not link.exists():
        os.symlink("../sys/firmware/devicetree/base", link)
    _write(proc / "cpuinfo", cpuinfo_text(model, serial))
    _write(proc / "sys/kernel/hostname", hostname + "\n")
    _write(proc / "sys/kernel/osrelease", model.kernel + "\n")
    _write(proc / "sys/kernel/arch", model.arch + "\n")
    _write(root / "etc/os-release", os_release_text(model))
    _write(root / "etc/hostname", hostname + "\n")
    for iface, mac in _macs(model, serial).items():
        _write(root / "sys/class/net" / iface / "address", mac + "\n")
        _write(root / "sys/class/net" / iface / "operstate", "up\n")
    _write(root / "sys/class/net/lo/address", "00:00:00:00:00:00\n")
    # Thermal zone and the cpu_thermal hwmon (index 0, so a fan is never assumed at an index).
    tz = root / "sys/class/thermal/thermal_zone0"
    _write(tz / "type", "cpu-thermal\n")
    hw0 = root / "sys/devices/virtual/thermal/thermal_zone0/hwmon0"
    _write(hw0 / "name", "cpu_thermal\n")
    _write(hw0 / "temp1_input", f"{int(round(state.temperature_c * 1000))}\n")
    _symlink(root / "sys/class/hwmon/hwmon0", "../../devices/virtual/thermal/thermal_zone0/hwmon0")
    if model.soc == "BCM2712":
        hw1 = root / "sys/devices/platform/axi/1000120000.pcie/1f000c8000.adc/hwmon/hwmon1"
        _write(hw1 / "name", "rp1_adc\n")
        _symlink(
            root / "sys/class/hwmon/hwmon1",
            "../../devices/platform/axi/1000120000.pcie/1f000c8000.adc/hwmon/hwmon1",
        )
    if model.has_fan:
        d = fan_hwmon_dir(root)
        _write(d / "name", "pwmfan\n")
        _write(d / "pwm1_enable", "2\n")
        _symlink(root / "sys/class/hwmon/hwmon3", "../../devices/platform/cooling_fan/hwmon/hwmon3")
        _write(root / "sys/class/thermal/cooling_device0/type", "pwm-fan\n")
        _write(root / "sys/class/thermal/cooling_device0/max_state", "4\n")
    if state.poe_hat:
        hat = dt / "hat"
        _write(hat / "product", "Raspberry Pi PoE+ HAT\0")
        _write(hat / "vendor", "Raspberry Pi Ltd\0")
        _write(hat / "product_id", "0x0004\0")
        _write(hat / "product_ver", "0x0001\0")
        _write(hat / "uuid", "e2ffa1b1-5b7c-4c44-9c7e-0b3c1f0a6d25\0")
        d = poe_hwmon_dir(root)
        _write(d / "name", "pwmfan\n")
        _write(d / "pwm1_enable", "2\n")
        _symlink(root / "sys/class/hwmon/hwmon4", "../../devices/platform/pwm-fan/hwmon/hwmon4")
    # LEDs: ACT (and PWR) as on bookworm kernels.
    for led, trig, bright in (
        ("ACT", LED_TRIGGERS, "0"),
        (
            "PWR",
            LED_TRIGGERS.replace("[mmc0]", "mmc0").replace("default-on", "[default-on]"),
            "255",
        ),
    ):
        d = root / "sys/class/leds" / led
        _write(d / "trigger", trig + "\n")
        _write(d / "brightness", bright + "\n")
        _write(d / "max_brightness", "255\n")
    (root / "etc/avahi/services").mkdir(parents=True, exist_ok=True)
    (root / "dev").mkdir(parents=True, exist_ok=True)
    _write(root / "dev/gpiochip0", "")
    sim = root / "sim"
    (sim / "vcgencmd").mkdir(parents=True, exist_ok=True)
    (sim / "gpio").mkdir(parents=True, exist_ok=True)
    _write(sim / "model", model.key + "\n")
    # bin/ goes first on PATH for every command of the simulated Pi: only Pi-specific tools.
    bin_ = root / "bin"
    _exe(bin_ / "vcgencmd", VCGENCMD_SCRIPT)
    _exe(bin_ / "sudo", SUDO_SCRIPT)
    _exe(bin_ / "pinctrl", PINCTRL_SCRIPT)
    sbin = sim / "sudo-bin"
    _exe(sbin / "tee", TEE_SCRIPT)
    _exe(sbin / "rm", RM_SCRIPT)
    _exe(
        sbin / "pinctrl",
        PINCTRL_SCRIPT.replace('$(dirname -- "$0")/..', '$(dirname -- "$0")/../..'),
    )
    for name in ("reboot", "poweroff", "shutdown", "systemctl"):
        _exe(sbin / name, REQUEST_SCRIPT)
    if state.fan_pwm is None and (model.has_fan or state.poe_hat):
        state.fan_pwm = 0
        state.fan_rpm = 0 if model.has_fan else None
    write_dynamic(root, state, model)


def _symlink(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        return
    os.symlink(target, link)


# --- dynamic files -----------------------------------------------------------------------------


def _pmic_text(model: PiModel, state: SimPiState) -> str:
    util = _utilisation(model, state)
    core_v = state.core_volts if state.core_volts is not None else model.core_volts + 0.08 * util
    cur: list[str] = []
    volt: list[str] = []
    for name, ci, vi, v, a in PMIC_RAILS:
        if name == "VDD_CORE":
            v = core_v
            a = a + 4.2 * util
        elif name in ("0V8_SW", "1V1_SYS", "DDR_VDD2"):
            a = a * (1.0 + 1.5 * util)
        cur.append(f"{name + '_A':>12} current({ci})={a:.8f}A")
        volt.append(f"{name + '_V':>12} volt({vi})={v:.8f}V")
    volt.append(f"{'EXT5V_V':>12} volt(24)={state.ext5v_v:.8f}V")
    volt.append(f"{'BATT_V':>12} volt(25)={0.003663:.8f}V")
    return "\n".join(cur + volt) + "\n"


def _stat_text(model: PiModel, state: SimPiState) -> str:
    total = int(state.uptime_s * JIFFIES * model.cores)
    busy = min(total, int(state.cpu_busy_s * JIFFIES))
    user = int(busy * 0.7)
    system = busy - user
    idle = total - busy
    lines = [f"cpu  {user} 0 {system} {idle} 0 0 0 0 0 0"]
    for i in range(model.cores):
        lines.append(
            f"cpu{i} {user // model.cores} 0 {system // model.cores} {idle // model.cores} 0 0 0 0 0 0"
        )
    lines += [
        "intr 0",
        f"ctxt {int(state.uptime_s * 900)}",
        f"btime {int(state.boot_time)}",
        f"processes {1000 + int(state.uptime_s / 10)}",
        f"procs_running {max(1, int(round(state.load)))}",
        "procs_blocked 0",
    ]
    return "\n".join(lines) + "\n"


def _net_text(model: PiModel, state: SimPiState) -> str:
    head = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
    )
    lo = "    lo: 4096 40 0 0 0 0 0 0 4096 40 0 0 0 0 0 0\n"
    iface = "wlan0" if model.key == "zero2w" else "eth0"
    rx, tx = state.net_rx_bytes, state.net_tx_bytes
    row = f"{iface:>6}: {rx} {rx // 900} 0 0 0 0 0 0 {tx} {tx // 700} 0 0 0 0 0 0\n"
    return head + lo + row


def _meminfo_text(model: PiModel, state: SimPiState) -> str:
    total_kb = (model.ram_mb - (64 if model.ram_mb <= 1024 else 160)) * 1024
    if state.mem_available_mb is not None:
        avail_kb = state.mem_available_mb * 1024
    else:
        avail_kb = int(total_kb * max(0.15, 0.82 - 0.1 * state.load))
    free_kb = int(avail_kb * 0.6)
    cached_kb = int(avail_kb * 0.35)
    return (
        f"MemTotal:       {total_kb:8d} kB\nMemFree:        {free_kb:8d} kB\n"
        f"MemAvailable:   {avail_kb:8d} kB\nBuffers:           32000 kB\n"
        f"Cached:         {cached_kb:8d} kB\nSwapCached:            0 kB\n"
        "SwapTotal:        102396 kB\nSwapFree:         102396 kB\n"
    )


def read_fan_controls(root: Path, state: SimPiState) -> None:
    """Pull a manual fan setting made by the agent (pwm1_enable=1, pwm1) into ``state``."""
    for d in (fan_hwmon_dir(Path(root)), poe_hwmon_dir(Path(root))):
        try:
            enable = int((d / "pwm1_enable").read_text().strip() or "2")
        except (OSError, ValueError):
            continue
        if enable == 1:
            state.fan_mode = "manual"
            try:
                state.fan_pwm = max(0, min(255, int((d / "pwm1").read_text().strip())))
            except (OSError, ValueError):
                pass
        else:
            state.fan_mode = "auto"
        return


def write_dynamic(root: Path, state: SimPiState, model: PiModel | None = None) -> None:
    """Atomically rewrite the files that change at run time from ``state``."""
    root = Path(root)
    if model is None:
        from core.sim.pi_models import MODELS

        key = (root / "sim/model").read_text().strip() if (root / "sim/model").exists() else "4b"
        model = MODELS.get(key, MODELS["4b"])
    temp_mc = int(round(state.temperature_c * 1000))
    _write_if_changed(root / "sys/class/thermal/thermal_zone0/temp", f"{temp_mc}\n")
    vc = root / "sim/vcgencmd"
    _write_if_changed(vc / "get_throttled", f"throttled=0x{state.throttled:x}\n")
    volts = state.core_volts if state.core_volts is not None else model.core_volts
    _write_if_changed(vc / "measure_volts_core", f"volt={volts:.4f}V\n")
    if model.has_pmic:
        _write_if_changed(vc / "pmic_read_adc", _pmic_text(model, state))
    if state.vcgencmd_fail:
        _write(vc / "fail", "1\n")
    elif (vc / "fail").exists():
        (vc / "fail").unlink()
    _write(root / "proc/uptime", f"{state.uptime_s:.2f} {state.uptime_s * model.cores * 0.9:.2f}\n")
    l1 = state.load
    _write_if_changed(
        root / "proc/loadavg",
        f"{l1:.2f} {l1 * 0.8:.2f} {l1 * 0.6:.2f} 1/{180 + int(l1 * 3)} {4000 + int(state.uptime_s) % 30000}\n",
    )
    _write(root / "proc/stat", _stat_text(model, state))
    _write_if_changed(root / "proc/meminfo", _meminfo_text(model, state))
    _write_if_changed(root / "proc/net/dev", _net_text(model, state))
    _write_if_changed(root / "sim/disk", f"{state.disk_total_mb} {state.disk_free_mb}\n")
    fan_dirs = []
    if model.has_fan:
        fan_dirs.append(fan_hwmon_dir(root))
    if state.poe_hat:
        fan_dirs.append(poe_hwmon_dir(root))
    for d in fan_dirs:
        if state.fan_mode != "manual":
            _write(d / "pwm1", f"{state.fan_pwm or 0}\n")
        if d == fan_hwmon_dir(root):
            _write_if_changed(d / "fan1_input", f"{state.fan_rpm or 0}\n")
    if model.has_fan:
        level = sum(1 for _, s in PI5_FAN_CURVE if (state.fan_pwm or 0) >= s)
        _write_if_changed(root / "sys/class/thermal/cooling_device0/cur_state", f"{level}\n")


# --- simulation step --------------------------------------------------------------------------


def _utilisation(model: PiModel, state: SimPiState) -> float:
    return max(0.0, min(1.0, state.load / float(model.cores)))


def pi5_fan_pwm(
    temp_c: float,
    current_pwm: int,
    curve: tuple[tuple[float, int], ...] = PI5_FAN_CURVE,
    hyst_c: float = PI5_FAN_HYST_C,
) -> int:
    """Stepped fan curve with hysteresis: a level is left only ``hyst_c`` below its entry."""
    pwm = 0
    for t, speed in curve:
        if temp_c >= t or (current_pwm >= speed and temp_c >= t - hyst_c):
            pwm = speed
    return pwm


def fan_rpm_for(pwm: int) -> int:
    if pwm <= 0:
        return 0
    return int(PI5_FAN_MAX_RPM * (0.2 + 0.8 * pwm / 255.0))


def board_power(model: PiModel, state: SimPiState) -> float:
    util = _utilisation(model, state)
    scale = 1.0
    t = state.temperature_c
    if model.soft_temp_limit_c is not None and t >= model.soft_temp_limit_c:
        scale *= 0.85  # 3B+: 1.4 GHz -> 1.2 GHz at the soft limit
    if t >= model.throttle_temp_c:
        frac = (t - model.throttle_temp_c) / max(0.1, model.hard_temp_c - model.throttle_temp_c)
        scale *= max(0.3, 1.0 - 0.7 * min(1.0, frac))
    return model.idle_watts + (model.max_watts - model.idle_watts) * util * scale


def step(state: SimPiState, model: PiModel, dt: float) -> SimPiState:
    """Advance the simulated Pi by ``dt`` seconds (in place; also returned).

    Temperature relaxes towards ambient + power * °C/W (less with airflow) with the model's
    time constant; throttling bits follow the model's soft limit and throttle temperature;
    the Pi 5 fan follows the firmware curve unless set to manual.
    """
    dt = max(0.0, float(dt))
    power = board_power(model, state)
    state.power_w = round(power, 3)
    airflow = 1.0
    pwm = state.fan_pwm or 0
    if model.has_fan or state.poe_hat:
        airflow = 1.0 - 0.55 * (pwm / 255.0)
    target = state.ambient_c + power * model.c_per_watt * airflow
    if state.overheat:
        target += OVERHEAT_EXTRA_C
    if dt > 0:
        state.temperature_c += (target - state.temperature_c) * (1.0 - math.exp(-dt / model.tau_s))
        # Firmware throttles the clock at the hard limit and so holds the SoC just above it.
        state.temperature_c = min(
            state.temperature_c, model.throttle_temp_c + HARD_LIMIT_OVERSHOOT_C
        )
    state.temperature_c = round(state.temperature_c, 3)
    if model.has_fan or state.poe_hat:
        if state.fan_mode != "manual":
            if model.has_fan:
                state.fan_pwm = pi5_fan_pwm(state.temperature_c, pwm)
            else:
                state.fan_pwm = pi5_fan_pwm(state.temperature_c, pwm, POE_FAN_CURVE, POE_FAN_HYST_C)
        state.fan_rpm = fan_rpm_for(state.fan_pwm or 0) if model.has_fan else None
    current = 0
    if state.under_voltage:
        current |= 0x1
    t = state.temperature_c
    if t >= model.throttle_temp_c:
        current |= 0x2 | 0x4
    if model.soft_temp_limit_c is not None and t >= model.soft_temp_limit_c:
        current |= 0x8 | 0x2
    if state.under_voltage:
        current |= 0x2
    sticky = (state.throttled >> 16) & 0xF
    state.throttled = ((sticky | current) << 16) | current
    state.uptime_s += dt
    state.cpu_busy_s += dt * min(float(model.cores), state.load)
    state.net_rx_bytes += int(dt * (800 + 3000 * _utilisation(model, state)))
    state.net_tx_bytes += int(dt * (400 + 1500 * _utilisation(model, state)))
    return state


# --- faults ----------------------------------------------------------------------------------

OVERHEAT_EXTRA_C = 45.0
HARD_LIMIT_OVERSHOOT_C = 1.5
FAULTS = ("overheat", "under_voltage", "disk_full", "vcgencmd_fail", "sudo_denied")


def apply_fault(
    root: Path, state: SimPiState, model: PiModel, kind: str, active: bool = True
) -> None:
    """Turn a Pi-level fault on or off, then rewrite the dynamic files.

    Effects are visible at once (not only after ``step``): ``overheat`` jumps past the
    throttle temperature and keeps heating in ``step``; ``under_voltage`` sets bits 0/16 of
    get_throttled; ``disk_full`` leaves 0 MB free; ``vcgencmd_fail`` makes vcgencmd fail like a
    Pi without /dev/vchiq access; ``sudo_denied`` makes the fake sudo refuse like one without a
    NOPASSWD rule. Network-level faults (SSH down, slow link, agent crash) belong to the lab.
    """
    root = Path(root)
    if kind == "overheat":
        state.overheat = active
        if active:
            state.saved.setdefault("temperature_c", state.temperature_c)
            state.temperature_c = max(state.temperature_c, model.throttle_temp_c + 3.0)
            state.throttled |= 0x6 | 0x60000
        else:
            state.temperature_c = min(state.temperature_c, state.saved.pop("temperature_c", 50.0))
            state.throttled &= ~0xE
    elif kind == "under_voltage":
        state.under_voltage = active
        if active:
            state.throttled |= 0x1 | 0x10000
        else:
            state.throttled &= ~0x1
    elif kind == "disk_full":
        if active:
            state.saved.setdefault("disk_free_mb", float(state.disk_free_mb))
            state.disk_free_mb = 0
        else:
            state.disk_free_mb = int(state.saved.pop("disk_free_mb", state.disk_total_mb * 0.7))
    elif kind == "vcgencmd_fail":
        state.vcgencmd_fail = active
    elif kind == "sudo_denied":
        marker = root / "sim/sudo_denied"
        if active:
            _write(marker, "1\n")
        elif marker.exists():
            marker.unlink()
    else:
        raise ValueError(f"unknown Pi fault {kind!r}; known: {', '.join(FAULTS)}")
    write_dynamic(root, state, model)


def tick(root: Path, state: SimPiState, model: PiModel, dt: float) -> SimPiState:
    """One simulator tick: take the agent's manual fan setting, advance, rewrite the files."""
    read_fan_controls(root, state)
    step(state, model, dt)
    write_dynamic(root, state, model)
    return state
