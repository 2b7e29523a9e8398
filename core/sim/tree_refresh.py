"""Keeping a fake tree's run-time files in step with the simulated state.

``write_dynamic`` rewrites everything that changes (temperature, throttling, volts, /proc,
fan, the kernel's firmware files); ``read_fan_controls`` takes back a manual fan setting the agent wrote; ``tick`` is one
simulator step of both around ``step``.
"""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.sim.pi_kernel import write_firmware_values
from fleet_tui.core.sim.pi_models import MODELS, PiModel
from fleet_tui.core.sim.pi_paths import fan_hwmon_dir, poe_hwmon_dir
from fleet_tui.core.sim.pi_physics import PI5_FAN_CURVE, step
from fleet_tui.core.sim.pi_state import SimPiState
from fleet_tui.core.sim.probes import write_probe_values
from fleet_tui.core.sim.runtime_texts import meminfo_text, net_dev_text, pmic_text, stat_text
from fleet_tui.core.sim.tree_writes import write_file, write_if_changed


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
        key = (root / "sim/model").read_text().strip() if (root / "sim/model").exists() else "4b"
        model = MODELS.get(key, MODELS["4b"])
    temp_mc = int(round(state.temperature_c * 1000))
    write_if_changed(root / "sys/class/thermal/thermal_zone0/temp", f"{temp_mc}\n")
    vc = root / "sim/vcgencmd"
    write_if_changed(vc / "get_throttled", f"throttled=0x{state.throttled:x}\n")
    volts = state.core_volts if state.core_volts is not None else model.core_volts
    write_if_changed(vc / "measure_volts_core", f"volt={volts:.4f}V\n")
    write_firmware_values(root, model, state, volts)
    if model.has_pmic:
        write_if_changed(vc / "pmic_read_adc", pmic_text(model, state))
    if state.vcgencmd_fail:
        write_file(vc / "fail", "1\n")
    elif (vc / "fail").exists():
        (vc / "fail").unlink()
    write_file(
        root / "proc/uptime", f"{state.uptime_s:.2f} {state.uptime_s * model.cores * 0.9:.2f}\n"
    )
    l1 = state.load
    write_if_changed(
        root / "proc/loadavg",
        f"{l1:.2f} {l1 * 0.8:.2f} {l1 * 0.6:.2f} 1/{180 + int(l1 * 3)} {4000 + int(state.uptime_s) % 30000}\n",
    )
    write_file(root / "proc/stat", stat_text(model, state))
    write_if_changed(root / "proc/meminfo", meminfo_text(model, state))
    write_if_changed(root / "proc/net/dev", net_dev_text(model, state))
    write_if_changed(root / "sim/disk", f"{state.disk_total_mb} {state.disk_free_mb}\n")
    fan_dirs = []
    if model.has_fan:
        fan_dirs.append(fan_hwmon_dir(root))
    if state.poe_hat:
        fan_dirs.append(poe_hwmon_dir(root))
    for d in fan_dirs:
        if state.fan_mode != "manual":  # the agent writes pwm1 too: no cache to trust
            write_file(d / "pwm1", f"{state.fan_pwm or 0}\n")
        if d == fan_hwmon_dir(root):
            write_if_changed(d / "fan1_input", f"{state.fan_rpm or 0}\n")
    if model.has_fan:
        level = sum(1 for _, s in PI5_FAN_CURVE if (state.fan_pwm or 0) >= s)
        write_if_changed(root / "sys/class/thermal/cooling_device0/cur_state", f"{level}\n")
    write_probe_values(root, state)


def tick(root: Path, state: SimPiState, model: PiModel, dt: float) -> SimPiState:
    """One simulator tick: take the agent's manual fan setting, advance, rewrite the files."""
    read_fan_controls(root, state)
    step(state, model, dt)
    write_dynamic(root, state, model)
    return state
