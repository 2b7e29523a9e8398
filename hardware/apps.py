"""Applications deployed on this Pi: their folders, the ``current`` link, the service, the
health check and the rollback. Shared by the agent's deploy methods (hardware/deploy.py) and
the detached dead-man watchdog (hardware/watchdog.py), which must be able to roll back alone.

    ~/.local/share/fleet-tui/apps/NAME/
        releases/VERSION/        the files, plus .fleet-release.json (manifest and file list)
        staging/                 a version being received (renamed into releases/ when whole)
        current -> releases/V    switched by an atomic rename of a new link over it
        service.json             what `start` started: its process group, version, log
        pending.json             an armed watchdog: token, version, previous, deadline
        reports.jsonl            rollbacks done on the Pi, until the laptop acknowledges them
        app.log                  the service's output (the process path)
        .lock                    one switch, commit or rollback at a time (flock)
"""

from __future__ import annotations

import os
import re
import time

from . import protocol
from .paths import path, which
from .protocol import ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator, Optional

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
META = ".fleet-release.json"
KEEP = 3
STOP_WAIT_S = 5.0
OUTPUT_LIMIT = 2000


def apps_root() -> str:
    return os.path.join(os.path.expanduser("~"), ".local", "share", "fleet-tui", "apps")


def check_name(name: object, what: str = "name") -> str:
    pattern = NAME_RE if what == "name" else VERSION_RE
    if not isinstance(name, str) or not pattern.match(name):
        raise ProtocolError(protocol.BAD_REQUEST, "bad %s %r" % (what, str(name)[:80]))
    return name


