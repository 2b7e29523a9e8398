"""Actions on the Pi: identify, reboot, shutdown, fan, relay, avahi service file.

Each method takes the request and returns a result dict or raises ``ProtocolError`` with
``bad_request`` (parameters), ``unavailable`` (no such hardware/tool), ``not_permitted``
(``sudo -n`` refused) or ``failed`` (the action ran and failed).

Imported by the agent on the first action request only (``agent.ACTION_METHODS``): a
connection that only reads pays nothing for them.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from . import AGENT_VERSION, facts, later, privileged, protocol, sensors
from .paths import Missing, path, read_stripped, site_packages, which
from .protocol import ProtocolError, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

AVAHI_SERVICE = "/etc/avahi/services/pifleet.service"
IDENTIFY_STATE = "identify.json"


# --- parameter helpers ----------------------------------------------------------------------


def _num(req: Request, key: str, default: Optional[float], lo: float, hi: float) -> float:
    value = req.params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ProtocolError(
            protocol.BAD_REQUEST, "'%s' must be a number in [%g, %g]" % (key, lo, hi), req.id
        )
    return float(value)


def _int(req: Request, key: str, default: Optional[int], lo: int, hi: int) -> int:
    value = req.params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProtocolError(
            protocol.BAD_REQUEST, "'%s' must be an integer in [%d, %d]" % (key, lo, hi), req.id
        )
    return value


def _choice(req: Request, key: str, choices: tuple[str, ...], default: Optional[str] = None) -> str:
    value = req.params.get(key, default)
    if value not in choices:
        raise ProtocolError(
            protocol.BAD_REQUEST, "'%s' must be one of %s" % (key, ", ".join(choices)), req.id
        )
    return str(value)


# --- identify -------------------------------------------------------------------------------


def current_trigger(text: str) -> str:
    """The active trigger: the bracketed word of a sysfs ``trigger`` file (or its only word)."""
    m = re.search(r"\[([^\]]+)\]", text)
    if m:
        return m.group(1)
    words = text.split()
    return words[0] if len(words) == 1 else "none"


def identify(req: Request) -> dict[str, Any]:
    seconds = _num(req, "seconds", 10, 0, 3600)
    delay_ms = _int(req, "delay_ms", 150, 20, 5000)
    led = facts.led_dir()
    if led is None:
        raise ProtocolError(
            protocol.UNAVAILABLE, "no ACT or led0 LED under /sys/class/leds", req.id
        )
    trig_path = led + "/trigger"
    try:
        now_trigger = current_trigger(read_stripped(trig_path))
    except Missing as e:
        raise ProtocolError(protocol.UNAVAILABLE, str(e), req.id) from None
    saved = later.read_state(IDENTIFY_STATE)
    if saved and saved.get("led") == led and isinstance(saved.get("original"), str):
        original = saved["original"]  # already blinking: keep the trigger found the first time
    else:
        original = now_trigger
    if seconds == 0:
        privileged.write_file(trig_path, original)
        later.clear_state(IDENTIFY_STATE)
        return {"led": os.path.basename(led), "seconds": 0, "restored_trigger": original}
    how = privileged.write_file(trig_path, "timer")
    for name in ("delay_on", "delay_off"):
        try:
            privileged.write_file(led + "/" + name, str(delay_ms))
        except ProtocolError:
            pass  # the kernel's default 500 ms blink is fine
    until = time.time() + seconds
    token = later.write_state(IDENTIFY_STATE, {"led": led, "original": original, "until": until})
    later.spawn(
        seconds,
        [{"write": [path(trig_path), original], "sudo": privileged.sudo_exe()}],
        IDENTIFY_STATE,
        token,
    )
    return {
        "led": os.path.basename(led),
        "seconds": seconds,
        "restore_trigger": original,
        "until": until,
        "write": how,
    }


# --- reboot / shutdown ----------------------------------------------------------------------


def reboot(req: Request) -> dict[str, Any]:
    privileged.run(["reboot"])
    return {"requested": True, "command": "reboot"}


def shutdown(req: Request) -> dict[str, Any]:
    privileged.run(["poweroff"])
    return {"requested": True, "command": "poweroff"}


# --- fan ------------------------------------------------------------------------------------


def fan(req: Request) -> dict[str, Any]:
    """``{"mode": "auto"}`` or ``{"mode": "manual", "pwm": 0..255}`` (or ``"percent"``).

    The kernel's thermal governor drives the fan in auto mode; manual sets ``pwm1_enable=1``
    then ``pwm1``.
    """
    mode = _choice(req, "mode", ("auto", "manual"))
    hw = sensors.find_fan_hwmon()
    if hw is None:
        raise ProtocolError(
            protocol.UNAVAILABLE, "no PWM fan hwmon (pwmfan/cooling_fan) on this Pi", req.id
        )
    d, kind = hw
    if mode == "manual":
        if "percent" in req.params:
            pwm = int(_num(req, "percent", None, 0, 100) * 255 / 100 + 0.5)
        else:
            pwm = _int(req, "pwm", None, 0, 255)
        if os.path.exists(path(d + "/pwm1_enable")):
            privileged.write_file(d + "/pwm1_enable", "1")
        privileged.write_file(d + "/pwm1", str(pwm))
    else:
        privileged.write_file(d + "/pwm1_enable", "2")
    reading, _ = sensors.fan()
    return {"mode": mode, "fan": reading, "hwmon": d}


# --- relay ----------------------------------------------------------------------------------
# Relay state must outlive the agent. gpiozero/lgpio release their lines when the process
# exits, so the agent sets pins with a tool that writes the GPIO registers and exits, leaving
# the level latched: ``pinctrl`` (Raspberry Pi OS bookworm, all models incl. Pi 5), else
# ``raspi-gpio`` (bullseye and older). Only without either does it fall back to gpiozero held
# by a detached helper process that keeps the line until the next change.


def gpio_tool() -> Optional[tuple[str, str]]:
    for name in ("pinctrl", "raspi-gpio"):
        exe = which(name)
        if exe:
            return name, exe
    return None


def _gpio_run(name: str, exe: str, args: list[str]) -> tuple[str, list[str]]:
    """Run as the login user (gpio group) and fall back to sudo -n. Returns output and argv."""
    try:
        proc = subprocess.run(
            [exe] + args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=10,
        )
        if proc.returncode == 0:
            return proc.stdout.decode("utf-8", "replace"), [exe] + args
    except (OSError, subprocess.SubprocessError):
        pass
    out = privileged.run([name] + args)
    sudo = privileged.sudo_exe()
    return out, ([sudo, "-n", name] + args) if sudo else [name] + args


def parse_level(tool: str, text: str) -> Optional[bool]:
    if tool == "pinctrl":  # "17: op dh pd | hi // GPIO17 = output"
        m = re.search(r"\|\s*(hi|lo)\b", text)
        return None if not m else m.group(1) == "hi"
    m = re.search(r"level=([01])", text)  # raspi-gpio: "GPIO 17: level=1 fsel=1 func=OUTPUT"
    return None if not m else m.group(1) == "1"


HOLDER = r"""
import signal, sys
from gpiozero import DigitalOutputDevice
dev = DigitalOutputDevice(int(sys.argv[1]), initial_value=sys.argv[2] == "1")
signal.pause()
"""


def _holder(pin: int, high: bool) -> None:
    try:
        site_packages()
        import gpiozero  # noqa: F401
    except ImportError:
        raise ProtocolError(
            protocol.UNAVAILABLE, "no pinctrl, raspi-gpio or gpiozero for GPIO"
        ) from None
    name = "relay-%d.json" % pin
    old = later.read_state(name)
    if old and isinstance(old.get("pid"), int):
        try:
            os.kill(old["pid"], 15)
            time.sleep(0.2)
        except OSError:
            pass
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pin), "1" if high else "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    later.write_state(name, {"pid": proc.pid, "high": high})


def relay(req: Request) -> dict[str, Any]:
    """``{"pin": 17, "action": "on"|"off"|"pulse"|"get", "active_high": true, "seconds": 5}``.

    ``pulse`` switches on now and off after ``seconds`` (from a detached helper, so the pulse
    completes even if the agent is gone).
    """
    pin = _int(req, "pin", None, 0, 53)
    action = _choice(req, "action", ("on", "off", "pulse", "get"))
    active_high = req.params.get("active_high", True)
    if not isinstance(active_high, bool):
        raise ProtocolError(protocol.BAD_REQUEST, "'active_high' must be a boolean", req.id)
    seconds = _num(req, "seconds", 5, 0.1, 600) if action == "pulse" else 0.0
    tool = gpio_tool()
    pulse_state = "relay-pulse-%d.json" % pin

    def level_args(on: bool) -> list[str]:
        high = on == active_high
        return ["set", str(pin), "op", "dh" if high else "dl"]

    if tool is None:
        if action == "get":
            st = later.read_state("relay-%d.json" % pin)
            if st is None:
                raise ProtocolError(
                    protocol.UNAVAILABLE, "no pinctrl/raspi-gpio to read GPIO", req.id
                )
            level = bool(st.get("high"))
            return {
                "pin": pin,
                "state": "on" if level == active_high else "off",
                "level": "hi" if level else "lo",
                "method": "gpiozero-holder",
            }
        if action == "pulse":
            raise ProtocolError(protocol.UNAVAILABLE, "pulse needs pinctrl or raspi-gpio", req.id)
        _holder(pin, (action == "on") == active_high)
        return {
            "pin": pin,
            "state": action,
            "level": "hi" if (action == "on") == active_high else "lo",
            "method": "gpiozero-holder",
        }
    name, exe = tool
    if action in ("on", "off", "pulse"):
        later.clear_state(pulse_state)  # a manual on/off supersedes a pending pulse end
        _, argv_on = _gpio_run(name, exe, level_args(action != "off"))
    result: dict[str, Any] = {"pin": pin, "method": name}
    if action == "pulse":
        off_argv = argv_on[: len(argv_on) - 4] + level_args(False)
        token = later.write_state(pulse_state, {"pin": pin, "until": time.time() + seconds})
        later.spawn(seconds, [{"run": off_argv}], pulse_state, token)
        result["pulse_until"] = time.time() + seconds
    out, _ = _gpio_run(name, exe, ["get", str(pin)])
    read = parse_level(name, out)
    result["level"] = None if read is None else ("hi" if read else "lo")
    result["state"] = None if read is None else ("on" if read == active_high else "off")
    return result


# --- avahi ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """XML text escaping (xml.sax.saxutils pulls in urllib/http/ssl: ~3 MB of RSS)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def avahi_service_xml(model: Optional[str], serial: Optional[str], port: int) -> str:
    txt = [("model", model or "unknown"), ("serial", serial or "unknown"), ("agent", AGENT_VERSION)]
    records = "".join("    <txt-record>%s=%s</txt-record>\n" % (k, escape(v)) for k, v in txt)
    return (
        "<?xml version=\"1.0\" standalone='no'?>\n"
        '<!DOCTYPE service-group SYSTEM "avahi-service.dtd">\n'
        "<!-- written by the fleet-tui agent; remove with the avahi action -->\n"
        "<service-group>\n"
        '  <name replace-wildcards="yes">%%h</name>\n'
        "  <service>\n"
        "    <type>_pifleet._tcp</type>\n"
        "    <port>%d</port>\n"
        "%s"
        "  </service>\n"
        "</service-group>\n"
    ) % (port, records)


