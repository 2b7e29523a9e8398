"""Run a short command and collect its output: what ``subprocess.run`` does for the agent's
hot path, without importing ``subprocess`` (with ``signal``, ``selectors``, ``threading`` and
``locale`` it costs more CPU than a ``vcgencmd`` run itself).

``posix_spawn`` (vfork + exec: nothing of the agent is copied), stdin from /dev/null, stdout
and stderr each through a pipe read until EOF or the deadline; a command still running at its
deadline is killed. Actions, which run rarely, keep using ``subprocess``.
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Sequence


class Timeout(Exception):
    pass


def _default_signals() -> tuple[int, ...]:
    # Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across exec, so
    # hand the child the defaults back (as subprocess's restore_signals does).
    import _signal

    return tuple(
        getattr(_signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, name)
    )


def run(argv: Sequence[str], timeout: float = 3.0) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, stderr) of ``argv`` (``argv[0]`` a path: no PATH search).

    Raises :class:`Timeout` when it runs past ``timeout`` seconds (it is killed), ``OSError``
    when it cannot start. A negative status is the signal that ended it."""
    import select

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        pid = os.posix_spawn(
            argv[0],
            list(argv),
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
            setsigdef=_default_signals(),
        )
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    open_fds = len(chunks)
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for fd, _ in poller.poll(left * 1000.0):
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_fds -= 1
    finally:
        os.close(out_r)
        os.close(err_r)
    if timed_out:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    status = _wait(pid, deadline if not timed_out else time.monotonic() + 5.0)
    if timed_out:
        raise Timeout("%s ran past %g s" % (os.path.basename(argv[0]), timeout))
    return status, b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _wait(pid: int, deadline: float) -> int:
    """Reap ``pid``; past ``deadline`` kill it (its pipes closed early, it may still run)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        time.sleep(0.0005)
