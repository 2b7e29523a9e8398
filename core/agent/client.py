"""Talk to the fleet agent on a device: upload it when missing, start it, call methods.

One `AgentSession` is one long-lived `python3 … agent-<hash>.pyz serve` process on the device,
speaking JSON lines over the SSH channel. Requests carry ids so replies may come in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any, TypeVar

import asyncssh
from pydantic import ValidationError

from fleet_tui.core.agent.bundle import AgentBundle, build_agent
from fleet_tui.core.models import AgentErrorBody, Facts, Health, Hello

REMOTE_DIR = ".cache/fleet-tui"
MAX_LINE = 1 << 20  # the agent refuses larger requests; we refuse larger replies
SUPPORTED_PROTOCOL = 1
_M = TypeVar("_M", Facts, Health)


UPLOAD_MARK = b"fleet-tui: agent upload needed"
UPLOAD_FAILED = "agent upload failed"
UPLOAD_FAILED_EXIT = 97

# How the Pi's python3 runs the agent (hardware/README.md, "How the agent is started"):
# -S: no `site` at start (no .pth files, no site-packages scan; the agent adds site-packages
#     itself on the rare paths that use psutil or gpiozero);
# -E: no PYTHON* variables from the login environment (PYTHONPATH cannot shadow the stdlib);
# -c: the zipapp's own modules imported straight from the archive, without `runpy`, which a
#     `python3 agent.pyz` start spends more on than on the agent's hello. The archive replaces
#     sys.path[0] (the current directory for -c) and becomes sys.argv[0], as for a zipapp;
#     `run` is `main` without the interpreter's teardown at exit. A file under our name that
#     has no such agent inside (not our build) still runs as the zipapp it is, so that its
#     hello shows its hash and the client replaces it (AgentSession.start).
AGENT_FLAGS = "-S -E"
BOOTSTRAP = (
    "import sys;sys.argv[:2]=sys.argv[1:2];sys.path[0]=sys.argv[0]\n"
    "try:from hardware.agent import run\n"
    'except ImportError:import runpy;runpy.run_path(sys.argv[0],run_name="__main__")\n'
    "else:run()"
)


def start_command(path: str, size: int, python: str = "python3") -> str:
    """A POSIX sh line: if `path` is missing, say so, read exactly `size` bytes from stdin into
    a temporary file and rename it into place (a half-written agent never has the real name);
    then run the agent on this same channel (`python3 -S -E -c BOOTSTRAP path serve`).

    A failed upload (full disk, unwritable home, a link that drops mid-way) removes the
    temporary file and ends with exit status 97 and one stderr line, `agent upload failed
    (<path>): <reason>`, where the reason is the tail of the tool's own message (`No space left
    on device`) or `received N of SIZE bytes`.
    """
    folder = path.rsplit("/", 1)[0]
    return (
        f'f={path}; if [ ! -f "$f" ]; then echo "{UPLOAD_MARK.decode()}"; t="$f.$$.tmp"; '
        f'e=$({{ mkdir -p {folder} && head -c {size} > "$t"; }} 2>&1) && '
        f'n=$(($(wc -c < "$t"))) && '
        f'if [ "$n" -ne {size} ]; then e="received $n of {size} bytes"; false; fi && '
        f'e=$(mv -f "$t" "$f" 2>&1) || {{ rm -f "$t"; r=${{e##*: }}; '
        f'printf \'%s (%s): %s\\n\' "{UPLOAD_FAILED}" "$f" "${{r:-write failed}}" >&2; '
        f"exit {UPLOAD_FAILED_EXIT}; }}; fi; "
        f"exec {python} {AGENT_FLAGS} -c '{BOOTSTRAP}' \"$f\" serve"
    )


class AgentFailure(Exception):
    """The agent could not be started or gave a bad answer; message is for the technician."""


class AgentError(AgentFailure):
    def __init__(self, body: AgentErrorBody) -> None:
        self.code = body.code
        super().__init__(f"agent error {body.code}: {body.message}")


class AgentSession:
    def __init__(self, process: asyncssh.SSHClientProcess[bytes], hello: Hello) -> None:
        self._process = process
        self.hello = hello
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read_replies())
        self.closed_reason: str | None = None

    @classmethod
    async def start(
        cls,
        conn: asyncssh.SSHClientConnection,
        timeout: float = 15.0,  # noqa: ASYNC109
        python: str = "python3",
        bundle: AgentBundle | None = None,
    ) -> AgentSession:
        """Start the agent, uploading it first only when this exact build is missing.

        One exec channel does both (see `start_command`): no SFTP session, no second
        process on the Pi, one round trip when the agent is already there.
        """
        bundle = bundle or build_agent()
        path = f"{REMOTE_DIR}/{bundle.filename}"
        try:
            process = await asyncio.wait_for(
                conn.create_process(start_command(path, len(bundle.data), python), encoding=None),
                timeout,
            )
        except TimeoutError:
            raise AgentFailure("could not open a session to start the agent in time") from None
        except asyncssh.Error as exc:
            raise AgentFailure(f"could not start the agent: {exc.reason}") from None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
            if line.strip() == UPLOAD_MARK:
                await _send(process, bundle.data, timeout)
                line = await asyncio.wait_for(process.stdout.readline(), timeout)
        except TimeoutError:
            process.close()
            raise AgentFailure("agent did not say hello in time") from None
        except (asyncssh.Error, OSError) as exc:
            process.close()
            raise AgentFailure(f"agent did not start: {exc}") from None
        hello = _parse_hello(line)
        if hello is None:
            stderr = await _drain(process.stderr)
            process.close()
            failed = [text for text in stderr.splitlines() if text.startswith(UPLOAD_FAILED)]
            if failed:  # the shell's own one-line reason (full disk, dropped link, ...)
                raise AgentFailure(failed[-1].strip())
            raise AgentFailure(f"agent did not start: {stderr or line[:200]!r}")
        if hello.protocol != SUPPORTED_PROTOCOL:
            process.close()
            raise AgentFailure(f"agent speaks protocol {hello.protocol}, we speak 1")
        if hello.agent_hash not in ("", "dev", bundle.sha256):
            # The file with our build's name is not our build (corrupt or tampered): remove it
            # so that the next start uploads a good one.
            process.close()
            with contextlib.suppress(asyncssh.Error, OSError, TimeoutError):
                await asyncio.wait_for(conn.run(f"rm -f {path}", check=False), 5.0)
            raise AgentFailure(
                f"agent on the device is not this build ({hello.agent_hash[:16]}); removed it"
            )
        return cls(process, hello)

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Any:
        if self.closed_reason is not None:
            raise AgentFailure(self.closed_reason)
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        line = json.dumps({"id": request_id, "method": method, "params": params or {}})
        try:
            self._process.stdin.write(line.encode() + b"\n")
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AgentFailure(f"agent did not answer {method} within {timeout:g} s") from None
        finally:
            self._pending.pop(request_id, None)

    async def facts(self, timeout: float = 10.0) -> Facts:  # noqa: ASYNC109
        return _validate(Facts, await self.call("facts", timeout=timeout))

    async def health(self, timeout: float = 10.0, fields: list[str] | None = None) -> Health:  # noqa: ASYNC109
        params = {"fields": fields} if fields else None
        return _validate(Health, await self.call("health", params, timeout=timeout))

    async def _read_replies(self) -> None:
        reason = "agent exited"
        try:
            while True:
                line = await self._process.stdout.readline()
                if not line:
                    break
                if len(line) > MAX_LINE:
                    reason = "agent sent an oversized message"
                    break
                self._dispatch(line)
        except (asyncssh.Error, OSError) as exc:
            reason = f"connection lost: {exc}"
        self.closed_reason = reason
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AgentFailure(reason))

    def _dispatch(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            future = self._pending.get(message.get("id"))
        except (ValueError, AttributeError, TypeError):
            return  # a malformed line is dropped; the request it belonged to times out
        if future is None or future.done():
            return
        if "error" in message:
            try:
                future.set_exception(AgentError(AgentErrorBody.model_validate(message["error"])))
            except ValidationError:
                future.set_exception(AgentFailure("agent sent a malformed error"))
        else:
            future.set_result(message.get("result"))

    async def close(self) -> None:
        # Closing stdin is what makes the agent exit: nothing is left running on the Pi.
        with contextlib.suppress(asyncssh.Error, OSError):
            self._process.stdin.write_eof()
        self._process.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


def _parse_hello(line: bytes) -> Hello | None:
    try:
        return Hello.model_validate(json.loads(line)["hello"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


def _validate(model: type[_M], data: Any) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise AgentFailure(
            f"agent sent malformed {model.__name__.lower()}: {exc.errors()[0]['msg']}"
        ) from None


async def _send(process: asyncssh.SSHClientProcess[bytes], data: bytes, seconds: float) -> None:
    """The agent's bytes into the upload's stdin. A shell that stops reading early (a full disk)
    may close the channel under us: that is no error to report, its stderr line is."""
    with contextlib.suppress(asyncssh.Error, OSError):
        process.stdin.write(data)
        await asyncio.wait_for(process.stdin.drain(), seconds)


async def _drain(stream: asyncssh.SSHReader[bytes]) -> str:
    try:
        data = await asyncio.wait_for(stream.read(4096), 1.0)
    except (TimeoutError, asyncssh.Error):
        return ""
    return data.decode(errors="replace").strip()
