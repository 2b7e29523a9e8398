"""The dead-man watchdog of a switch: a detached process that rolls an app back by itself.

The agent arms it before it switches ``current`` (hardware/deploy.py ``app_switch``): it runs
in its own session (double fork, ``setsid``), so it outlives the agent, the SSH session and
the laptop. Unless the laptop commits before the deadline (``app_commit`` removes the
app's ``pending.json``, or a newer switch replaces its token), it switches back to the previous
release, restarts it and writes why to the app's reports, which the agent hands to the next
laptop that asks (``app_status``).

Run as ``python3 -S -E -c BOOT PACKAGE_ROOT NAME TOKEN`` (see ``spawn``).
"""

from __future__ import annotations

import os
import sys
import time

from . import apps, later

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

POLL_S = 0.2
OVERDUE_GRACE_S = 2.0  # past the deadline, the watchdog has had ten polls to start its rollback


def spawn(name: str, token: str) -> None:
    """Start the watchdog of ``name`` for ``token``, detached; returns once it runs alone."""
    import subprocess

    package = __name__.rpartition(".")[0]  # "hardware" in the zipapp
    here = os.path.dirname(os.path.abspath(__file__))
    root = here
    for _ in package.split("."):
        root = os.path.dirname(root)
    boot = (
        "import sys;sys.path.insert(0,sys.argv[1]);from %s.watchdog import main;main(sys.argv[2:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-S", "-E", "-c", boot % package, root, name, token],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
        start_new_session=True,
    )
    proc.wait(timeout=15)  # the first process exits at once; its child carries on


def _token(app: apps.App) -> tuple[Optional[str], float]:
    p = app.read_json("pending.json")
    if not isinstance(p, dict):
        return None, 0.0
    return p.get("token"), float(p.get("deadline") or 0.0)


def watch(app: apps.App, token: str) -> Optional[dict]:
    """Wait for a commit; roll back at the deadline. Returns the report when it rolled back."""
    while True:
        current, deadline = _token(app)
        if current != token:
            return None  # committed, rolled back by the agent, or superseded
        if time.time() >= deadline:
            break
        time.sleep(min(POLL_S, max(0.01, deadline - time.time())))
    with app.lock():
        pending = app.read_json("pending.json")
        if not isinstance(pending, dict) or pending.get("token") != token:
            return None  # the commit won the race
        wait = float(pending.get("confirm_s") or 0.0)
        return apps.roll_back(
            app,
            pending,
            "no commit from the laptop within %.0f s of the switch to %s (link lost, laptop "
            "closed or crashed?)"
            % (float(pending.get("window_s") or wait), pending.get("version")),
            "watchdog",
        )


def _alive(app: apps.App, token: str) -> bool:
    """Whether the watchdog of ``token`` still runs (its pid file, checked in the real /proc)."""
    return later.alive(app.sub("watchdog.pid"), token)


def settle_overdue(app: apps.App) -> Optional[dict]:
    """A switch past its deadline whose watchdog is gone (killed with the login session,
    OOM, a reboot before it ran): the agent rolls it back now, as the watchdog would have.
    Called under no lock at each contact (``app_status``, ``app_switch``)."""
    token, deadline = _token(app)
    if token is None or time.time() < deadline + OVERDUE_GRACE_S or _alive(app, token):
        return None
    with app.lock():
        pending = app.read_json("pending.json")
        if not isinstance(pending, dict) or pending.get("token") != token:
            return None
        return apps.roll_back(
            app,
            pending,
            "no commit from the laptop within %.0f s of the switch to %s, and its watchdog was "
            "not running (killed?): rolled back at the next contact"
            % (float(pending.get("window_s") or 0.0), pending.get("version")),
            "agent",
        )


def main(argv: list[str]) -> None:
    name, token = argv[0], argv[1]
    if os.fork() > 0:  # the agent's child exits; the grandchild is adopted by init
        os._exit(0)
    os.setsid() if os.getpid() != os.getsid(0) else None
    app = apps.App(name)
    try:
        with open(app.sub("watchdog.pid"), "w") as f:
            f.write("%d %s\n" % (os.getpid(), token))
        watch(app, token)
    except Exception as e:  # nobody to tell but the reports
        try:
            app.report(
                {"kind": "watchdog_error", "app": name, "reason": "%s: %s" % (type(e).__name__, e)}
            )
        except Exception:
            pass
    os._exit(0)
