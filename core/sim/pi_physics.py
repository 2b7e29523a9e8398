"""How a simulated Pi heats, cools and throttles: board power from load, temperature towards
its steady value, the firmware fan curves, and the get_throttled bits, per model limits."""

from __future__ import annotations

import math

from fleet_tui.core.sim.pi_models import PiModel
from fleet_tui.core.sim.pi_state import SimPiState

# Pi 5 active-cooler defaults (firmware dtparams fan_temp0..3 / fan_temp0_speed..3).
PI5_FAN_CURVE: tuple[tuple[float, int], ...] = ((50.0, 75), (60.0, 125), (67.5, 175), (75.0, 250))
PI5_FAN_HYST_C = 5.0
# PoE / PoE+ HAT fan defaults (dtparams poe_fan_temp0..3, hysteresis 2 °C).
POE_FAN_CURVE: tuple[tuple[float, int], ...] = ((40.0, 75), (45.0, 125), (50.0, 175), (55.0, 250))
POE_FAN_HYST_C = 2.0
PI5_FAN_MAX_RPM = 8000
OVERHEAT_EXTRA_C = 45.0  # the "overheat" fault: blocked airflow / a hot enclosure
HARD_LIMIT_OVERSHOOT_C = 1.5  # how far past the throttle temperature the SoC still gets


def utilisation(model: PiModel, state: SimPiState) -> float:
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
    util = utilisation(model, state)
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
    state.net_rx_bytes += int(dt * (800 + 3000 * utilisation(model, state)))
    state.net_tx_bytes += int(dt * (400 + 1500 * utilisation(model, state)))
    return state
