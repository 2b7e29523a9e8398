"""Three ways of one config on one device: the file it should have (desired: the head
version rendered now), the file it was last given (last pushed), the file it has (on the
device now, read through the agent). Drift: the device's file is not what was last pushed.
A file only root can read on the Pi is known by its sha256 alone: compared by hash, and its
text known only when the hash is that of a text the laptop has (pushed or desired)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from fleet_tui.core.configs.book import ConfigBook, ConfigFile, PushRecord, sha256
from fleet_tui.core.configs.desired import Rendered
from fleet_tui.core.configs.reports import take_report
from fleet_tui.core.ops.kinds import DeviceCaller

HIDDEN = "content not readable without root; hashes differ"


@dataclass(frozen=True)
class DeviceView:
    serial: str
    name: str
    desired: str | None  # None: the template cannot be rendered for it (desired_error)
    desired_error: str
    pushed: PushRecord | None
    pushed_number: int | None
    current: str | None  # None: no such file on the device, or unreadable (current_error)
    current_error: str = ""
    rolled_back: dict[str, Any] = field(default_factory=dict)
    current_hash: str | None = None  # a file only root reads: its sha256, `current` None

    @property
    def current_sha(self) -> str:
        """The sha256 of the file on the device (of "" when there is none)."""
        return self.current_hash or sha256(self.current or "")

    @property
    def hidden(self) -> bool:
        """Only root can read the device's file, and its text is none the laptop knows."""
        return self.current_hash is not None and self.current is None

    @property
    def state(self) -> str:
        """One word: unreadable, drift, pending (desired differs), in-sync, never-pushed."""
        if self.current_error:
            return "unreadable"
        if self.pushed is not None and self.current_sha != self.pushed.sha256:
            return "drift"
        if self.desired is not None and self.current_sha != sha256(self.desired):
            return "pending" if self.pushed is not None else "never-pushed"
        if self.pushed is None:
            return "never-pushed" if self.desired is None else "in-sync"
        return "in-sync"

    @property
    def drift(self) -> bool:
        return self.state == "drift"

    def diffs(self, path: str) -> list[tuple[str, str]]:
        """(title, unified diff) pairs: the device against what was pushed (drift), then what
        a push would change on the device."""
        out: list[tuple[str, str]] = []
        if self.current_error:  # what is on the device is not known: against what was pushed
            if self.desired is None:
                return out
            before = self.pushed.content if self.pushed is not None else ""
            if before != self.desired:
                was = (
                    f"pushed v{self.pushed_number}" if self.pushed is not None else "nothing pushed"
                )
                out.append(
                    (
                        f"desired vs {was} (the device could not be read)",
                        unified(before, self.desired, was, "desired", path),
                    )
                )
            return out
        if self.hidden:  # drift or pending, told by hash only: no text to diff
            if self.pushed is not None and self.current_sha != self.pushed.sha256:
                out.append((f"drift: on the device vs pushed v{self.pushed_number or '?'}", HIDDEN))
            if self.desired is not None and self.current_sha != sha256(self.desired):
                out.append(("a push would change", HIDDEN))
            return out
        now = self.current or ""
        if self.pushed is not None and sha256(now) != self.pushed.sha256:
            out.append(
                (
                    f"drift: on the device vs pushed v{self.pushed_number or '?'}",
                    unified(
                        self.pushed.content, now, f"pushed v{self.pushed_number}", "on device", path
                    ),
                )
            )
        if self.desired is not None and self.desired != now:
            out.append(
                ("a push would change", unified(now, self.desired, "on device", "desired", path))
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": self.serial,
            "hostname": self.name,
            "state": self.state,
            "drift": self.drift,
            "desired_sha256": sha256(self.desired) if self.desired is not None else None,
            "desired_error": self.desired_error or None,
            "pushed_version": self.pushed_number,
            "pushed_sha256": self.pushed.sha256 if self.pushed else None,
            "current_sha256": self.current_hash
            or (sha256(self.current) if self.current is not None else None),
            # False: only root reads it; compared by hash (its text known only if it matches)
            "current_readable": None if self.current_error else self.current_hash is None,
            "current_error": self.current_error or None,
            "rolled_back": self.rolled_back or None,
        }


def unified(a: str, b: str, a_name: str, b_name: str, path: str) -> str:
    lines = difflib.unified_diff(
        a.splitlines(keepends=True),
        b.splitlines(keepends=True),
        f"{path} ({a_name})",
        f"{path} ({b_name})",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


async def read_current(
    caller: DeviceCaller, serial: str, path: str
) -> tuple[str | None, str | None, str, dict[str, Any]]:
    """(text or None, sha256 of a file only root reads or None, error, rolled-back report)."""
    try:
        answer = await caller.call(serial, "config_read", {"path": path}, timeout=20.0)
    except Exception as e:  # unreachable, refused: the reason is the view's
        return None, None, str(e) or type(e).__name__, {}
    result: dict[str, Any] = answer if isinstance(answer, dict) else {}
    hidden = result.get("sha256") if result.get("readable") is False else None
    return result.get("content"), hidden, "", result.get("rolled_back") or {}


def _known_text(digest: str | None, *texts: str | None) -> str | None:
    """The text among `texts` whose sha256 is `digest` (a root-only file the laptop knows)."""
    return next((t for t in texts if t is not None and sha256(t) == digest), None)


async def three_way(
    book: ConfigBook, caller: DeviceCaller, config: ConfigFile, rendered: list[Rendered]
) -> list[DeviceView]:
    """Each device's view; a rollback the Pi did by itself is recorded as an event (once)."""
    out = []
    for r in rendered:
        serial = r.device.serial
        pushed = book.last_pushed(config.name, serial)
        current, hidden, error, report = await read_current(caller, serial, config.path)
        if hidden is not None:
            current = _known_text(hidden, pushed.content if pushed else None, r.content)
        await take_report(book.store, caller, serial, config.path, report)
        out.append(
            DeviceView(
                serial=serial,
                name=r.name,
                desired=r.content,
                desired_error=r.error,
                pushed=pushed,
                pushed_number=book.number_of(config.name, pushed.version) if pushed else None,
                current=current,
                current_error=error,
                rolled_back=report,
                current_hash=hidden,
            )
        )
    return out
