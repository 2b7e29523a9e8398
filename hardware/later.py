"""Run steps after a delay in a detached helper process that outlives the agent.

Used to restore the ACT LED trigger after identify and to end a relay pulse: the agent exits
when its SSH session closes, but the LED must still be restored. The helper is a tiny
``python3 -c`` program (no imports from this package), double-forked so the agent never
leaves a zombie. A state file with a token lets a newer request supersede an older helper,
which then exits within half a second.
On a re-rooted (simulated) Pi the helper stays in the agent's process group, so stopping the
simulator stops it too.
"""

from __future__ import annotations

import os
import sys

from . import protocol
from .paths import is_rerooted, path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

HELPER = r"""
import json, os, subprocess, sys, time
spec = json.loads(sys.argv[1])
if os.fork() > 0:
    os._exit(0)
sf = spec.get("state_file")
if spec.get("pid_file"):
    try:
        with open(spec["pid_file"], "w") as f:
            f.write("%d %s\n" % (os.getpid(), spec["token"]))
    except OSError:
        pass


def superseded():
    if not sf:
        return False
    try:
        with open(sf) as f:
            return json.load(f).get("token") != spec["token"]
    except (OSError, ValueError):
        return True


end = time.time() + spec["delay"]
while True:
    left = end - time.time()
    if superseded():
        sys.exit(0)
    if left <= 0:
        break
    time.sleep(min(0.5, left))
quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for step in spec["steps"]:
    try:
        if "write" in step:
            p, value = step["write"]
            try:
                with open(p, "w") as f:
                    f.write(value)
            except PermissionError:
                if step.get("sudo"):
                    subprocess.run([step["sudo"], "-n", "tee", p], input=value.encode(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
        elif "run" in step:
            subprocess.run(step["run"], timeout=15, **quiet)
    except Exception:
        pass
for done in (sf, spec.get("pid_file")):
    try:
        os.remove(done) if done else None
    except OSError:
        pass
"""


def state_dir() -> str:
    if is_rerooted():
        d = path("/run/fleet-agent")
    else:
        base = os.environ.get("XDG_RUNTIME_DIR") or os.path.expanduser("~/.cache/fleet-tui")
        d = os.path.join(base, "fleet-agent")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def read_state(name: str) -> Optional[dict[str, Any]]:
    try:
        with open(os.path.join(state_dir(), name)) as f:
            data = protocol.loads(f.read(1 << 16))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def write_state(name: str, data: dict[str, Any]) -> str:
    """Write a state file with a fresh token (superseding any pending helper); return token."""
    token = os.urandom(16).hex()
    data = dict(data, token=token)
    p = os.path.join(state_dir(), name)
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        f.write(protocol.dumps(data))
    os.replace(tmp, p)
    return token


def clear_state(name: str) -> None:
    try:
        os.remove(os.path.join(state_dir(), name))
    except OSError:
        pass


def spawn(
    delay: float,
    steps: list[dict[str, Any]],
    state_name: Optional[str] = None,
    token: Optional[str] = None,
    detach: bool = False,
    pid_name: Optional[str] = None,
) -> None:
    """Run ``steps`` after ``delay`` seconds in a detached helper. ``detach``: in a session
    of its own also on a simulated Pi (a dead-man watchdog must outlive the SSH session).
    ``pid_name``: a file in the state dir where the helper writes its pid and token, so the
    agent can tell later whether it still runs (:func:`alive`)."""
    spec = {
        "delay": max(0.0, float(delay)),
        "steps": steps,
        "state_file": os.path.join(state_dir(), state_name) if state_name else None,
        "token": token,
        "pid_file": os.path.join(state_dir(), pid_name) if pid_name else None,
    }
    import subprocess

    proc = subprocess.Popen(
        # -S -E: the helper needs nothing outside the stdlib (see hardware/README.md)
        [sys.executable, "-S", "-E", "-c", HELPER, protocol.dumps(spec)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=detach or not is_rerooted(),
    )
    proc.wait(timeout=15)  # the first fork exits at once; the grandchild carries on


def alive(pid_file: str, token: str) -> bool:
    """Whether the detached helper that wrote ``pid_file`` ("PID TOKEN") for ``token`` still
    runs (checked in the real /proc: its command line carries the token)."""
    try:
        with open(pid_file) as f:
            pid_text, _, mine = f.read().strip().partition(" ")
        with open("/proc/%d/cmdline" % int(pid_text), "rb") as f:
            return mine == token and token.encode() in f.read()
    except (OSError, ValueError):
        return False
