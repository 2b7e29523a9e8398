"""Config files on the Pi: read one (for drift), write one safely, confirm a write.

``config_write`` (hardware/README.md, "Config files"):

1. the new text goes to a temp file beside the target (same filesystem: the swap is one
   ``rename``), with the final mode and owner;
2. the validator, if any, runs on the temp file (``%s`` is its path) as the login user;
   failing, the temp file is removed and nothing else has changed;
3. the old file is copied to the backup folder, named with the version being installed;
4. a dead-man watchdog is armed (``confirm_s``): a detached helper (hardware/later.py) that
   puts the backup back and restarts again unless ``config_confirm`` comes first;
5. atomic rename of the temp file over the target; the restart (a systemd unit where systemd
   runs, else the command, run without a shell); a restart that fails puts the old file back
   at once.

After a confirmed write (``config_confirm``; at once without a watchdog) the oldest backups of
that target beyond ``keep`` (default 3) are removed; the agent lists the backups it made per
target in a ledger in the home (``HOME_BACKUPS/.kept/``), as the root-owned backup folder
cannot be listed by the login user. A write whose watchdog was killed (logind's
KillUserProcesses, OOM) is settled by the agent at the next ``config_*`` call once its
deadline (+ a grace) has passed: the old file is put back, restarted and reported, as the
watchdog would have. A file only root can read is compared by ``sudo -n sha256sum``.

A file outside the login user's home is written through ``sudo -n`` with fixed argument
shapes (``install``, ``mv``, ``cp``, ``rm``, ``sha256sum``, ``systemctl restart``; privileged.py's
allowlist),
so a site's sudoers rule can name each; a Pi where sudo refuses fails at the first step, the
temp file, before anything else is touched. Paths starting ``~/`` are in the login user's
home; absolute ones are Pi paths (re-rooted on a simulated Pi).
"""

from __future__ import annotations

import os
import time

from . import facts, later, privileged, protocol
from .paths import is_rerooted
from .paths import path as pi_path
from .protocol import ProtocolError, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

MAX_BYTES = 256 * 1024
PRIVILEGED_BACKUPS = "/var/backups/fleet-tui/configs"
HOME_BACKUPS = "~/.local/share/fleet-tui/config-backups"
STATE_PREFIX = "config-"
KEEP = 3  # backups kept per target file
OVERDUE_GRACE_S = 2.0  # past the deadline, a live watchdog has had four polls to act
ROOT_ONLY_SIM = "/sim/root_only"  # simulated Pi: Pi paths that read as mode 0600 root:root


def _bad(req: Request, message: str) -> ProtocolError:
    return ProtocolError(protocol.BAD_REQUEST, message, req.id)


def _text(req: Request, key: str, required: bool = True) -> Optional[str]:
    value = req.params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise _bad(req, "'%s' must be a non-empty string" % key)
    return value


def home() -> str:
    return os.path.realpath(os.path.expanduser("~"))


def resolve(req: Request, p: str) -> tuple[str, bool]:
    """(the real path to write, whether it needs sudo: outside the login user's home)."""
    parts = p.split("/")[1:]
    if not (p.startswith("/") or p.startswith("~/")) or any(x in ("", ".", "..") for x in parts):
        raise _bad(req, "path %r: absolute or ~/..., without '.', '..' or empty parts" % p)
    full = os.path.join(home(), p[2:]) if p.startswith("~/") else pi_path(p)
    mine = home().rstrip(os.sep) + os.sep
    return full, not os.path.realpath(full).startswith(mine)


def _sha(data: bytes) -> str:
    h = facts._sha256()
    h.update(data)
    return str(h.hexdigest())


def _root_only_sim(full: str) -> bool:
    """On a simulated Pi (whose files all belong to the test's user), the files listed in
    ``/sim/root_only`` behave as mode 0600 owned by root: the agent's user cannot read them."""
    if not is_rerooted():
        return False
    try:
        with open(pi_path(ROOT_ONLY_SIM)) as f:
            listed = {pi_path(line.strip()) for line in f if line.strip()}
    except OSError:
        return False
    return full in listed


def _read(full: str) -> Optional[bytes]:
    if _root_only_sim(full) and os.path.lexists(full):
        raise PermissionError(full)
    try:
        with open(full, "rb") as f:
            return f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None