class App:
    """One application's folder on this Pi."""

    def __init__(self, name: str) -> None:
        self.name = check_name(name)
        self.dir = os.path.join(apps_root(), name)

    def sub(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def release_dir(self, version: str) -> str:
        return self.sub("releases", check_name(version, "version"))

    # ---- state files ------------------------------------------------------------------------
    def read_json(self, name: str) -> Optional[Any]:
        try:
            with open(self.sub(name)) as f:
                return protocol.loads(f.read(1 << 20))
        except (OSError, ValueError):
            return None

    def write_json(self, name: str, data: Any) -> None:
        tmp = self.sub(name + ".tmp")
        with open(tmp, "w") as f:
            f.write(protocol.dumps(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.sub(name))

    def remove(self, name: str) -> None:
        try:
            os.remove(self.sub(name))
        except OSError:
            pass

    def lock(self) -> Any:
        """A context manager holding this app's lock (flock: released if the holder dies)."""
        import fcntl

        os.makedirs(self.dir, exist_ok=True)
        app = self

        class _Lock:
            def __enter__(self) -> None:
                self.fd = os.open(app.sub(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self.fd, fcntl.LOCK_EX)

            def __exit__(self, *exc: object) -> None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
                os.close(self.fd)

        return _Lock()

    # ---- releases ---------------------------------------------------------------------------
    def meta(self, version: str) -> Optional[dict[str, Any]]:
        try:
            with open(os.path.join(self.release_dir(version), META)) as f:
                data = protocol.loads(f.read(1 << 24))
            return data if isinstance(data, dict) else None
        except (OSError, ValueError):
            return None

    def versions(self) -> list[str]:
        """Kept versions, oldest first (by when each was received whole)."""
        found = []
        try:
            names = os.listdir(self.sub("releases"))
        except OSError:
            return []
        for v in names:
            if VERSION_RE.match(v):
                meta = self.meta(v)
                if meta is not None:
                    found.append((meta.get("finished") or 0, v))
        return [v for _, v in sorted(found)]

    def current(self) -> Optional[str]:
        try:
            target = os.readlink(self.sub("current"))
        except OSError:
            return None
        return os.path.basename(target.rstrip("/")) or None

    def point_current(self, version: Optional[str]) -> None:
        """Switch ``current`` atomically: a new link renamed over the old one."""
        link = self.sub("current")
        if version is None:
            try:
                os.remove(link)
            except OSError:
                pass
            return
        tmp = self.sub(".current.tmp")
        try:
            os.remove(tmp)
        except OSError:
            pass
        os.symlink(os.path.join("releases", version), tmp)
        os.replace(tmp, link)

    def hashes(self) -> dict[str, str]:
        """sha256 -> a file of a kept release that has that content."""
        out: dict[str, str] = {}
        for v in self.versions():
            meta = self.meta(v) or {}
            base = self.release_dir(v)
            for f in meta.get("files") or []:
                if isinstance(f, dict) and isinstance(f.get("sha256"), str):
                    out.setdefault(f["sha256"], os.path.join(base, str(f.get("path"))))
        return out

    def prune(self, keep: int = KEEP) -> list[str]:
        """Remove the oldest releases beyond ``keep``, never the current one."""
        import shutil

        current = self.current()
        versions = self.versions()
        gone = []
        for v in versions[: max(0, len(versions) - keep)]:
            if v != current:
                shutil.rmtree(self.release_dir(v), ignore_errors=True)
                gone.append(v)
        return gone

    # ---- reports ----------------------------------------------------------------------------
    def report(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry = dict(entry, id=os.urandom(6).hex(), time=time.time())
        with open(self.sub("reports.jsonl"), "a") as f:
            f.write(protocol.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return entry

    def reports(self) -> list[dict[str, Any]]:
        out = []
        try:
            with open(self.sub("reports.jsonl")) as f:
                for line in f:
                    try:
                        entry = protocol.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict):
                        out.append(entry)
        except OSError:
            pass
        return out[-50:]

    def ack(self, ids: list[str]) -> int:
        keep = [r for r in self.reports() if r.get("id") not in ids]
        done = len(self.reports()) - len(keep)
        tmp = self.sub("reports.jsonl.tmp")
        with open(tmp, "w") as f:
            for r in keep:
                f.write(protocol.dumps(r) + "\n")
        os.replace(tmp, self.sub("reports.jsonl"))
        return done


# ---- the service ------------------------------------------------------------------------------


def has_systemd() -> bool:
    """sd_booted(): systemd runs this system when /run/systemd/system exists."""
    return os.path.isdir(path("/run/systemd/system"))


def _sh(command: str, cwd: str, timeout: float) -> tuple[int, str]:
    import subprocess

    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        return 124, (out + "\n(timed out after %g s)" % timeout)[-OUTPUT_LIMIT:]
    except OSError as e:
        return 127, str(e)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")[-OUTPUT_LIMIT:]


def run_hook(command: str, cwd: str, timeout: float = 120.0) -> tuple[int, str]:
    return _sh(command, cwd, timeout)


def _systemctl(args: list[str]) -> None:
    from . import privileged

    if privileged.as_root():
        exe = which("systemctl")
        if exe is None:
            raise ProtocolError(protocol.UNAVAILABLE, "systemctl not found")
        code, out = _sh(" ".join([exe] + args), "/", 60.0)
        if code != 0:
            raise ProtocolError(protocol.FAILED, "systemctl %s: %s" % (" ".join(args), out))
        return
    privileged.run(["systemctl"] + args, timeout=60.0)


def uses_systemd(manifest: dict[str, Any]) -> bool:
    service = manifest.get("service") or {}
    return bool(service.get("unit")) and has_systemd()


def stop_service(app: App, manifest: Optional[dict[str, Any]], version: Optional[str]) -> str:
    """Stop what runs for ``app``: systemd stops it itself on restart; otherwise the
    manifest's ``stop``, else SIGTERM to the process group ``start`` made, then SIGKILL."""
    service = (manifest or {}).get("service") or {}
    if manifest is not None and uses_systemd(manifest):
        return "systemd"
    stop = service.get("stop") or ""
    if stop and version is not None:
        code, out = run_hook(stop, app.release_dir(version), 60.0)
        if code != 0:
            out = "stop exited %d: %s" % (code, out.strip()[-200:])
    else:
        out = ""
    state = app.read_json("service.json")
    pgid = state.get("pgid") if isinstance(state, dict) else None
    if isinstance(pgid, int) and pgid > 1:
        _kill_group(pgid)
    app.remove("service.json")
    return out or "stopped"


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. A killed service whose parent (init, or
    a subreaper) has not reaped it yet is a zombie: it counts as gone (this process's real
    /proc, never re-rooted)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return True
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _kill_group(pgid: int) -> None:
    import signal

    try:
        os.killpg(pgid, signal.SIGTERM)
    except OSError:
        return
    end = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < end and _group_alive(pgid):
        time.sleep(0.05)
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


def start_service(app: App, version: str, manifest: dict[str, Any]) -> str:
    """Start ``version``'s service: ``systemctl restart UNIT`` where systemd runs, else its
    ``start`` run detached (own session, output to app.log) in the release folder."""
    service = manifest.get("service") or {}
    if uses_systemd(manifest):
        _systemctl(["restart", str(service["unit"])])
        return "systemd"
    start = service.get("start") or ""
    if not start:
        raise ProtocolError(
            protocol.FAILED,
            "unit %s needs systemd, which this Pi does not run, and there is no start command"
            % service.get("unit"),
        )
    import subprocess

    log = app.sub("app.log")
    # The outer shell leads a new session; the service, started in the background, stays in
    # its process group (the group we stop) and is adopted by init when the shell exits: it
    # outlives the agent and the SSH session, and leaves no zombie behind.
    proc = subprocess.Popen(
        ["/bin/sh", "-c", 'sh -c "$1" >>"$2" 2>&1 </dev/null & echo $!', "sh", start, log],
        cwd=app.release_dir(version),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    out, _ = proc.communicate(timeout=15)
    try:
        pid = int(out.decode().strip())
    except ValueError:
        pid = None
    app.write_json(
        "service.json", {"pgid": proc.pid, "pid": pid, "version": version, "started": time.time()}
    )
    return "process"


def service_running(app: App) -> Optional[bool]:
    state = app.read_json("service.json")
    if not isinstance(state, dict) or not isinstance(state.get("pgid"), int):
        return None
    return _group_alive(state["pgid"])


def log_tail(app: App, limit: int = 600) -> str:
    try:
        with open(app.sub("app.log"), "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def health_check(app: App, version: str, manifest: dict[str, Any]) -> tuple[bool, str]:
    """Poll the manifest's check until it passes or ``deadline_s`` runs out."""
    health = manifest.get("health") or {}
    deadline = float(health.get("deadline_s") or 30.0)
    end = time.monotonic() + deadline
    last = "no health check: the service started"
    http, command = health.get("http") or "", health.get("command") or ""
    process = not uses_systemd(manifest)
    while True:
        if http:
            ok, last = _http_ok(http)
        elif command:
            code, out = _sh(command, app.release_dir(version), max(1.0, end - time.monotonic()))
            ok, last = code == 0, "health command exited %d: %s" % (code, out.strip()[-300:])
        else:
            ok = True
        if ok:
            return True, last
        if process and service_running(app) is False:
            return False, "the service exited: %s" % log_tail(app).strip()[-400:]
        if time.monotonic() >= end:
            return False, "health check did not pass within %g s: %s" % (deadline, last)
        time.sleep(0.2)


def _http_ok(url: str) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2.0) as resp:  # noqa: S310 (the manifest's)
            status = resp.status
            body = resp.read(200).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return False, "GET %s: HTTP %d" % (url, e.code)
    except (urllib.error.URLError, OSError) as e:
        return False, "GET %s: %s" % (url, getattr(e, "reason", e))
    return 200 <= status < 300, "GET %s: HTTP %d %s" % (url, status, body.strip()[:100])


def roll_back(app: App, pending: dict[str, Any], reason: str, by: str) -> dict[str, Any]:
    """Back to ``pending['previous']`` (held under the app's lock by the caller): stop the new
    service, switch ``current`` back, start the previous one, report why."""
    version = pending.get("version")
    previous = pending.get("previous")
    new_meta = app.meta(version) if isinstance(version, str) else None
    outcome = []
    try:
        stop_service(app, (new_meta or {}).get("manifest"), version)
    except Exception as e:
        outcome.append("stop failed: %s" % e)
    app.point_current(previous if isinstance(previous, str) else None)
    if isinstance(previous, str):
        old = (app.meta(previous) or {}).get("manifest") or {}
        try:
            start_service(app, previous, old)
            ok, how = health_check(app, previous, old)
            outcome.append("previous %s %s" % (previous, "healthy" if ok else "unhealthy: " + how))
        except Exception as e:
            outcome.append("restarting %s failed: %s" % (previous, e))
    else:
        outcome.append("no previous release: stopped")
    app.remove("pending.json")
    return app.report(
        {
            "kind": "rollback",
            "app": app.name,
            "from": version,
            "to": previous,
            "reason": reason,
            "by": by,
            "outcome": "; ".join(outcome)[:OUTPUT_LIMIT],
        }
    )


def pending_entries(app: App) -> Iterator[dict[str, Any]]:
    p = app.read_json("pending.json")
    if isinstance(p, dict):
        yield p
