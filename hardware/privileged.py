"""Privileged operations through ``sudo -n`` (never a password prompt) and sysfs writes.

Every command the agent may run as root is listed in :data:`ALLOWED`; a site grants them with a
sudoers rule (see hardware/README.md). When re-rooted (simulator), only the tree's own fake
``sudo`` is ever used, so a simulated reboot can never reach the host.

sudo runs only for a privileged action, never to probe: every sudo run writes to the Pi's auth
log, and a fleet polled all day would fill it. What sudo answered (ran the command, or refused
it) is remembered per command in the agent's state dir for the rest of the boot, so the next
connection can report it (``capabilities.sudo`` and ``facts.sudo``) without asking sudo again.
"""

from __future__ import annotations

import os
import time

from . import protocol
from .paths import Missing, is_rerooted, path, read_stripped, read_text, root, which
from .protocol import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

# install, mv, cp, sha256sum, systemctl: config files outside the home (config_files.py)
ALLOWED = (
    "reboot",
    "poweroff",
    "tee",
    "rm",
    "pinctrl",
    "raspi-gpio",
    "install",
    "mv",
    "cp",
    "sha256sum",
    "systemctl",
)
SUDO_STATE = "sudo.json"


def _inside_root(p: str) -> bool:
    r = os.path.realpath(root())
    return os.path.realpath(p).startswith(r.rstrip(os.sep) + os.sep)


def sudo_exe() -> Optional[str]:
    exe = which("sudo")
    if exe is None:
        return None
    if is_rerooted() and not _inside_root(exe):
        return None
    return exe


