"""A fake Raspberry Pi filesystem for the simulator, and the simulated state behind it.

This module only gathers the public names; each job lives in its own module:

- ``pi_state``: ``SimPiState``, what the fake files show.
- ``tree_build``: ``build_pi_tree`` lays out the files the agent reads (device tree, cpuinfo,
  thermal zone, LEDs, hwmon fan, os-release, net addresses).
- ``fake_commands``: the executable ``bin/vcgencmd`` (real-format output from files under
  ``sim/vcgencmd/``), ``bin/sudo``, ``bin/pinctrl`` and what the fake sudo may run.
- ``pi_kernel``: what the kernel says of the firmware: the ``rpi_volt`` hwmon and the
  ``get_throttled`` file (the kernel's own 2 s view, not the firmware's since-boot record).
- ``static_texts`` / ``runtime_texts``: file contents fixed at build time / derived from state.
- ``tree_refresh``: ``write_dynamic`` atomically rewrites everything that changes at run time;
  ``tick`` is one simulator step.
- ``pi_physics``: ``step`` advances temperature, fan and throttling from load with each
  model's limits.
- ``pi_faults``: ``apply_fault`` turns Pi-level faults on and off.
- ``tree_writes``: atomic writes and the caches ``forget_trees`` clears.

The agent runs with ``FLEET_AGENT_ROOT=root`` and ``PATH=root/bin:$PATH``. Files under
``sim/`` exist only in the fake tree (``sim/requests`` records reboot/shutdown requests made
through the fake ``sudo``; ``sim/gpio/<n>`` holds relay pins set by the fake ``pinctrl``).
"""

from __future__ import annotations

from fleet_tui.core.sim.fake_commands import (
    PINCTRL_SCRIPT,
    REQUEST_SCRIPT,
    RM_SCRIPT,
    SUDO_SCRIPT,
    TEE_SCRIPT,
    VCGENCMD_SCRIPT,
)
from fleet_tui.core.sim.pi_faults import FAULTS, apply_fault
from fleet_tui.core.sim.pi_paths import fan_hwmon_dir, poe_hwmon_dir
from fleet_tui.core.sim.pi_physics import (
    HARD_LIMIT_OVERSHOOT_C,
    OVERHEAT_EXTRA_C,
    PI5_FAN_CURVE,
    PI5_FAN_HYST_C,
    PI5_FAN_MAX_RPM,
    POE_FAN_CURVE,
    POE_FAN_HYST_C,
    board_power,
    fan_rpm_for,
    pi5_fan_pwm,
    step,
)
from fleet_tui.core.sim.pi_state import AMBIENT_C, SimPiState
from fleet_tui.core.sim.runtime_texts import JIFFIES, PMIC_RAILS
from fleet_tui.core.sim.runtime_texts import (
    pmic_text as _pmic_text,  # the name the parser tests use
)
from fleet_tui.core.sim.static_texts import LED_TRIGGERS, cpuinfo_text, os_release_text
from fleet_tui.core.sim.tree_build import build_pi_tree
from fleet_tui.core.sim.tree_refresh import read_fan_controls, tick, write_dynamic
from fleet_tui.core.sim.tree_writes import (  # caches: for tests
    _known_dirs,
    _last_written,
    forget_trees,
)

__all__ = [
    "AMBIENT_C",
    "FAULTS",
    "HARD_LIMIT_OVERSHOOT_C",
    "JIFFIES",
    "LED_TRIGGERS",
    "OVERHEAT_EXTRA_C",
    "PI5_FAN_CURVE",
    "PI5_FAN_HYST_C",
    "PI5_FAN_MAX_RPM",
    "PINCTRL_SCRIPT",
    "PMIC_RAILS",
    "POE_FAN_CURVE",
    "POE_FAN_HYST_C",
    "REQUEST_SCRIPT",
    "RM_SCRIPT",
    "SUDO_SCRIPT",
    "TEE_SCRIPT",
    "VCGENCMD_SCRIPT",
    "SimPiState",
    "_known_dirs",
    "_last_written",
    "_pmic_text",
    "apply_fault",
    "board_power",
    "build_pi_tree",
    "cpuinfo_text",
    "fan_hwmon_dir",
    "fan_rpm_for",
    "forget_trees",
    "os_release_text",
    "pi5_fan_pwm",
    "poe_hwmon_dir",
    "read_fan_controls",
    "step",
    "tick",
    "write_dynamic",
]