def avahi(req: Request) -> dict[str, Any]:
    """``{"action": "install"|"remove", "port": 22}``: the ``_pifleet._tcp`` service file."""
    action = _choice(req, "action", ("install", "remove"))
    full = path(AVAHI_SERVICE)
    if action == "remove":
        if not os.path.exists(full):
            return {"removed": False, "path": AVAHI_SERVICE}
        try:
            os.remove(full)
        except PermissionError:
            privileged.run(["rm", "-f", full])
        return {"removed": True, "path": AVAHI_SERVICE}
    port = _int(req, "port", 22, 1, 65535)
    if not os.path.isdir(os.path.dirname(full)):
        raise ProtocolError(
            protocol.UNAVAILABLE,
            "%s does not exist: is avahi-daemon installed?" % os.path.dirname(AVAHI_SERVICE),
            req.id,
        )
    info = facts.facts()
    xml = avahi_service_xml(info.get("model"), info.get("serial"), port)
    how = privileged.write_file(AVAHI_SERVICE, xml)
    return {
        "installed": True,
        "path": AVAHI_SERVICE,
        "write": how,
        "txt": {"model": info.get("model"), "serial": info.get("serial"), "agent": AGENT_VERSION},
    }


def methods() -> dict[str, Callable[[Request], Optional[dict[str, Any]]]]:
    return {
        "identify": identify,
        "reboot": reboot,
        "shutdown": shutdown,
        "fan": fan,
        "relay": relay,
        "avahi": avahi,
    }
