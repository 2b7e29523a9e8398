"""Agent entry point: ``facts``, ``health`` and ``serve`` (JSON lines on stdin/stdout).

A connection is often one cold process answering hello, facts and health (``fleet-tui
poll``), so what it imports is what it costs: the actions, discovery and ``threading`` are
imported on the first request that needs them, not at start.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock

from . import AGENT_VERSION, PROTOCOL_VERSION, clock, facts, protocol, sensors
from .protocol import ProtocolError, Request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Callable, Optional

MIN_WATCH_INTERVAL = 0.5
MAX_WATCHES = 8
# hardware/actions.py's methods (tests/test_agent_serve.py keeps the two lists equal)
ACTION_METHODS = ("identify", "reboot", "shutdown", "fan", "relay", "avahi")
# hardware/deploy.py's methods: releases received, switched under a watchdog, committed
DEPLOY_METHODS = (
    "app_have",
    "app_stage",
    "app_put",
    "app_finish",
    "app_switch",
    "app_commit",
    "app_status",
    "app_ack",
)
# hardware/config_files.py's methods
CONFIG_METHODS = ("config_read", "config_write", "config_confirm", "config_ack")

USAGE = "usage: agent.pyz {facts|health|serve|version}\n"


def hello() -> dict[str, Any]:
    return {
        "protocol": PROTOCOL_VERSION,
        "agent_version": AGENT_VERSION,
        "agent_hash": facts.agent_hash(),
        "python": facts.python_version(),
        "capabilities": facts.capabilities(),
    }


def health_now(sampler: sensors.Sampler, fields: Optional[list[str]] = None) -> dict[str, Any]:
    # the probe alone: capabilities() would also read sudo's answers, at every sample
    return sensors.health(sampler, facts.probed_capabilities()["pmic"], fields)


def health_fields(req: Request) -> Optional[list[str]]:
    """Optional ``params.fields``: a list of health field names to sample (saves bytes/CPU)."""
    fields = req.params.get("fields")
    if fields is None:
        return None
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise ProtocolError(protocol.BAD_REQUEST, "'fields' must be a list of strings", req.id)
    unknown = sorted(set(fields) - set(sensors.HEALTH_FIELDS))
    if unknown:
        raise ProtocolError(
            protocol.BAD_REQUEST,
            "unknown health fields %s (known: %s)"
            % (", ".join(unknown[:5]), ", ".join(sensors.HEALTH_FIELDS)),
            req.id,
        )
    return fields


class Flag:
    """Set once, read from any thread (``threading.Event`` without importing threading)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class Server:
    """One JSON-lines session. Requests are handled in order; ``watch`` streams from a thread."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes]) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.write_lock = allocate_lock()
        self.sampler = sensors.Sampler()
        self.watches: dict[int, tuple[Any, Any]] = {}  # id -> (Thread, Event)
        self.closed = Flag()
        self.methods: dict[str, Callable[[Request], Optional[dict[str, Any]]]] = {
            "hello": lambda req: hello(),
            "ping": self.ping,
            "facts": lambda req: facts.facts(),
            "health": lambda req: health_now(self.sampler, health_fields(req)),
            "watch": self.watch,
            "cancel": self.cancel,
            "stats": self.stats,
        }
        self.bytes_out = 0
        self.lines_out = 0
        # Actions, and discovery from this host (jump-host discovery): imported on first use.
        for name in ACTION_METHODS:
            self.methods[name] = _action_method(name)
        for name in ("neighbours", "browse"):
            self.methods[name] = _discover_method(name)
        for name in DEPLOY_METHODS:
            self.methods[name] = _deploy_method(name)
        for name in CONFIG_METHODS:
            self.methods[name] = _config_method(name)

    # --- output ----------------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> bool:
        data = protocol.encode(message)
        with self.write_lock:
            if self.closed.is_set():
                return False
            try:
                self.stdout.write(data)
                self.stdout.flush()
                self.bytes_out += len(data)
                self.lines_out += 1
            except (OSError, ValueError):
                self.closed.set()
                return False
        return True

    # --- methods ---------------------------------------------------------------------------
    def ping(self, req: Request) -> dict[str, Any]:
        return {"pong": True, "time": clock.now()[0]}

    def stats(self, req: Request) -> dict[str, Any]:
        """The agent's own footprint, for benchmarks: RSS, CPU time, bytes written."""
        import resource

        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss_kb = None
        try:
            with open("/proc/self/status") as f:  # the agent's own process: never re-rooted
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss_kb = int(line.split()[1])
        except (OSError, ValueError):
            pass
        return {
            "rss_kb": rss_kb,
            "max_rss_kb": me.ru_maxrss,
            "cpu_self_s": round(me.ru_utime + me.ru_stime, 4),
            "cpu_children_s": round(kids.ru_utime + kids.ru_stime, 4),
            "bytes_out": self.bytes_out,
            "lines_out": self.lines_out,
            "watches": len(self.watches),
        }

    def watch(self, req: Request) -> Optional[dict[str, Any]]:
        interval = req.params.get("interval", 2.0)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise ProtocolError(protocol.BAD_REQUEST, "'interval' must be a number", req.id)
        if not interval >= MIN_WATCH_INTERVAL or interval > 86400:
            raise ProtocolError(
                protocol.BAD_REQUEST,
                "'interval' must be between %.1f and 86400 seconds" % MIN_WATCH_INTERVAL,
                req.id,
            )
        if len(self.watches) >= MAX_WATCHES:
            raise ProtocolError(
                protocol.BAD_REQUEST, "too many watches (max %d)" % MAX_WATCHES, req.id
            )
        if req.id in self.watches:
            raise ProtocolError(protocol.BAD_REQUEST, "a watch with this id is running", req.id)
        fields = health_fields(req)
        import threading

        stop = threading.Event()
        sampler = sensors.Sampler()
        sampler.prime()

        def run() -> None:
            while not stop.is_set() and not self.closed.is_set():
                try:
                    event = health_now(sampler, fields)
                except Exception as e:  # never let a sensor kill the stream
                    event = {"error": "%s: %s" % (type(e).__name__, e)}
                if stop.is_set() or not self.send({"id": req.id, "event": event}):
                    return
                stop.wait(float(interval))

        t = threading.Thread(target=run, name="watch-%d" % req.id, daemon=True)
        self.watches[req.id] = (t, stop)
        t.start()
        return None  # events only; no result line

    def cancel(self, req: Request) -> dict[str, Any]:
        target = req.params.get("target")
        if not isinstance(target, int) or isinstance(target, bool):
            raise ProtocolError(protocol.BAD_REQUEST, "'target' must be an integer id", req.id)
        entry = self.watches.pop(target, None)
        if entry is None:
            return {"cancelled": False}
        thread, stop = entry
        with self.write_lock:  # no event for target is written after this point
            stop.set()
        thread.join(timeout=10)
        return {"cancelled": True}

    # --- loop ------------------------------------------------------------------------------
    def handle(self, line: bytes) -> None:
        try:
            req = protocol.parse_request(line)
        except ProtocolError as e:
            self.send(e.reply())
            return
        fn = self.methods.get(req.method)
        if fn is None:
            self.send(
                protocol.error(
                    req.id, protocol.UNKNOWN_METHOD, "unknown method %r" % req.method[:100]
                )
            )
            return
        try:
            result = fn(req)
        except ProtocolError as e:
            self.send(protocol.error(req.id, e.code, e.message))
            return
        except Exception as e:
            self.send(protocol.error(req.id, protocol.INTERNAL, "%s: %s" % (type(e).__name__, e)))
            return
        if result is not None:
            self.send({"id": req.id, "result": result})

    def serve(self) -> int:
        self.sampler.prime()
        self.send({"hello": hello()})
        while not self.closed.is_set():
            try:
                line = protocol.read_line(self.stdin)
            except ProtocolError as e:
                self.send(e.reply())
                continue
            except (OSError, ValueError):
                break
            if line is None:
                break
            if not line.strip():
                continue
            try:
                self.handle(line)
            except Exception as e:  # last line of defence: answer, keep serving
                self.send(protocol.error(None, protocol.INTERNAL, "%s: %s" % (type(e).__name__, e)))
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        for _thread, stop in list(self.watches.values()):
            stop.set()
        self.closed.set()
        for thread, _ in list(self.watches.values()):
            thread.join(timeout=5)
        self.watches.clear()


