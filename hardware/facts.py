"""Static facts about the Pi: identity, OS, MACs, capabilities."""

from __future__ import annotations

import os
import sys

from . import AGENT_VERSION, privileged, vcgencmd
from .collect import Collector
from .paths import Missing, is_rerooted, path, read_stripped, read_text, which

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, TypedDict

    from .collect import Reading

    class Capabilities(TypedDict):
        vcgencmd: bool
        pmic: bool
        fan: bool
        led: bool
        sudo: Optional[bool]  # null: sudo not needed since boot (see sudo_ok)
        gpio: bool


PI_OUIS = ("B8:27:EB", "DC:A6:32", "E4:5F:01", "28:CD:C1", "D8:3A:DD", "2C:CF:67", "88:A2:9E")

MODEL_PATH = "/proc/device-tree/model"
SERIAL_PATH = "/sys/firmware/devicetree/base/serial-number"

_hash_cache: dict[str, str] = {}


def _is_zip(p: str) -> bool:
    """A zip has its end-of-central-directory record in the last 64 KiB + 22 bytes.

    (zipfile itself costs ~1.5 MB of RSS; a zipapp may start with a shebang, so the head
    is no proof.)
    """
    with open(p, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65558))
        return b"PK\x05\x06" in f.read()


def _sha256() -> Any:
    """A sha256 object from the interpreter's built-in module (``hashlib`` loads OpenSSL's
    libcrypto to offer the same: ~2 ms of a cold start). ``_sha2`` from Python 3.12."""
    for name in ("_sha2", "_sha256"):
        try:
            return __import__(name).sha256()
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256()


def agent_hash() -> str:
    """sha256 hex of the zipapp we run from; ``dev`` when run from a source tree."""
    src = sys.argv[0] if sys.argv else ""
    if src in _hash_cache:
        return _hash_cache[src]
    digest = "dev"
    try:
        if src and os.path.isfile(src) and _is_zip(src):
            h = _sha256()
            with open(src, "rb") as f:
                for chunk in iter(lambda: f.read(65536), b""):
                    h.update(chunk)
            digest = h.hexdigest()
    except OSError:
        digest = "dev"
    _hash_cache[src] = digest
    return digest


def python_version() -> str:
    v = sys.version_info
    return "%d.%d.%d" % (v[0], v[1], v[2])


def is_pi_oui(mac: str) -> bool:
    return mac.strip().upper()[:8] in PI_OUIS


def parse_cpuinfo(text: str) -> dict[str, str]:
    """Key/value pairs of /proc/cpuinfo; later blocks win (Revision/Serial/Model are last)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_os_release(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value.replace('\\"', '"').replace("\\\\", "\\")
    return out


def model_string() -> Optional[str]:
    try:
        return read_stripped(MODEL_PATH) or None
    except Missing:
        return None


def has_pmic(model: Optional[str]) -> bool:
    """pmic_read_adc exists on BCM2712 boards (Pi 5, CM5, Pi 500) with a vcgencmd."""
    if not model or vcgencmd.find() is None:
        return False
    return any(k in model for k in ("Raspberry Pi 5", "Compute Module 5", "Raspberry Pi 500"))


def led_dir() -> Optional[str]:
    for name in ("ACT", "led0"):
        d = "/sys/class/leds/" + name
        if os.path.isdir(path(d)):
            return d
    return None


def sudo_ok(usable: Optional[bool] = None) -> Optional[bool]:
    """``capabilities.sudo`` (true / false / null = not needed since boot). Runs no sudo: see
    :func:`privileged.sudo_state`."""
    return privileged.sudo_state(usable)


def sudo_answers() -> Reading:
    """``facts.sudo``: sudo's answer per allowlisted command this boot, or why there is none."""
    if privileged.as_root():
        raise Missing("the agent runs as root: it needs no sudo")
    if privileged.sudo_exe() is None:
        raise Missing(
            "no sudo inside the simulated Pi" if is_rerooted() else "sudo is not installed"
        )
    record = privileged.sudo_record()
    if not record:
        raise Missing(
            "no privileged action since boot: the agent runs sudo only for one, never to probe "
            "(each sudo run is logged)"
        )
    return record, "sudo -n answers this boot (%s in the agent's state dir)" % privileged.SUDO_STATE


def gpio_ok() -> bool:
    if which("pinctrl") or which("raspi-gpio"):
        return True
    return os.path.exists(path("/dev/gpiochip0"))


_caps_cache: dict[str, Capabilities] = {}


