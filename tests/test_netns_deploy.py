"""Deployments and config sync end to end under Debian's OpenSSH sshd, in network namespaces.

The real `fleet-tui` command line runs in the laptop namespace; three Pis (pi-b1 only through
the jump host) each run their own sshd with the Pi's fake filesystem. A small HTTP app listens
on 127.0.0.1:8080 inside each Pi's namespace and the manifest's health check is that URL.
What only a real sshd proves: the agent's detached processes (the app, the dead-man watchdog)
outlive the SSH session, also when the laptop is SIGKILLed and sshd tears the session down.

The tests run in file order on one lab (a deployment history, like a technician's day):
v1 then v2 in waves; a broken v3 stops after the canary; a v4 whose commit never comes is
rolled back by the Pi itself and `deploy resume` records it; a config whose validation fails
changes nothing and a hand edit shows as drift; a v5 whose CLI is killed mid-way resumes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from tests.netns_lab import REPO, NetnsLab, Node, module_lab, run
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from netns_lab import (  # type: ignore[no-redef]
        REPO,
        NetnsLab,
        Node,
        module_lab,
        run,
    )

# one worker runs the whole file (make test runs -n 3 --dist loadgroup): its lab is module-wide
pytestmark = [pytest.mark.netns, pytest.mark.xdist_group("netns-deploy")]

PORT = 8080
APP = f"""import http.server, os
VERSION = open("VERSION").read().strip()
BROKEN = os.path.exists("BROKEN")


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if (self.path == "/health" and BROKEN) else 200)
        self.end_headers()
        self.wfile.write((VERSION if self.path == "/" else "ok").encode())

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", {PORT}), H).serve_forever()
"""

MANIFEST = """name = "web"
version = "{version}"
[service]
start = "exec python3 app.py"
[health]
http = "http://127.0.0.1:{port}/health"
deadline_s = {deadline}
[hooks]
pre = '{pre}'
post = '{post}'
"""

# each Pi's hook sleeps once (its own $HOME flag): long enough to kill the laptop side there
HOLD = '[ -e "$HOME/{flag}" ] || {{ touch "$HOME/{flag}"; sleep 2; }}'


@pytest.fixture(scope="module")
def netns() -> Iterator[NetnsLab]:
    yield from module_lab()


@pytest.fixture(scope="module")
def pis(netns: NetnsLab) -> list[Node]:
    """The three Pis, known to the laptop's fleet (pi-b1 through the jump host)."""
    via = f"root@{netns.nodes['jump'].address}"
    for args, ssh in (
        (("--interface", "10.231.1.1", "--no-neighbours"), False),
        (("--via", via, "--interface", "10.231.2.1"), True),
    ):
        found = netns.cli("discover", *args, "--timeout", "1.5", "--json", ssh=ssh)
        assert found.returncode == 0, found.stderr
    polled = netns.cli("poll", "--json")
    assert polled.returncode == 0, polled.stdout + polled.stderr
    return [netns.nodes[k] for k in ("a1", "a2", "b1")]