def root_sha(full: str) -> str:
    """The sha256 of a file only root can read (``sudo -n sha256sum FILE``): never its text."""
    out = privileged.run(["sha256sum", full], timeout=30.0)
    digest = out.split(" ", 1)[0].strip().lstrip("\\")
    if len(digest) != 64:
        raise ProtocolError(protocol.FAILED, "sha256sum answered %r" % out[:100])
    return digest


# --- reading --------------------------------------------------------------------------------


def config_read(req: Request) -> dict[str, Any]:
    """``{"path"}`` -> ``{"path", "exists", "content", "sha256", "mode", "uid", "readable",
    "rolled_back"?}``. A file outside the home that only root can read: ``content`` null,
    ``readable`` false, ``sha256`` by ``sudo -n sha256sum``."""
    p = _text(req, "path")
    assert p is not None
    settle_overdue()
    full, needs_sudo = resolve(req, p)
    out: dict[str, Any] = {"path": p, "exists": False, "content": None, "sha256": None}
    digest = None
    try:
        data = _read(full)
    except PermissionError:
        if not needs_sudo:
            raise ProtocolError(
                protocol.NOT_PERMITTED, "%s is not readable by the agent's user" % p, req.id
            ) from None
        try:
            digest = root_sha(full)
        except ProtocolError as e:
            raise ProtocolError(
                e.code, "%s is readable only by root, and %s" % (p, e.message), req.id
            ) from None
        data = None
    except OSError as e:
        raise ProtocolError(protocol.FAILED, "%s: %s" % (p, e.strerror or e), req.id) from None
    if data is not None and len(data) > MAX_BYTES:
        raise ProtocolError(protocol.FAILED, "%s is larger than 256 KiB" % p, req.id)
    if data is not None or digest is not None:
        st = os.stat(full)
        out.update(
            exists=True,
            content=data.decode("utf-8", "replace") if data is not None else None,
            sha256=_sha(data) if data is not None else digest,
            readable=data is not None,
            mode="%04o" % (st.st_mode & 0o7777),
            uid=st.st_uid,
        )
    report = later.read_state(_report_name(p))
    if report:
        out["rolled_back"] = report
    return out


# --- writing --------------------------------------------------------------------------------


def _state_name(p: str) -> str:
    return STATE_PREFIX + _sha(p.encode("utf-8"))[:16] + ".json"


def _report_name(p: str) -> str:
    return STATE_PREFIX + _sha(p.encode("utf-8"))[:16] + "-rollback.json"


def _pid_name(p: str) -> str:
    return STATE_PREFIX + _sha(p.encode("utf-8"))[:16] + "-watchdog.pid"


# --- backups kept -----------------------------------------------------------------------------


def _ledger(p: str) -> str:
    folder = os.path.join(os.path.expanduser(HOME_BACKUPS), ".kept")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, _sha(p.encode("utf-8"))[:16] + ".json")


def _kept(p: str) -> list[str]:
    try:
        with open(_ledger(p)) as f:
            data = protocol.loads(f.read(1 << 20))
    except (OSError, ValueError):
        return []
    listed = data.get("backups") if isinstance(data, dict) else None
    return [b for b in listed if isinstance(b, str)] if isinstance(listed, list) else []


def _set_kept(p: str, backups: list[str]) -> None:
    ledger = _ledger(p)
    with open(ledger + ".tmp", "w") as f:
        f.write(protocol.dumps({"path": p, "backups": backups}))
    os.replace(ledger + ".tmp", ledger)


def remember_backup(p: str, backup: str) -> None:
    """Add a backup just made to the target's ledger (newest last)."""
    _set_kept(p, [b for b in _kept(p) if b != backup] + [backup])


def prune(p: str, keep: int, needs_sudo: bool) -> list[str]:
    """Remove the oldest backups of ``p`` beyond the newest ``keep``; returns those removed.
    One that cannot be removed stays listed (tried again next time)."""
    backups = _kept(p)
    removed = []
    for b in backups[: max(0, len(backups) - keep)]:
        try:
            if needs_sudo:
                privileged.run(["rm", "-f", b])
            elif os.path.lexists(b):
                os.remove(b)
            removed.append(b)
        except (OSError, ProtocolError):
            pass
    if removed:
        _set_kept(p, [b for b in backups if b not in removed])
    return removed


# --- a watchdog that died ---------------------------------------------------------------------


