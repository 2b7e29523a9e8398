"""A running lab's control socket: `fleet-tui demo inject|clear|status` talk to it.

A Unix socket in a per-user runtime directory (mode 0700; the socket itself 0600), one JSON
request line in, one JSON reply line out, then the connection closes. Never a network port.
Requests: ``{"op": "inject", "spec": "HOST:KIND[=VALUE]"}``, ``{"op": "clear", "target":
HOST, "kind": KIND|null}``, ``{"op": "status"}``. Replies: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import stat
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

MAX_REQUEST = 64 * 1024
MAX_REPLY = 4 * 1024 * 1024
CLIENT_TIMEOUT = 30.0
READ_TIMEOUT = 5.0

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlError(Exception):
    """No running demo to talk to, or it could not be reached; the message is for the user."""


def runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/fleet-tui``, else ``<tmp>/fleet-tui-<uid>``: ours alone, mode 0700."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        path = Path(xdg) / "fleet-tui"
    else:
        path = Path(tempfile.gettempdir()) / f"fleet-tui-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise ControlError(f"{path} is not a directory owned by you; refusing to use it")
    if stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def default_socket_path() -> Path:
    return runtime_dir() / f"demo-{os.getpid()}.sock"


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket of a demo that died with our pid
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.path), limit=MAX_REQUEST
        )
        self.path.chmod(0o600)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), READ_TIMEOUT)
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            reply = await self._handler(request)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            reply = {"ok": False, "error": "incomplete or oversized request"}
        except ValueError as exc:  # bad JSON, bad spec, unknown Pi: the asker's mistake
            reply = {"ok": False, "error": str(exc), "usage": True}
        except Exception as exc:  # the demo keeps running whatever one request does
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        try:
            writer.write(json.dumps(reply).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT)
        except (TimeoutError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), READ_TIMEOUT)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), READ_TIMEOUT)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def running_demos() -> list[Path]:
    """Sockets of demos that answer a connect; stale ones (their demo died) are removed."""
    alive = []
    for path in sorted(runtime_dir().glob("demo-*.sock")):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2.0)
                s.connect(str(path))
            alive.append(path)
        except ConnectionRefusedError:
            with contextlib.suppress(OSError):
                path.unlink()
        except OSError:
            continue
    return alive


def find_demo(explicit: Path | None) -> Path:
    if explicit is not None:
        return explicit
    alive = running_demos()
    if not alive:
        raise ControlError("no running demo found (start one with `fleet-tui demo`)")
    if len(alive) > 1:
        listed = ", ".join(str(p) for p in alive)
        raise ControlError(f"{len(alive)} demos are running ({listed}); choose one with --socket")
    return alive[0]


def request(path: Path, message: dict[str, Any], timeout: float = CLIENT_TIMEOUT) -> dict[str, Any]:
    """Send one request to a running demo and return its reply (blocking, bounded in time)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps(message).encode() + b"\n")
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_REPLY:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ControlError(f"cannot reach the demo at {path}: {exc.strerror or exc}") from None
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        raise ControlError(f"the demo at {path} sent no valid reply") from None
    if not isinstance(reply, dict):
        raise ControlError(f"the demo at {path} sent no valid reply")
    return reply
