"""What the kernel of a simulated Pi exposes about the firmware: ``rpi_volt`` and
``get_throttled``, laid out and kept up to date as a Raspberry Pi kernel has them.

On Pi 0-4 the firmware driver (``soc:firmware``) registers the raspberrypi-hwmon device, hwmon
name ``rpi_volt``, and a ``get_throttled`` file. Both show the kernel's own view of throttling:
the hwmon driver asks the firmware every 2 s with a mask that clears the sticky bits, so its
``in0_lcrit_alarm`` (bit 16 of that answer) and ``get_throttled`` (the answer itself, ``%x``)
only cover the last poll. The simulator has no 2 s poll; it shows the flags current now, for
both halves: what a poll right now would see. ``vcgencmd get_throttled`` (sim/vcgencmd/) keeps
the firmware's since-boot record. Kernels with the newer raspberrypi-hwmon also report the
firmware's voltages as ``in0_input`` (core) to ``in3_input`` (sdram_p), in millivolts.
"""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.sim.pi_models import PiModel
from fleet_tui.core.sim.pi_state import SimPiState
from fleet_tui.core.sim.tree_writes import ensure_symlink, write_file, write_if_changed

FIRMWARE = "sys/devices/platform/soc/soc:firmware"
VOLT_LABELS = ("core", "sdram_c", "sdram_i", "sdram_p")
SDRAM_MV = 1100  # what the fake vcgencmd says for measure_volts sdram_*


def rpi_hwmon_kind(model: PiModel, state: SimPiState) -> str | None:
    """The state's ``rpi_hwmon`` with "auto" resolved for the model."""
    if state.rpi_hwmon == "auto":
        return None if model.soc == "BCM2712" else "alarm"
    return state.rpi_hwmon


def rpi_volt_dir(model: PiModel) -> str:
    """hwmon1 as on a Pi 4 (hwmon0 is cpu_thermal); hwmon2 where rp1_adc has hwmon1."""
    index = 2 if model.soc == "BCM2712" else 1
    return f"{FIRMWARE}/raspberrypi-hwmon/hwmon/hwmon{index}"


def write_firmware_layout(root: Path, model: PiModel, state: SimPiState) -> None:
    """The fixed part: the hwmon device, its name and labels, the links to it."""
    kind = rpi_hwmon_kind(model, state)
    if kind is None:
        return
    rel = rpi_volt_dir(model)
    hw = root / rel
    write_file(hw / "name", "rpi_volt\n")
    if kind == "volts":
        for n, label in enumerate(VOLT_LABELS):
            write_file(hw / f"in{n}_label", label + "\n")
    ensure_symlink(root / "sys/class/hwmon" / Path(rel).name, "../../" + rel.removeprefix("sys/"))
    ensure_symlink(
        root / "sys/bus/platform/drivers/raspberrypi-firmware/soc:firmware",
        "../../../../devices/platform/soc/soc:firmware",
    )


def write_firmware_values(root: Path, model: PiModel, state: SimPiState, core_volts: float) -> None:
    """The run-time part: the alarm, the kernel's get_throttled, the voltages."""
    kind = rpi_hwmon_kind(model, state)
    if kind is None:
        return
    now = state.throttled & 0xF
    hw = root / rpi_volt_dir(model)
    write_if_changed(hw / "in0_lcrit_alarm", f"{now & 0x1}\n")
    write_if_changed(root / FIRMWARE / "get_throttled", f"{(now << 16) | now:x}\n")
    if kind == "volts":
        microvolts = int(round(core_volts * 1_000_000))  # the firmware's unit
        write_if_changed(hw / "in0_input", f"{microvolts // 1000}\n")  # the driver's
        for n in range(1, len(VOLT_LABELS)):
            write_if_changed(hw / f"in{n}_input", f"{SDRAM_MV}\n")