def _action_method(name: str) -> Callable[[Request], Optional[dict[str, Any]]]:
    def call(req: Request) -> Optional[dict[str, Any]]:
        from . import actions

        return actions.methods()[name](req)

    return call


def _config_method(name: str) -> Callable[[Request], Optional[dict[str, Any]]]:
    def call(req: Request) -> Optional[dict[str, Any]]:
        from . import config_files

        return config_files.methods()[name](req)

    return call


def _discover_method(name: str) -> Callable[[Request], Optional[dict[str, Any]]]:
    def call(req: Request) -> Optional[dict[str, Any]]:
        from . import discover

        return discover.methods()[name](req)

    return call


def _deploy_method(name: str) -> Callable[[Request], Optional[dict[str, Any]]]:
    def call(req: Request) -> Optional[dict[str, Any]]:
        from . import deploy

        return deploy.methods()[name](req)

    return call


def _print(obj: dict[str, Any]) -> None:
    import json

    sys.stdout.write(json.dumps(protocol_safe(obj)) + "\n")
    sys.stdout.flush()


def protocol_safe(obj: dict[str, Any]) -> dict[str, Any]:
    return protocol.loads(protocol.encode(obj).decode("utf-8"))


def main(argv: Optional[list[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cmd = args[0] if args else ""
    if cmd == "facts":
        _print(facts.facts())
        return 0
    if cmd == "health":
        sampler = sensors.Sampler()
        sampler.prime()
        import time

        time.sleep(0.1)  # two CPU samples for a percentage
        _print(health_now(sampler))
        return 0
    if cmd == "serve":
        return Server(sys.stdin.buffer, sys.stdout.buffer).serve()
    if cmd == "version":
        _print(hello())
        return 0
    sys.stderr.write(USAGE)
    return 2


def run() -> None:
    """The client's entry point (``BOOTSTRAP`` in core/agent/client.py): :func:`main`, then
    exit without the interpreter's teardown (freeing every module: the last ~10 % of a cold
    process's CPU) once what was written is flushed. Nothing of the agent needs that teardown:
    watches are joined by then, files closed as written, helpers detached. An exception from
    :func:`main` takes the ordinary way out, with its traceback."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