def probed_capabilities() -> Capabilities:
    """What this Pi has, probed once per agent (per root and PATH); ``sudo`` here only says
    whether a usable sudo exists. The cached dict itself: callers must not change it."""
    key = os.environ.get("FLEET_AGENT_ROOT", "/") + "|" + os.environ.get("PATH", "")
    if key not in _caps_cache:
        from .sensors import find_fan_hwmon, find_poe_cooling_device

        caps: Capabilities = {
            "vcgencmd": vcgencmd.find() is not None,
            "pmic": has_pmic(model_string()),
            "fan": find_fan_hwmon() is not None or find_poe_cooling_device() is not None,
            "led": led_dir() is not None,
            "sudo": privileged.sudo_usable(),  # cached: is there a sudo at all (or root)
            "gpio": gpio_ok(),
        }
        _caps_cache[key] = caps
    return _caps_cache[key]


def capabilities() -> Capabilities:
    """What this Pi has: :func:`probed_capabilities`, except ``sudo``: read from what sudo
    answered this boot at every call (a file stat), so it changes as soon as an action has
    used sudo."""
    caps = probed_capabilities().copy()
    caps["sudo"] = sudo_ok(bool(caps["sudo"]))
    return caps


def hostname() -> Reading:
    try:
        name = read_stripped("/proc/sys/kernel/hostname")
        if name:
            return name, "/proc/sys/kernel/hostname"
    except Missing:
        pass
    return os.uname().nodename, "uname"


def kernel() -> Reading:
    try:
        return read_stripped("/proc/sys/kernel/osrelease"), "/proc/sys/kernel/osrelease"
    except Missing:
        return os.uname().release, "uname"


def arch() -> Reading:
    try:
        value = read_stripped("/proc/sys/kernel/arch")
        if value:
            return value, "/proc/sys/kernel/arch"
    except Missing:
        pass
    return os.uname().machine, "uname"


def macs() -> Reading:
    out = []
    for iface in sorted(os.listdir(path("/sys/class/net"))):
        if iface == "lo":
            continue
        try:
            mac = read_stripped("/sys/class/net/%s/address" % iface).lower()
        except Missing:
            continue
        if not mac or mac == "00:00:00:00:00:00":
            continue
        out.append({"iface": iface, "mac": mac, "pi_oui": is_pi_oui(mac)})
    return out, "/sys/class/net/*/address"


def hat() -> Reading:
    """An add-on board with an ID EEPROM: product and vendor from the device tree."""
    base = "/proc/device-tree/hat/"
    try:
        product = read_stripped(base + "product")
    except Missing:
        raise Missing("no HAT EEPROM (/proc/device-tree/hat absent)") from None
    out: dict[str, Any] = {"product": product}
    for key in ("vendor", "product_id", "product_ver", "uuid"):
        try:
            out[key] = read_stripped(base + key)
        except Missing:
            out[key] = None
    return out, base


def boot_time() -> Reading:
    for line in read_text("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1]), "/proc/stat btime"
    raise Missing("/proc/stat has no btime line")


def facts() -> dict[str, Any]:
    c = Collector()
    c.run("hostname", hostname)
    c.run("model", lambda: (read_stripped(MODEL_PATH) or None, MODEL_PATH))
    cpu: dict[str, str] = {}
    try:
        cpu = parse_cpuinfo(read_text("/proc/cpuinfo"))
    except Missing as e:
        c.miss("revision", str(e))
    rev = cpu.get("Revision")
    if rev:
        from . import revision

        c.put("revision", rev.lower(), "/proc/cpuinfo Revision")
        info = revision.decode(rev)
        if info is None:
            c.miss("revision_info", "unknown revision code %r" % rev)
        else:
            c.put("revision_info", info, "decoded from revision code")
    else:
        c.missing.setdefault("revision", "/proc/cpuinfo has no Revision line")
        c.result["revision"] = None
        c.miss("revision_info", "no revision code")

    def serial_cpuinfo() -> Reading:
        s = cpu.get("Serial", "").strip()
        if not s:
            raise Missing("/proc/cpuinfo has no Serial line")
        return s.lower(), "/proc/cpuinfo Serial"

    c.first(
        "serial", serial_cpuinfo, lambda: (read_stripped(SERIAL_PATH).lower() or None, SERIAL_PATH)
    )
    c.run(
        "os_name",
        lambda: (
            parse_os_release(read_text("/etc/os-release")).get("PRETTY_NAME"),
            "/etc/os-release",
        ),
    )
    c.run("kernel", kernel)
    c.run("arch", arch)
    c.run("macs", macs)
    c.run("boot_time", boot_time)
    c.run("hat", hat)
    c.put("python", python_version(), "sys.version_info")
    c.put("agent_version", AGENT_VERSION, "agent")
    c.put("agent_hash", agent_hash(), "sha256 of the zipapp")
    c.put("capabilities", capabilities(), "probed")
    c.run("sudo", sudo_answers)
    return c.finish()