def settle_overdue() -> list[dict[str, Any]]:
    """Every pending write past its deadline (+ grace) whose watchdog no longer runs (killed
    with the login session, OOM, a reboot before it ran): put the old file back and restart
    now, as the watchdog would have, and leave the report for the laptop. Returns them."""
    import re

    done = []
    for name in sorted(os.listdir(later.state_dir())):
        if not re.match(r"^config-[0-9a-f]{16}\.json$", name):
            continue
        state = later.read_state(name)
        if not state or not isinstance(state.get("deadline"), (int, float)):
            continue
        token = str(state.get("token"))
        if time.time() < state["deadline"] + OVERDUE_GRACE_S:
            continue
        if later.alive(os.path.join(later.state_dir(), name[:-5] + "-watchdog.pid"), token):
            continue
        if later.read_state(name) != state:  # the watchdog finished meanwhile
            continue
        later.clear_state(name)
        for step in state.get("undo") or []:
            if isinstance(step, list) and all(isinstance(w, str) for w in step):
                _run(step)
        report = dict(state.get("report") or {}, by="agent", id=token)
        report["reason"] = (
            "%s, and its watchdog was not running (killed?): put back at the next contact"
            % report.get("reason", "no confirmation")
        )
        report["time"] = round(time.time(), 3)
        with open(os.path.join(later.state_dir(), name[:-5] + "-rollback.json"), "w") as f:
            f.write(protocol.dumps(report))
        done.append(report)
    return done


def _sudo(argv: list[str]) -> list[str]:
    """The argv a detached helper runs for a privileged step."""
    if privileged.as_root():
        return argv
    sudo = privileged.sudo_exe()
    return [sudo, "-n"] + argv if sudo else argv


class _Writer:
    """The steps of one write, as the login user or through ``sudo -n``."""

    def __init__(self, req: Request, full: str, needs_sudo: bool) -> None:
        self.req = req
        self.full = full
        self.sudo = needs_sudo
        self.tmp = os.path.join(
            os.path.dirname(full), ".%s.fleet-new-%d" % (os.path.basename(full), os.getpid())
        )

    def stage(self, data: bytes, mode: int, owner: Optional[str]) -> None:
        """The temp file beside the target, with its final mode (and owner)."""
        if not os.path.isdir(os.path.dirname(self.full)):
            raise ProtocolError(
                protocol.FAILED,
                "folder %s does not exist" % os.path.dirname(self.full),
                self.req.id,
            )
        if not self.sudo:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(self.tmp, mode)
            return
        staged = os.path.join(later.state_dir(), "config-stage-%d" % os.getpid())
        with open(staged, "wb") as f:
            f.write(data)
        try:
            argv = ["install", "-m", "%04o" % mode]
            if owner:
                user, _, group = owner.partition(":")
                argv += ["-o", user] + (["-g", group] if group else [])
            privileged.run(argv + ["-T", staged, self.tmp])
        finally:
            os.remove(staged)

    def discard(self) -> None:
        try:
            if not self.sudo:
                os.remove(self.tmp)
            elif os.path.lexists(self.tmp):
                privileged.run(["rm", "-f", self.tmp])
        except (OSError, ProtocolError):
            pass

    def backup(self, dest_dir: str, name: str) -> str:
        dest = os.path.join(dest_dir, name)
        if not self.sudo:
            os.makedirs(dest_dir, mode=0o700, exist_ok=True)
            import shutil

            shutil.copy2(self.full, dest)
        else:
            privileged.run(["install", "-d", "-m", "0700", dest_dir])
            privileged.run(["cp", "-p", "-T", self.full, dest])
        return dest

    def swap(self) -> None:
        if not self.sudo:
            os.replace(self.tmp, self.full)
        else:
            privileged.run(["mv", "-f", "-T", self.tmp, self.full])

    def restore_steps(self, backup: Optional[str]) -> list[list[str]]:
        """What puts the old file back (argv lists, for the watchdog and after a failed
        restart): the backup copied beside the target and renamed over it, or no file."""
        undo = self.tmp + "-undo"
        if backup is None:
            return [_sudo(["rm", "-f", self.full]) if self.sudo else ["rm", "-f", self.full]]
        steps = [["cp", "-p", "-T", backup, undo], ["mv", "-f", "-T", undo, self.full]]
        return [_sudo(s) for s in steps] if self.sudo else steps


def systemd_running() -> bool:
    return os.path.isdir(pi_path("/run/systemd/system"))


