"""Releases of a small HTTP app for the deployment tests: each simulated Pi runs it on its own
loopback port (the file `app-port` in the Pi's home), `/` answers the version, `/health` 200
(or 500 for a broken version)."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

from fleet_tui.core.sim.lab import SimPi

APP = """import http.server, os
VERSION = open("VERSION").read().strip()
PORT = int(open(os.path.join(os.environ["HOME"], "app-port")).read())
BROKEN = os.path.exists("BROKEN")


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if (self.path == "/health" and BROKEN) else 200
        body = (VERSION if self.path == "/" else ("broken" if BROKEN else "ok")).encode()
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
"""

# the health check as a command: each Pi's app has its own port
HEALTH = """import os, sys, urllib.request
port = open(os.path.join(os.environ["HOME"], "app-port")).read().strip()
try:
    with urllib.request.urlopen("http://127.0.0.1:%s/health" % port, timeout=1) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception as e:
    print(e)
    sys.exit(1)
"""

MANIFEST = """name = "web"
version = "{version}"
[service]
start = "exec python3 app.py"
unit = "{unit}"
[health]
command = "python3 health.py"
deadline_s = {deadline}
[hooks]
post = '{post}'
"""


def make_release(
    base: Path,
    version: str,
    *,
    broken: bool = False,
    post: str = "",
    deadline: float = 4,
    unit: str = "",
    extra: bytes = b"",
) -> Path:
    folder = base / f"web-{version}"
    folder.mkdir(parents=True)
    (folder / "fleet-release.toml").write_text(
        MANIFEST.format(version=version, post=post, deadline=deadline, unit=unit)
    )
    (folder / "app.py").write_text(APP)
    (folder / "health.py").write_text(HEALTH)
    (folder / "VERSION").write_text(version + "\n")
    (folder / "static").mkdir()
    (folder / "static" / "logo.bin").write_bytes(b"\x89LOGO" * 20000 + extra)
    if broken:
        (folder / "BROKEN").write_text("yes\n")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def give_ports(pis: list[SimPi]) -> dict[str, int]:
    ports = {}
    for pi in pis:
        ports[pi.serial] = free_port()
        (pi.home / "app-port").write_text(str(ports[pi.serial]))
    return ports


def app_dir(pi: SimPi, name: str = "web") -> Path:
    return pi.home / ".local/share/fleet-tui/apps" / name


def current(pi: SimPi, name: str = "web") -> str | None:
    link = app_dir(pi, name) / "current"
    return Path(link.readlink()).name if link.is_symlink() else None


def answer(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            return r.read().decode()
    except OSError:
        return None


async def answers(port: int, want: str, seconds: float = 15.0) -> bool:
    """The app on `port` answers `want` within `seconds` (bounded poll)."""
    for _ in range(int(seconds / 0.1)):
        if await asyncio.to_thread(answer, port) == want:
            return True
        await asyncio.sleep(0.1)
    return False


class LocalAgent:
    """The real agent as a local process (`agent serve` on stdin/stdout) with its own HOME:
    for what needs the agent without SSH (resource limits, killing its watchdog)."""

    def __init__(self, home: Path, boot: str | None = None) -> None:
        import itertools
        import os
        import subprocess
        import sys

        boot = (
            boot
            or "import sys; from fleet_tui.hardware.agent import main; sys.exit(main(['serve']))"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", boot],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "HOME": str(home)},
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # hello
        self._ids = itertools.count(1)

    def call(self, method: str, **params: object) -> dict:  # type: ignore[type-arg]
        import json

        assert self.proc.stdin is not None and self.proc.stdout is not None
        request = {"id": next(self._ids), "method": method, "params": params}
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def put(self, version: str, manifest: dict, files: dict[str, bytes]) -> None:  # type: ignore[type-arg]
        """Send ``files`` as release ``version`` whole (one chunk each) and finish it."""
        import base64
        import hashlib

        entries = [
            {"path": p, "sha256": hashlib.sha256(d).hexdigest(), "mode": 0o644, "size": len(d)}
            for p, d in files.items()
        ]
        self.call("app_stage", name="web", version=version, manifest=manifest, files=entries)
        for e, data in zip(entries, files.values(), strict=True):
            sent = self.call(
                "app_put", name="web", version=version, sha256=e["sha256"], offset=0,
                data=base64.b64encode(data).decode(), last=True,
            )  # fmt: skip
            assert sent["result"]["done"], sent
        assert self.call("app_finish", name="web", version=version)["result"]["ready"]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
