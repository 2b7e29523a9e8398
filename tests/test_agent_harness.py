"""Run the real agent in a subprocess against a fake Pi tree (shared by the agent tests)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def build_zipapp(dest: Path) -> Path:
    """A zipapp laid out like core.agent_bundle's: package ``hardware`` plus ``__main__.py``."""
    with zipfile.ZipFile(dest, "w") as z:
        for f in sorted((REPO / "hardware").glob("*.py")):
            z.write(f, "hardware/" + f.name)
        z.writestr("__main__.py", "import sys\nfrom hardware.agent import main\nsys.exit(main())\n")
    return dest


def agent_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FLEET_AGENT_ROOT"] = str(root)
    env["PATH"] = str(root / "bin") + os.pathsep + env.get("PATH", "")
    env.pop("PYTHONPATH", None)
    return env


class Agent:
    def __init__(
        self,
        root: Path,
        python: str = sys.executable,
        pyz: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """``env``: the whole environment (default: :func:`agent_env` of ``root``)."""
        args = (
            [python, str(pyz), "serve"]
            if pyz
            else [python, "-m", "fleet_tui.hardware.agent", "serve"]
        )
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(REPO),
            env=agent_env(root) if env is None else env,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, obj: Any) -> None:
        self.send_raw(json.dumps(obj).encode() + b"\n")

    def recv(self, timeout: float = 15.0) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError(f"agent closed stdout; stderr: {self.stderr()}")
        return json.loads(line)

    def call(
        self, method: str, params: dict[str, Any] | None = None, req_id: int = 1
    ) -> dict[str, Any]:
        self.send({"id": req_id, "method": method, "params": params or {}})
        while True:
            msg = self.recv()
            if msg.get("id") == req_id and "event" not in msg:
                return msg

    def close(self, timeout: float = 10.0) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