def restart_argv(restart: str) -> tuple[list[str], bool]:
    """(argv, through sudo): ``systemctl restart UNIT`` for a unit where systemd runs, else
    the command split like a shell would (no shell runs it)."""
    import shlex

    words = shlex.split(restart)
    if len(words) == 1 and systemd_running() and "/" not in restart:
        return ["systemctl", "restart", restart], True
    return words, False


def _run(argv: list[str], timeout: float = 60.0) -> tuple[int, str]:
    import subprocess

    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            cwd=home(),
        )
    except subprocess.TimeoutExpired:
        return 124, "%s: timed out after %.0f s" % (argv[0], timeout)
    except OSError as e:
        return 127, "%s: %s" % (argv[0], e.strerror or e)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")[-2000:]


def _restart(restart: str) -> tuple[bool, str]:
    argv, sudo = restart_argv(restart)
    if sudo:
        try:
            privileged.run(argv, timeout=60.0)
            return True, ""
        except ProtocolError as e:
            return False, e.message
    code, output = _run(argv)
    return code == 0, ("exit %d: %s" % (code, output.strip())) if code else ""


def config_write(req: Request) -> dict[str, Any]:
    """See the module's docstring. Params: ``path, content, sha256, label, version`` and
    optional ``mode`` (octal text), ``owner``, ``validate``, ``restart``, ``confirm_s``,
    ``keep`` (backups kept of this file, 1-100)."""
    settle_overdue()
    p = _text(req, "path")
    content = req.params.get("content")
    assert p is not None
    if not isinstance(content, str):
        raise _bad(req, "'content' must be a string")
    data = content.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise _bad(req, "'content' is larger than 256 KiB")
    if req.params.get("sha256") != _sha(data):
        raise _bad(req, "'sha256' does not match the content (damaged on the way?)")
    label = _text(req, "label")
    assert label is not None
    if "/" in label or label.startswith("."):
        raise _bad(req, "'label' must be a plain name")
    version = _text(req, "version")
    mode_text = _text(req, "mode", required=False)
    owner = _text(req, "owner", required=False)
    validate = _text(req, "validate", required=False)
    restart = _text(req, "restart", required=False)
    confirm_s = req.params.get("confirm_s", 0)
    if (
        isinstance(confirm_s, bool)
        or not isinstance(confirm_s, (int, float))
        or not 0 <= confirm_s <= 3600
    ):
        raise _bad(req, "'confirm_s' must be a number in [0, 3600]")
    keep = req.params.get("keep", KEEP)
    if isinstance(keep, bool) or not isinstance(keep, int) or not 1 <= keep <= 100:
        raise _bad(req, "'keep' must be a whole number in [1, 100]")
    full, needs_sudo = resolve(req, p)
    if owner and not needs_sudo:
        raise _bad(req, "'owner' applies to files outside the login user's home only")
    if os.path.isdir(full):
        raise ProtocolError(protocol.FAILED, "%s is a folder" % p, req.id)
    try:
        old = _read(full)
        old_sha = _sha(old) if old is not None else None
    except PermissionError:  # only root can read it: compared by its hash
        old = None
        try:
            old_sha = root_sha(full) if needs_sudo else None
        except ProtocolError:
            old_sha = None  # treated as different; the write says what sudo refuses
    old_mode = os.stat(full).st_mode & 0o7777 if os.path.lexists(full) else None
    mode = int(mode_text, 8) if mode_text else (old_mode if old_mode is not None else 0o644)
    earlier = later.read_state(_report_name(p))  # a rollback the laptop has not heard of
    earlier = earlier if earlier and not earlier.get("acked") else None
    if old_sha == _sha(data) and (old_mode == mode):
        out: dict[str, Any] = {"path": p, "changed": False, "sha256": _sha(data)}
        return dict(out, rolled_back=earlier) if earlier else out

    w = _Writer(req, full, needs_sudo)
    w.stage(data, mode, owner)  # sudo refused: nothing was written
    if validate:
        import shlex

        argv = [
            w.tmp if word == "%s" else word.replace("%s", w.tmp) for word in shlex.split(validate)
        ]
        code, output = _run(argv)
        if code != 0:
            w.discard()
            raise ProtocolError(
                protocol.FAILED,
                "validation failed (%s exited %d), nothing changed: %s"
                % (argv[0], code, output.strip()[-500:]),
                req.id,
            )
    backup = None
    if os.path.lexists(full):
        stamp = time.strftime("%Y%m%dT%H%M%S")
        folder = pi_path(PRIVILEGED_BACKUPS) if needs_sudo else os.path.expanduser(HOME_BACKUPS)
        try:
            backup = w.backup(
                os.path.join(folder, label),
                "%s.before-%s.%s" % (os.path.basename(full), version, stamp),
            )
        except (OSError, ProtocolError) as e:
            w.discard()
            reason = e.message if isinstance(e, ProtocolError) else str(e)
            raise ProtocolError(
                protocol.FAILED,
                "backup of the old file failed, nothing changed: %s" % reason,
                req.id,
            ) from None
        remember_backup(p, backup)
    undo = w.restore_steps(backup)
    if restart:
        argv, sudo = restart_argv(restart)
        undo.append(_sudo(argv) if sudo else argv)
    token = None
    if confirm_s:
        report = {"path": p, "version": version, "backup": backup, "by": "watchdog"}
        report["reason"] = "no confirmation within %g s of the push of %s" % (confirm_s, version)
        state: dict[str, Any] = {"path": p, "backup": backup, "version": version, "keep": keep}
        state.update(sudo=needs_sudo, deadline=time.time() + confirm_s, undo=undo, report=report)
        token = later.write_state(_state_name(p), state)
        report["id"] = token
        later.spawn(
            confirm_s,
            [{"run": s} for s in undo]
            + [
                {
                    "write": [
                        os.path.join(later.state_dir(), _report_name(p)),
                        protocol.dumps(report),
                    ]
                }
            ],
            _state_name(p),
            token,
            detach=True,
            pid_name=_pid_name(p),
        )
    try:
        w.swap()
    except (OSError, ProtocolError) as e:
        w.discard()
        if token:
            later.clear_state(_state_name(p))
        reason = e.message if isinstance(e, ProtocolError) else str(e)
        raise ProtocolError(
            protocol.FAILED, "the swap failed, nothing changed: %s" % reason, req.id
        ) from None
    later.clear_state(_report_name(p))
    result: dict[str, Any] = {
        "path": p,
        "changed": True,
        "sha256": _sha(data),
        "backup": backup,
        "via": "sudo" if needs_sudo else "direct",
        "mode": "%04o" % mode,
    }
    if restart:
        ok, why = _restart(restart)
        if not ok:
            if token:
                later.clear_state(_state_name(p))
            for step in w.restore_steps(backup):
                _run(step)
            _restart(restart)
            raise ProtocolError(
                protocol.FAILED,
                "restart failed, the previous file was put back: %s" % why.strip()[-500:],
                req.id,
            )
        result["restarted"] = restart
    if token:
        result["confirm_token"] = token
    else:
        result["pruned"] = prune(p, keep, needs_sudo)
    if earlier:
        result["rolled_back"] = earlier
    return result