def run(argv: list[str], input_text: Optional[str] = None, timeout: float = 15.0) -> str:
    """Run an allowlisted command as root; raise ``not_permitted`` with a readable reason."""
    if not argv or argv[0] not in ALLOWED:
        raise ProtocolError(
            protocol.NOT_PERMITTED, "command %r is not on the agent's allowlist" % argv[:1]
        )
    via_sudo = not as_root()
    if not via_sudo:
        cmd = list(argv)
    else:
        sudo = sudo_exe()
        if sudo is None:
            raise ProtocolError(
                protocol.NOT_PERMITTED,
                "%s needs root and sudo is not available%s"
                % (argv[0], " inside the simulated Pi" if is_rerooted() else ""),
            )
        cmd = [sudo, "-n"] + list(argv)
    import subprocess  # privileged actions only: not on the path of a reading

    try:
        proc = subprocess.run(
            cmd,
            input=(input_text or "").encode("utf-8"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ProtocolError(
            protocol.FAILED, "%s timed out after %.0f s" % (argv[0], timeout)
        ) from None
    except OSError as e:
        raise ProtocolError(protocol.FAILED, "%s could not start: %s" % (argv[0], e)) from None
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        low = err.lower()
        if (
            "password is required" in low
            or "not allowed" in low
            or "may not run" in low
            or "not in the sudoers" in low
        ):
            if via_sudo:
                remember(argv[0], False)
            raise ProtocolError(
                protocol.NOT_PERMITTED,
                "sudo -n %s: not permitted (%s); grant it with a NOPASSWD sudoers rule for the "
                "agent's user" % (argv[0], err.splitlines()[0] if err else "refused"),
            )
        raise ProtocolError(
            protocol.FAILED, "%s exited %d: %s" % (argv[0], proc.returncode, err[:300])
        )
    if via_sudo:
        remember(argv[0], True)
    return proc.stdout.decode("utf-8", "replace")


# --- what sudo answered this boot ------------------------------------------------------------

_boot: dict[str, Optional[str]] = {}  # root -> boot id, read once: it cannot change under us
# (stamp, record) of the state file as last read; one slot, replaced in one assignment
_known: list[tuple[Any, dict[str, dict[str, Any]]]] = [(None, {})]


def boot_id() -> Optional[str]:
    """This boot's id (``/proc/sys/kernel/random/boot_id``, else ``btime``); None if neither."""
    key = root()
    if key not in _boot:
        value = None
        try:
            value = read_stripped("/proc/sys/kernel/random/boot_id") or None
        except Missing:
            try:
                for line in read_text("/proc/stat").splitlines():
                    if line.startswith("btime "):
                        value = "btime " + line.split()[1]
                        break
            except Missing:
                pass
        _boot[key] = value
    return _boot[key]


def _state_file() -> str:
    from .later import state_dir

    return os.path.join(state_dir(), SUDO_STATE)


def sudo_record() -> dict[str, dict[str, Any]]:
    """``{command: {"ok": bool, "time": epoch}}``: sudo's answers this boot, newest per command.

    ``ok`` true: sudo -n ran the command; false: sudo refused it (no NOPASSWD rule). Empty when
    no privileged action has gone through sudo since boot (or the boot cannot be told apart).
    """
    boot = boot_id()
    if boot is None:
        return {}
    try:
        p = _state_file()
        st = os.stat(p)
    except OSError:
        return {}
    stamp = (p, st.st_ino, st.st_mtime_ns, st.st_size)
    known_stamp, commands = _known[0]
    if known_stamp != stamp:
        commands = {}
        try:
            with open(p) as f:
                data = protocol.loads(f.read(1 << 16))
            if isinstance(data, dict) and data.get("boot") == boot:
                for name, entry in (data.get("commands") or {}).items():
                    if (
                        name in ALLOWED
                        and isinstance(entry, dict)
                        and isinstance(entry.get("ok"), bool)
                        and isinstance(entry.get("time"), (int, float))
                    ):
                        commands[name] = {"ok": entry["ok"], "time": float(entry["time"])}
        except (OSError, ValueError, AttributeError):
            commands = {}
        _known[0] = (stamp, commands)  # watch threads may read it meanwhile
    return {k: dict(v) for k, v in commands.items()}


def remember(command: str, ok: bool) -> None:
    """Record sudo's answer for ``command`` for the rest of this boot. Never raises: a full
    disk or an unwritable state dir must not turn a done reboot into an error."""
    boot = boot_id()
    if boot is None:
        return
    commands = sudo_record()
    commands[command] = {"ok": ok, "time": round(time.time(), 3)}
    try:
        p = _state_file()
        tmp = "%s.%d.tmp" % (p, os.getpid())
        try:
            with open(tmp, "w") as f:
                f.write(protocol.dumps({"boot": boot, "commands": commands}))
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError:
        pass


def as_root() -> bool:
    """The agent itself runs as root (never in the simulator): no sudo needed."""
    return os.geteuid() == 0 and not is_rerooted()


def sudo_usable() -> bool:
    """Root, or a sudo we may use (in the simulator: only one inside the tree). Runs nothing."""
    return as_root() or sudo_exe() is not None


def sudo_state(usable: Optional[bool] = None) -> Optional[bool]:
    """``capabilities.sudo``: True when the agent runs as root or sudo -n has run a command for
    it this boot; False without a usable sudo or when sudo refused everything tried this boot;
    None (unknown) while sudo has not been needed since boot. Never runs sudo.

    ``usable``: :func:`sudo_usable`'s answer when the caller has it cached."""
    if as_root():
        return True
    if not (sudo_usable() if usable is None else usable):
        return False
    answers = [entry["ok"] for entry in sudo_record().values()]
    if not answers:
        return None
    return any(answers)


def write_file(p: str, value: str) -> str:
    """Write a (sysfs) file given as a Pi path; falls back to ``sudo -n tee``. Returns how."""
    full = path(p)
    try:
        with open(full, "w") as f:
            f.write(value)
        return "direct"
    except PermissionError:
        pass
    except FileNotFoundError:
        raise ProtocolError(protocol.UNAVAILABLE, "%s does not exist" % p) from None
    except OSError as e:
        raise ProtocolError(
            protocol.FAILED, "writing %s failed: %s" % (p, e.strerror or e)
        ) from None
    run(["tee", full], input_text=value)
    return "sudo tee"
