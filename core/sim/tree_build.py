"""Laying out a fake Pi tree: the files the agent reads, as the given model has them.

The device tree, cpuinfo, kernel and os-release names, network addresses, the thermal zone
and hwmon devices (the firmware's ``rpi_volt`` where the kernel has it, and a fan when the
model or a PoE HAT has one), LEDs, the fake commands, and then every run-time file from the
state. The agent runs with ``FLEET_AGENT_ROOT=root``
and ``PATH=root/bin:$PATH``.
"""

from __future__ import annotations

from pathlib import Path

from fleet_tui.core.sim.fake_commands import install_fake_commands
from fleet_tui.core.sim.pi_kernel import write_firmware_layout
from fleet_tui.core.sim.pi_models import PiModel
from fleet_tui.core.sim.pi_paths import fan_hwmon_dir, poe_hwmon_dir
from fleet_tui.core.sim.pi_state import SimPiState
from fleet_tui.core.sim.probes import write_probe_layout
from fleet_tui.core.sim.static_texts import (
    LED_TRIGGERS,
    cpuinfo_text,
    mac_addresses,
    os_release_text,
)
from fleet_tui.core.sim.tree_refresh import write_dynamic
from fleet_tui.core.sim.tree_writes import ensure_symlink, write_file

DEVICE_TREE = "sys/firmware/devicetree/base"


def build_pi_tree(
    root: Path, model: PiModel, hostname: str, serial: str, state: SimPiState
) -> None:
    """Create (or refresh) the fake Pi tree under ``root``."""
    root = Path(root)
    _write_identity(root, model, hostname, serial)
    _write_thermal(root, model, state)
    write_firmware_layout(root, model, state)
    _write_fans(root, model, state)
    write_probe_layout(root, state)
    _write_leds(root)
    (root / "etc/avahi/services").mkdir(parents=True, exist_ok=True)
    (root / "dev").mkdir(parents=True, exist_ok=True)
    write_file(root / "dev/gpiochip0", "")
    sim = root / "sim"
    (sim / "vcgencmd").mkdir(parents=True, exist_ok=True)
    (sim / "gpio").mkdir(parents=True, exist_ok=True)
    write_file(sim / "model", model.key + "\n")
    install_fake_commands(root)
    if state.fan_pwm is None and (model.has_fan or state.poe_hat):
        state.fan_pwm = 0
        state.fan_rpm = 0 if model.has_fan else None
    write_dynamic(root, state, model)


def _write_identity(root: Path, model: PiModel, hostname: str, serial: str) -> None:
    """Device tree, cpuinfo, kernel and OS names, hostname and network addresses."""
    dt = root / DEVICE_TREE
    write_file(dt / "model", model.model_string + "\0")
    write_file(dt / "serial-number", serial + "\0")
    proc = root / "proc"
    ensure_symlink(proc / "device-tree", "../" + DEVICE_TREE)
    write_file(proc / "cpuinfo", cpuinfo_text(model, serial))
    write_file(proc / "sys/kernel/hostname", hostname + "\n")
    write_file(proc / "sys/kernel/osrelease", model.kernel + "\n")
    write_file(proc / "sys/kernel/arch", model.arch + "\n")
    write_file(root / "etc/os-release", os_release_text(model))
    write_file(root / "etc/hostname", hostname + "\n")
    for iface, mac in mac_addresses(model, serial).items():
        write_file(root / "sys/class/net" / iface / "address", mac + "\n")
        write_file(root / "sys/class/net" / iface / "operstate", "up\n")
    write_file(root / "sys/class/net/lo/address", "00:00:00:00:00:00\n")


def _write_thermal(root: Path, model: PiModel, state: SimPiState) -> None:
    """The thermal zone and the hwmon devices that are not fans."""
    # Thermal zone and the cpu_thermal hwmon (index 0, so a fan is never assumed at an index).
    tz = root / "sys/class/thermal/thermal_zone0"
    write_file(tz / "type", "cpu-thermal\n")
    hw0 = root / "sys/devices/virtual/thermal/thermal_zone0/hwmon0"
    write_file(hw0 / "name", "cpu_thermal\n")
    write_file(hw0 / "temp1_input", f"{int(round(state.temperature_c * 1000))}\n")
    ensure_symlink(
        root / "sys/class/hwmon/hwmon0", "../../devices/virtual/thermal/thermal_zone0/hwmon0"
    )
    if model.soc == "BCM2712":
        hw1 = root / "sys/devices/platform/axi/1000120000.pcie/1f000c8000.adc/hwmon/hwmon1"
        write_file(hw1 / "name", "rp1_adc\n")
        ensure_symlink(
            root / "sys/class/hwmon/hwmon1",
            "../../devices/platform/axi/1000120000.pcie/1f000c8000.adc/hwmon/hwmon1",
        )


def _write_fans(root: Path, model: PiModel, state: SimPiState) -> None:
    """The Pi 5 active cooler and a PoE HAT's fan, each as a pwm-fan hwmon device."""
    if model.has_fan:
        d = fan_hwmon_dir(root)
        write_file(d / "name", "pwmfan\n")
        write_file(d / "pwm1_enable", "2\n")
        ensure_symlink(
            root / "sys/class/hwmon/hwmon3", "../../devices/platform/cooling_fan/hwmon/hwmon3"
        )
        write_file(root / "sys/class/thermal/cooling_device0/type", "pwm-fan\n")
        write_file(root / "sys/class/thermal/cooling_device0/max_state", "4\n")
    if state.poe_hat:
        hat = root / DEVICE_TREE / "hat"
        write_file(hat / "product", "Raspberry Pi PoE+ HAT\0")
        write_file(hat / "vendor", "Raspberry Pi Ltd\0")
        write_file(hat / "product_id", "0x0004\0")
        write_file(hat / "product_ver", "0x0001\0")
        write_file(hat / "uuid", "e2ffa1b1-5b7c-4c44-9c7e-0b3c1f0a6d25\0")
        d = poe_hwmon_dir(root)
        write_file(d / "name", "pwmfan\n")
        write_file(d / "pwm1_enable", "2\n")
        ensure_symlink(
            root / "sys/class/hwmon/hwmon4", "../../devices/platform/pwm-fan/hwmon/hwmon4"
        )


def _write_leds(root: Path) -> None:
    """ACT (and PWR) LEDs as on bookworm kernels."""
    for led, trig, bright in (
        ("ACT", LED_TRIGGERS, "0"),
        (
            "PWR",
            LED_TRIGGERS.replace("[mmc0]", "mmc0").replace("default-on", "[default-on]"),
            "255",
        ),
    ):
        d = root / "sys/class/leds" / led
        write_file(d / "trigger", trig + "\n")
        write_file(d / "brightness", bright + "\n")
        write_file(d / "max_brightness", "255\n")