def config_confirm(req: Request) -> dict[str, Any]:
    """``{"path", "token"}``: the laptop still reaches the Pi; the watchdog stands down."""
    p = _text(req, "path")
    token = _text(req, "token")
    assert p is not None
    settle_overdue()
    state = later.read_state(_state_name(p))
    if not state or state.get("token") != token:
        raise ProtocolError(
            protocol.FAILED,
            "no pending push of %s with that token (the watchdog already put the old file back?)"
            % p,
            req.id,
        )
    later.clear_state(_state_name(p))
    keep = state.get("keep")
    pruned = prune(p, keep if isinstance(keep, int) else KEEP, bool(state.get("sudo")))
    return {"path": p, "confirmed": True, "pruned": pruned}


def config_ack(req: Request) -> dict[str, Any]:
    """``{"path", "id"}``: the laptop recorded that rollback report; it stays readable
    (``config_read``) but is not handed over as news again."""
    p = _text(req, "path")
    report_id = _text(req, "id")
    assert p is not None
    report = later.read_state(_report_name(p))
    if not report or report.get("id") != report_id:
        return {"path": p, "acked": False}
    with open(os.path.join(later.state_dir(), _report_name(p)), "w") as f:
        f.write(protocol.dumps(dict(report, acked=True)))
    return {"path": p, "acked": True}


def methods() -> dict[str, Callable[[Request], Optional[dict[str, Any]]]]:
    return {
        "config_read": config_read,
        "config_write": config_write,
        "config_confirm": config_confirm,
        "config_ack": config_ack,
    }
