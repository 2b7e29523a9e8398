"""Privileged operations through ``sudo -n`` (never a password prompt) and sysfs writes.

Every command the agent may run as root is listed in :data:`ALLOWED`; a site grants them with a
sudoers rule (see hardware/README.md). When re-rooted (simulator), only the tree's own fake
``sudo`` is ever used, so a simulated reboot can never reach the host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Optional

from hardware import protocol
from hardware.paths import is_rerooted, path, root
from hardware.protocol import ProtocolError

ALLOWED = ("reboot", "poweroff", "tee", "rm", "pinctrl", "raspi-gpio")


def _inside_root(p: str) -> bool:
    r = os.path.realpath(root())
    return os.path.realpath(p).startswith(r.rstrip(os.sep) + os.sep)


def sudo_exe() -> Optional[str]:
    exe = shutil.which("sudo")
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
    if os.geteuid() == 0 and not is_rerooted():
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
            raise ProtocolError(
                protocol.NOT_PERMITTED,
                "sudo -n %s: not permitted (%s); grant it with a NOPASSWD sudoers rule for the "
                "agent's user" % (argv[0], err.splitlines()[0] if err else "refused"),
            )
        raise ProtocolError(
            protocol.FAILED, "%s exited %d: %s" % (argv[0], proc.returncode, err[:300])
        )
    return proc.stdout.decode("utf-8", "replace")


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
