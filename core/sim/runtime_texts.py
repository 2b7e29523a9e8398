"""Contents of the fake files that change at run time: /proc stat, meminfo and net/dev, and
the Pi 5's ``vcgencmd pmic_read_adc`` rails, all derived from the simulated state."""

from __future__ import annotations

from fleet_tui.core.sim.pi_models import PiModel
from fleet_tui.core.sim.pi_physics import utilisation
from fleet_tui.core.sim.pi_state import SimPiState

JIFFIES = 100  # USER_HZ

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


def pmic_text(model: PiModel, state: SimPiState) -> str:
    util = utilisation(model, state)
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


def stat_text(model: PiModel, state: SimPiState) -> str:
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


def net_dev_text(model: PiModel, state: SimPiState) -> str:
    head = (
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
    )
    lo = "    lo: 4096 40 0 0 0 0 0 0 4096 40 0 0 0 0 0 0\n"
    iface = "wlan0" if model.key == "zero2w" else "eth0"
    rx, tx = state.net_rx_bytes, state.net_tx_bytes
    row = f"{iface:>6}: {rx} {rx // 900} 0 0 0 0 0 0 {tx} {tx // 700} 0 0 0 0 0 0\n"
    return head + lo + row


def meminfo_text(model: PiModel, state: SimPiState) -> str:
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