def _rows(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _finished(out: str) -> dict[str, Any]:
    return next(r["deployment"] for r in _rows(out) if r.get("event") == "finished")


def _release(
    lab: NetnsLab,
    version: str,
    *,
    pre: str = "",
    post: str = "",
    deadline: int = 3,
    broken: bool = False,
) -> None:
    folder = lab.workdir / "rel" / f"web-{version}"
    (folder / "static").mkdir(parents=True)
    (folder / "fleet-release.toml").write_text(
        MANIFEST.format(version=version, port=PORT, deadline=deadline, pre=pre, post=post)
    )
    (folder / "app.py").write_text(APP)
    (folder / "VERSION").write_text(version + "\n")
    (folder / "static" / "logo.bin").write_bytes(b"\x89LOGO" * 20000)
    if broken:  # its /health answers 500
        (folder / "BROKEN").write_text("yes\n")
    added = lab.cli("release", "add", str(folder), ssh=False)
    assert added.returncode == 0, added.stderr


def _app_dir(node: Node) -> Path:
    return node.base / "home/.local/share/fleet-tui/apps/web"


def _current(node: Node) -> str | None:
    link = _app_dir(node) / "current"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def _answer(node: Node) -> str | None:
    """What the app answers on / inside the Pi's own namespace (None: nothing listens)."""
    probe = (
        "import urllib.request,sys\n"
        "try:\n"
        f" print(urllib.request.urlopen('http://127.0.0.1:{PORT}/',timeout=1).read().decode())\n"
        "except OSError:\n sys.exit(1)\n"
    )
    done = run(sys.executable, "-c", probe, ns=node.ns, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def _until(check: Callable[[], bool], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _spawn_cli(lab: NetnsLab, *argv: str) -> subprocess.Popen[bytes]:
    """`fleet-tui` in the laptop namespace as a process of its own, to be killed."""
    cmd = [
        "ip", "netns", "exec", lab.laptop, sys.executable, "-m", "fleet_tui.cli",
        "--db", str(lab.workdir / "fleet.db"), *argv,
        "-i", str(lab.client_key), "-l", "root", "--no-ssh-agent",
        "-F", str(lab.workdir / "ssh_config"),
    ]  # fmt: skip
    env = {"HOME": str(lab.workdir), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        start_new_session=True,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # `ip netns exec` execs: the group is the CLI
    proc.wait(timeout=10)


def _held(pis: list[Node], flag: str) -> list[Node]:
    return [p for p in pis if (p.base / "home" / flag).exists()]


def _deployment(lab: NetnsLab, dep_id: str) -> dict[str, Any]:
    shown = lab.cli("deploy", "status", dep_id, "--json", ssh=False)
    assert shown.returncode == 0, shown.stderr
    return _rows(shown.stdout)[0]


WAVE = ("--to", "*", "--canary", "1", "--batch", "1", "--yes", "--json", "--confirm-s", "2")


def test_v1_then_v2_in_waves_sends_only_the_changed_file(netns: NetnsLab, pis: list[Node]) -> None:
    _release(netns, "1.0")
    _release(netns, "2.0")
    v1 = netns.cli("deploy", "web@1.0", *WAVE)
    assert v1.returncode == 0, v1.stdout[-2000:] + v1.stderr
    done = _finished(v1.stdout)
    assert done["status"] == "done" and len(done["plan"]["waves"]) == 3
    assert done["sent_files"] == 3 * 3  # app.py, VERSION, static/logo.bin to each Pi
    assert all(_current(p) == "1.0" and _answer(p) == "1.0" for p in pis)

    v2 = netns.cli("deploy", "web@2.0", *WAVE)
    assert v2.returncode == 0, v2.stdout[-2000:] + v2.stderr
    done = _finished(v2.stdout)
    assert done["status"] == "done"
    assert done["sent_files"] == 3 and done["sent_bytes"] == 3 * len("2.0\n")
    assert all(_current(p) == "2.0" and _answer(p) == "2.0" for p in pis)


def test_broken_v3_stops_after_the_canary_which_is_back_on_v2(
    netns: NetnsLab, pis: list[Node]
) -> None:
    _release(netns, "3.0", deadline=2, broken=True)
    v3 = netns.cli("deploy", "web@3.0", *WAVE)
    assert v3.returncode == 1, v3.stdout[-2000:] + v3.stderr
    done = _finished(v3.stdout)
    assert done["status"] == "stopped" and "canary" in done["message"]
    canary = done["plan"]["waves"][0][0]
    devices = {d["serial"]: d for d in _deployment(netns, done["id"])["devices"]}
    health = next(s for s in devices[canary]["steps"] if s["step"] == "health")
    assert health["status"] == "failed" and "HTTP 500" in health["message"]
    assert "back on 2.0" in devices[canary]["rollback"]
    for p in pis:  # the canary is back on 2.0; the others were never touched
        assert _current(p) == "2.0" and _answer(p) == "2.0"
        if p.serial != canary:
            assert devices[p.serial]["steps"] == []


def test_uncommitted_v4_is_rolled_back_by_the_pi_itself_and_resume_records_it(
    netns: NetnsLab, pis: list[Node]
) -> None:
    _release(netns, "4.0", post=HOLD.format(flag="v4-held"), deadline=2)
    proc = _spawn_cli(netns, "deploy", "web@4.0", *WAVE)
    try:
        # the canary's health passed and its post hook holds the switch: no commit yet
        assert _until(lambda: bool(_held(pis, "v4-held")), 20), "the canary never switched"
    finally:
        _kill(proc)  # the laptop is gone before its commit; sshd tears the session down
    killed = time.monotonic()
    (canary,) = _held(pis, "v4-held")
    assert _current(canary) == "4.0"

    # nobody commits: the Pi's watchdog puts 2.0 back (health deadline 2 s + confirm 2 s)
    assert _until(lambda: _answer(canary) == "2.0" and _current(canary) == "2.0", 15)
    assert time.monotonic() - killed < 12
    assert _until(lambda: not (_app_dir(canary) / "pending.json").exists(), 10)
    report = json.loads((_app_dir(canary) / "reports.jsonl").read_text().splitlines()[-1])
    assert report["by"] == "watchdog" and report["to"] == "2.0"
    assert all(_current(p) == "2.0" for p in pis if p is not canary)

    listed = _rows(netns.cli("deploy", "status", "--json", ssh=False).stdout)
    dep = listed[0]
    assert dep["status"] == "interrupted" and dep["release_id"] == "web@4.0"
    resumed = netns.cli("deploy", "resume", dep["id"], "--yes", "--json", "--confirm-s", "2")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert _finished(resumed.stdout)["status"] == "done"
    assert all(_current(p) == "4.0" and _answer(p) == "4.0" for p in pis)
    devices = {d["serial"]: d for d in _deployment(netns, dep["id"])["devices"]}
    rollback = [s for s in devices[canary.serial]["steps"] if s["step"] == "rollback"]
    assert rollback and rollback[0]["status"] == "reported"
    assert "by itself (watchdog)" in rollback[0]["message"]
    assert "no commit" in rollback[0]["message"]
    assert (_app_dir(canary) / "reports.jsonl").read_text().strip() == ""  # acknowledged


def test_config_validation_failure_changes_nothing_and_a_hand_edit_is_drift(
    netns: NetnsLab, pis: list[Node]
) -> None:
    pi = pis[0]
    conf = pi.base / "root/etc/app/app.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("original\n")
    to = ("--to", f"host:{pi.name}")

    def add(text: str) -> None:
        tmpl = netns.workdir / "app.conf.tmpl"
        tmpl.write_text(text)
        added = netns.cli(
            "config", "add", "app", "--path", "/etc/app/app.conf", "--template", str(tmpl),
            "--validate", "grep -q valid=yes %s", ssh=False,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr

    add("host=${device.hostname}\nvalid=no\n")
    refused = netns.cli("config", "push", "app", *to, "--yes", "--json")
    assert refused.returncode == 2, refused.stdout[-2000:] + refused.stderr
    failed = [
        r["step"] for r in _rows(refused.stdout) if r.get("step", {}).get("status") == "failed"
    ]
    assert failed and "validation failed" in failed[0]["message"]
    assert conf.read_text() == "original\n"
    assert sorted(p.name for p in conf.parent.iterdir()) == ["app.conf"]  # no temp left
    assert not (pi.base / "root/var/backups").exists()

    add("host=${device.hostname}\nvalid=yes\n")
    pushed = netns.cli("config", "push", "app", *to, "--yes", "--json")
    assert pushed.returncode == 0, pushed.stdout[-2000:] + pushed.stderr
    assert conf.read_text() == f"host={pi.name}\nvalid=yes\n"
    clean = netns.cli("config", "diff", "app", *to, "--json")
    assert clean.returncode == 0, clean.stderr
    assert _rows(clean.stdout)[0]["state"] == "in-sync"

    conf.write_text(f"host={pi.name}\nvalid=yes\nedited=by hand\n")  # on the Pi, by hand
    drift = netns.cli("config", "diff", "app", *to, "--json")
    view = _rows(drift.stdout)[0]
    assert view["state"] == "drift" and view["drift"] and view["pushed_version"] == 2
    shown = netns.cli("config", "diff", "app", *to)
    assert ": drift, pushed v2" in shown.stdout and "+edited=by hand" in shown.stdout


def test_a_deployment_killed_mid_way_resumes_without_redoing_what_was_done(
    netns: NetnsLab, pis: list[Node]
) -> None:
    _release(netns, "5.0", pre=HOLD.format(flag="v5-pre"), deadline=2)
    proc = _spawn_cli(netns, "deploy", "web@5.0", *WAVE)
    try:  # the canary is done and the second wave has begun: the app is killed there
        assert _until(lambda: len(_held(pis, "v5-pre")) == 2, 30), "no second wave"
    finally:
        _kill(proc)
    dep = _rows(netns.cli("deploy", "status", "--json", ssh=False).stdout)[0]
    assert dep["status"] == "interrupted" and dep["release_id"] == "web@5.0"
    canary = next(p for p in pis if p.serial == dep["plan"]["waves"][0][0])
    assert _current(canary) == "5.0"

    resumed = netns.cli("deploy", "resume", dep["id"], "--yes", "--json", "--confirm-s", "2")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert _finished(resumed.stdout)["status"] == "done"
    assert all(_current(p) == "5.0" and _answer(p) == "5.0" for p in pis)
    shown = _deployment(netns, dep["id"])
    assert shown["counts"]["done"] == 3
    devices = {d["serial"]: d for d in shown["devices"]}
    # one commit and one send each: nothing done before the kill was done again
    for d in devices.values():
        assert sum(s["step"] == "commit" for s in d["steps"]) == 1
    canary_steps = [s["step"] for s in devices[canary.serial]["steps"]]
    assert canary_steps == ["preflight", "send", "switch", "health", "commit"]
    # the Pi it was killed at: its agent carried on and switched for nobody; the resumed
    # deployment waited for that switch's watchdog, recorded it, sent nothing new, switched
    mid = devices[dep["plan"]["waves"][1][0]]["steps"]
    (reported,) = [s for s in mid if s["step"] == "rollback"]
    assert reported["status"] == "reported" and "by itself (watchdog)" in reported["message"]
    assert [s["message"] for s in mid if s["step"] == "send"][-1].startswith("0 of 3 files sent")
