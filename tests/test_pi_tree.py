"""The fake Pi tree and the simulated Pi state."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import (
    SimPiState,
    apply_fault,
    build_pi_tree,
    step,
    write_dynamic,
)
from fleet_tui.hardware import revision


@pytest.mark.parametrize("key", sorted(MODELS))
def test_models_match_revision_codes(key: str) -> None:
    m = MODELS[key]
    d = revision.decode(m.revision)
    assert d is not None and d["new_style"]
    assert d["processor"] == m.soc
    assert d["memory_mb"] == m.ram_mb
    assert m.model_string.startswith("Raspberry Pi")


def test_model_strings_are_the_real_ones() -> None:
    assert (
        MODELS["4b"].model_string == "Raspberry Pi 4 Model B Rev 1.4"
        and MODELS["4b"].revision == "c03114"
    )
    assert (
        MODELS["5"].model_string == "Raspberry Pi 5 Model B Rev 1.0"
        and MODELS["5"].revision == "d04170"
    )
    assert (
        MODELS["3b+"].model_string == "Raspberry Pi 3 Model B Plus Rev 1.3"
        and MODELS["3b+"].revision == "a020d3"
    )
    assert (
        MODELS["zero2w"].model_string == "Raspberry Pi Zero 2 W Rev 1.0"
        and MODELS["zero2w"].revision == "902120"
    )
    assert (
        MODELS["cm4"].model_string == "Raspberry Pi Compute Module 4 Rev 1.0"
        and MODELS["cm4"].revision == "b03140"
    )
    assert MODELS["3b+"].soft_temp_limit_c == 60.0


def _vc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "bin/vcgencmd"), *args], capture_output=True, text=True, timeout=10
    )


def test_tree_layout_and_vcgencmd(tmp_path: Path) -> None:
    st = SimPiState(temperature_c=48.3, throttled=0x50005)
    build_pi_tree(tmp_path, MODELS["5"], "pi-a", "6a1b2c3d4e5f6071", st)
    assert (tmp_path / "proc/device-tree/model").read_bytes() == b"Raspberry Pi 5 Model B Rev 1.0\0"
    assert (
        tmp_path / "sys/firmware/devicetree/base/serial-number"
    ).read_bytes() == b"6a1b2c3d4e5f6071\0"
    assert "Revision\t: d04170" in (tmp_path / "proc/cpuinfo").read_text()
    assert (tmp_path / "sys/class/thermal/thermal_zone0/temp").read_text().strip() == "48300"
    assert "[mmc0]" in (tmp_path / "sys/class/leds/ACT/trigger").read_text()
    assert (tmp_path / "sys/class/hwmon/hwmon3/name").read_text().strip() == "pwmfan"
    assert os.access(tmp_path / "bin/vcgencmd", os.X_OK)
    assert _vc(tmp_path, "measure_temp").stdout == "temp=48.3'C\n"
    assert _vc(tmp_path, "get_throttled").stdout == "throttled=0x50005\n"
    assert _vc(tmp_path, "measure_volts", "core").stdout.startswith("volt=0.7")
    assert "EXT5V_V volt(24)=" in _vc(tmp_path, "pmic_read_adc").stdout
    st.temperature_c = 71.25
    st.throttled = 0
    write_dynamic(tmp_path, st)
    assert (
        _vc(tmp_path, "measure_temp").stdout == "temp=71.2'C\n"
        or _vc(tmp_path, "measure_temp").stdout == "temp=71.3'C\n"
    )
    assert _vc(tmp_path, "get_throttled").stdout == "throttled=0x0\n"


def test_pmic_absent_on_pi4(tmp_path: Path) -> None:
    build_pi_tree(tmp_path, MODELS["4b"], "pi-b", "10000000a3f2b1c9", SimPiState())
    r = _vc(tmp_path, "pmic_read_adc")
    assert r.returncode != 0
    assert not (tmp_path / "sys/class/hwmon/hwmon3").exists()


def test_step_heats_with_load_and_fan_spins_on_pi5() -> None:
    m = MODELS["5"]
    st = SimPiState(temperature_c=40.0, load=4.0)
    for _ in range(600):
        step(st, m, 1.0)
    assert st.temperature_c > 55.0
    assert (st.fan_pwm or 0) > 0 and (st.fan_rpm or 0) > 0
    assert st.temperature_c < m.throttle_temp_c  # the fan keeps a loaded Pi 5 below throttling
    st.load = 0.0
    for _ in range(900):
        step(st, m, 1.0)
    assert st.temperature_c < 50.0


def test_step_3bplus_soft_limit_sets_bits() -> None:
    m = MODELS["3b+"]
    st = SimPiState(temperature_c=40.0, load=4.0)
    for _ in range(600):
        step(st, m, 1.0)
    assert st.temperature_c >= 60.0
    assert st.throttled & 0x8 and st.throttled & 0x80000
    st.load = 0.0
    for _ in range(900):
        step(st, m, 1.0)
    assert not st.throttled & 0x8  # current bit cleared
    assert st.throttled & 0x80000  # sticky bit kept


def test_under_voltage_flag() -> None:
    st = SimPiState(under_voltage=True)
    step(st, MODELS["4b"], 1.0)
    assert st.throttled & 0x1 and st.throttled & 0x10000


def test_pi5_fan_curve_hysteresis() -> None:
    from fleet_tui.core.sim.pi_tree import pi5_fan_pwm

    assert pi5_fan_pwm(45.0, 0) == 0
    assert pi5_fan_pwm(50.0, 0) == 75
    assert pi5_fan_pwm(61.0, 75) == 125
    assert pi5_fan_pwm(57.0, 125) == 125  # within 5 °C hysteresis of the 60 °C step
    assert pi5_fan_pwm(54.0, 125) == 75
    assert pi5_fan_pwm(80.0, 0) == 250


def test_manual_fan_is_kept_by_step() -> None:
    st = SimPiState(temperature_c=70.0, fan_mode="manual", fan_pwm=30)
    step(st, MODELS["5"], 10.0)
    assert st.fan_pwm == 30 and st.fan_rpm and st.fan_rpm > 0


def test_poe_hat_fan_curve_on_pi4() -> None:
    st = SimPiState(temperature_c=52.0, poe_hat=True, fan_pwm=0)
    step(st, MODELS["4b"], 1.0)
    assert st.fan_pwm == 175 and st.fan_rpm is None


@pytest.mark.parametrize("key", sorted(MODELS))
def test_idle_and_loaded_temperatures_are_plausible(key: str) -> None:
    m = MODELS[key]
    idle = SimPiState(temperature_c=25.0, load=0.05)
    busy = SimPiState(temperature_c=25.0, load=float(m.cores))
    for _ in range(3000):
        step(idle, m, 1.0)
        step(busy, m, 1.0)
    assert 28.0 < idle.temperature_c < 55.0
    assert idle.temperature_c + 8 < busy.temperature_c <= m.hard_temp_c + 1
    assert m.idle_watts <= idle.power_w < busy.power_w <= m.max_watts


def test_faults_visible_to_the_agent(tmp_path: Path) -> None:
    from fleet_tui.core.sim.pi_tree import apply_fault

    m = MODELS["4b"]
    st = SimPiState(temperature_c=50.0)
    build_pi_tree(tmp_path, m, "f", "10000000a3f2b1c9", st)
    apply_fault(tmp_path, st, m, "overheat")
    assert st.temperature_c >= m.throttle_temp_c
    assert _vc(tmp_path, "get_throttled").stdout == "throttled=0x60006\n"
    for _ in range(300):
        step(st, m, 1.0)
    assert st.temperature_c >= m.throttle_temp_c  # stays hot while the fault is on
    apply_fault(tmp_path, st, m, "overheat", active=False)
    assert st.temperature_c <= 50.0
    apply_fault(tmp_path, st, m, "under_voltage")
    assert int(_vc(tmp_path, "get_throttled").stdout.split("=")[1], 16) & 0x10001 == 0x10001
    apply_fault(tmp_path, st, m, "disk_full")
    assert (tmp_path / "sim/disk").read_text().split()[1] == "0"
    apply_fault(tmp_path, st, m, "disk_full", active=False)
    assert int((tmp_path / "sim/disk").read_text().split()[1]) > 0
    apply_fault(tmp_path, st, m, "vcgencmd_fail")
    assert _vc(tmp_path, "measure_temp").returncode != 0
    apply_fault(tmp_path, st, m, "vcgencmd_fail", active=False)
    assert _vc(tmp_path, "measure_temp").returncode == 0
    apply_fault(tmp_path, st, m, "sudo_denied")
    assert (tmp_path / "sim/sudo_denied").exists()
    with pytest.raises(ValueError):
        apply_fault(tmp_path, st, m, "gremlins")


def test_tick_honours_manual_fan_set_by_agent(tmp_path: Path) -> None:
    from fleet_tui.core.sim.pi_tree import fan_hwmon_dir, tick

    m = MODELS["5"]
    st = SimPiState(temperature_c=70.0, load=4.0)
    build_pi_tree(tmp_path, m, "t", "6a1b2c3d4e5f6071", st)
    tick(tmp_path, st, m, 1.0)
    assert st.fan_pwm and st.fan_pwm >= 175  # auto curve at 70 °C
    d = fan_hwmon_dir(tmp_path)
    (d / "pwm1_enable").write_text("1\n")
    (d / "pwm1").write_text("40\n")
    tick(tmp_path, st, m, 1.0)
    assert st.fan_mode == "manual" and st.fan_pwm == 40
    assert (d / "pwm1").read_text().strip() == "40"
    assert int((d / "fan1_input").read_text()) == st.fan_rpm


@pytest.mark.parametrize("key", sorted(MODELS))
def test_overheat_is_held_near_the_hard_limit_like_real_firmware(key: str) -> None:
    model = MODELS[key]
    state = SimPiState(temperature_c=50.0, load=float(model.cores))
    state.overheat = True
    for _ in range(600):  # ten simulated minutes
        step(state, model, 1.0)
    assert model.throttle_temp_c <= state.temperature_c <= model.throttle_temp_c + 2.0
    assert state.throttled & 0x4, "the throttled flag must be set while held at the limit"


def _firmware(root: Path) -> Path:
    return root / "sys/devices/platform/soc/soc:firmware"


def _hwmon_names(root: Path) -> dict[str, str]:
    return {
        d.name: (d / "name").read_text().strip()
        for d in sorted((root / "sys/class/hwmon").iterdir())
    }


@pytest.mark.parametrize("key", ["3b+", "4b", "zero2w", "cm4"])
def test_pi0_to_4_kernels_expose_rpi_volt_and_get_throttled(tmp_path: Path, key: str) -> None:
    """As a Raspberry Pi kernel lays them out: rpi_volt under the firmware device, linked from
    /sys/class/hwmon and found by name; the firmware driver's get_throttled (%x, no 0x)."""
    st = SimPiState(throttled=0x50005)
    build_pi_tree(tmp_path, MODELS[key], "pi", "10000000c0ffee02", st)
    assert _hwmon_names(tmp_path)["hwmon1"] == "rpi_volt"
    hw = tmp_path / "sys/class/hwmon/hwmon1"
    assert os.path.realpath(hw) == str(_firmware(tmp_path) / "raspberrypi-hwmon/hwmon/hwmon1")
    assert sorted(p.name for p in hw.iterdir()) == ["in0_lcrit_alarm", "name"]  # no inputs yet
    assert (hw / "in0_lcrit_alarm").read_text() == "1\n"
    assert (_firmware(tmp_path) / "get_throttled").read_text() == "50005\n"
    driver = tmp_path / "sys/bus/platform/drivers/raspberrypi-firmware/soc:firmware"
    assert os.path.realpath(driver) == str(_firmware(tmp_path))


def test_kernel_files_show_the_kernels_last_poll_not_since_boot(tmp_path: Path) -> None:
    m = MODELS["4b"]
    st = SimPiState()
    build_pi_tree(tmp_path, m, "pi", "10000000c0ffee03", st)
    alarm = tmp_path / "sys/class/hwmon/hwmon1/in0_lcrit_alarm"
    kernel = _firmware(tmp_path) / "get_throttled"
    assert (alarm.read_text(), kernel.read_text()) == ("0\n", "0\n")
    apply_fault(tmp_path, st, m, "under_voltage")
    assert (alarm.read_text(), kernel.read_text()) == ("1\n", "10001\n")
    assert _vc(tmp_path, "get_throttled").stdout == "throttled=0x10001\n"
    apply_fault(tmp_path, st, m, "under_voltage", active=False)
    # the firmware keeps "under-voltage has occurred"; the kernel's poll has cleared its copy
    assert _vc(tmp_path, "get_throttled").stdout == "throttled=0x10000\n"
    assert (alarm.read_text(), kernel.read_text()) == ("0\n", "0\n")


def test_pi5_kernel_has_neither_and_newer_kernels_report_volts(tmp_path: Path) -> None:
    pi5 = tmp_path / "pi5"
    build_pi_tree(pi5, MODELS["5"], "pi", "6a1b2c3d4e5f6071", SimPiState())
    assert "rpi_volt" not in _hwmon_names(pi5).values()
    assert not (_firmware(pi5) / "get_throttled").exists()

    newer = tmp_path / "newer"
    st = SimPiState(rpi_hwmon="volts", core_volts=0.8625)
    build_pi_tree(newer, MODELS["5"], "pi", "6a1b2c3d4e5f6071", st)
    names = _hwmon_names(newer)
    assert names["hwmon1"] == "rp1_adc" and names["hwmon2"] == "rpi_volt"
    hw = newer / "sys/class/hwmon/hwmon2"
    labels = [(hw / f"in{n}_label").read_text().strip() for n in range(4)]
    assert labels == ["core", "sdram_c", "sdram_i", "sdram_p"]
    # millivolts: the firmware's microvolts / 1000, truncated (the driver's integer division)
    assert (hw / "in0_input").read_text() == "862\n"
    assert _vc(newer, "measure_volts", "core").stdout == "volt=0.8625V\n"

    none = tmp_path / "none"
    build_pi_tree(none, MODELS["4b"], "pi", "10000000c0ffee04", SimPiState(rpi_hwmon=None))
    assert _hwmon_names(none) == {"hwmon0": "cpu_thermal"}
    assert not (_firmware(none) / "get_throttled").exists()
