"""Actions on devices (identify, reboot): refused in --readonly, confirmed, logged, run off the UI.

A device is named by its identity (core/identity.py): actions go to its serial, and a device
without a verified serial yet (a candidate whose agent has not answered) is refused with a
message. Every request is written to the fleet database as an event (who, what, which device)
before it is sent, and its outcome after, and to the log file; failures surface as one
notification.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.screen import Screen

from fleet_tui.core.identity import serial_of
from fleet_tui.core.text import visible
from fleet_tui.screens.context import fleet_context
from fleet_tui.screens.dialogs import ConfirmDialog

log = logging.getLogger("fleet_tui.actions")
LIST_AT_MOST = 8
IDENTIFY_SECONDS = 30


@dataclass(frozen=True)
class Target:
    key: str  # the device's identity: its serial, or a provisional id (refused)
    hostname: str
    address: str = ""  # shown in the confirmation and the event log

    @property
    def serial(self) -> str | None:
        return serial_of(self.key)

    @property
    def where(self) -> str:
        return self.address or self.key


@dataclass(frozen=True)
class DeviceAction:
    name: str
    method: str
    verb: str
    question: str
    params: dict[str, Any] = field(default_factory=dict)
    danger: bool = False


ACTIONS = {
    "identify": DeviceAction(
        "identify",
        "identify",
        "Identify",
        f"Blink the ACT LED for {IDENTIFY_SECONDS} s so you can find it in the rack:",
        {"seconds": IDENTIFY_SECONDS},
    ),
    "reboot": DeviceAction(
        "reboot",
        "reboot",
        "Reboot",
        "Reboot now? Services on it stop until it is back:",
        danger=True,
    ),
}


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown user"


def confirm_text(action: DeviceAction, targets: list[Target]) -> Text:
    text = Text(action.question + "\n")
    for t in targets[:LIST_AT_MOST]:
        text.append(f"  {visible(t.hostname)}", style="bold")
        text.append(f"  {visible(t.where)}\n")
    if len(targets) > LIST_AT_MOST:
        text.append(f"  … and {len(targets) - LIST_AT_MOST} more\n")
    return text


def typed_word(action: DeviceAction, targets: list[Target]) -> str | None:
    if not action.danger:
        return None
    return visible(targets[0].hostname) if len(targets) == 1 else f"{action.name} {len(targets)}"


def request(screen: Screen[Any], name: str, targets: list[Target]) -> None:
    """Ask, then run `name` on `targets` in a worker. Refused outright in --readonly mode."""
    ctx = fleet_context(screen.app)
    action = ACTIONS[name]
    if ctx.options.readonly:
        screen.app.notify(
            f"{action.verb} refused: read-only mode", severity="warning", markup=False
        )
        return
    if not targets:
        screen.app.notify("No device selected", severity="warning", markup=False)
        return
    unverified = [t for t in targets if t.serial is None]
    if unverified:
        names = ", ".join(visible(t.hostname) for t in unverified[:LIST_AT_MOST])
        more = (
            f" and {len(unverified) - LIST_AT_MOST} more" if len(unverified) > LIST_AT_MOST else ""
        )
        screen.app.notify(
            f"{action.verb} refused for {names}{more}: no verified serial yet"
            " (its agent has not answered)",
            severity="warning",
            markup=False,
        )
        targets = [t for t in targets if t.serial is not None]
        if not targets:
            return
    n = len(targets)
    title = f"{action.verb} {n} device{'s' if n > 1 else ''}?"
    dialog = ConfirmDialog(
        title,
        confirm_text(action, targets),
        action.verb,
        danger=action.danger,
        typed=typed_word(action, targets),
    )

    def answered(ok: bool | None) -> None:
        if ok:
            screen.run_worker(
                lambda: _run(screen, action, targets),
                thread=True,
                group="device-action",
                exit_on_error=False,
                description=f"{action.name} on {n} device(s)",
            )

    screen.app.push_screen(dialog, answered)


def _record(screen: Screen[Any], serial: str | None, kind: str, message: str) -> None:
    log.info("%s %s", kind, message)
    if serial is None:
        return
    ctx = fleet_context(screen.app)
    try:
        ctx.write_store().record_event(serial, kind, message)
    except Exception as e:  # the action matters more than its log line
        log.warning("could not record event %s for %s: %s", kind, serial, e)


def _run(screen: Screen[Any], action: DeviceAction, targets: list[Target]) -> None:
    ctx = fleet_context(screen.app)
    who = _who()
    done: list[str] = []
    failed: list[str] = []
    for t in targets:
        name = visible(t.hostname)
        _record(
            screen,
            t.serial,
            action.name,
            f"{action.name} requested by {who} from fleet-tui ({t.where})",
        )
        try:
            ctx.call_agent(t.key, action.method, dict(action.params), timeout=15.0)
        except Exception as e:
            reason = visible(str(e) or type(e).__name__)
            failed.append(f"{name}: {reason}")
            _record(screen, t.serial, f"{action.name}_failed", reason)
        else:
            done.append(name)
            _record(screen, t.serial, f"{action.name}_done", f"{action.name} accepted by {t.where}")
    if done:
        what = ", ".join(done[:LIST_AT_MOST]) + (" …" if len(done) > LIST_AT_MOST else "")
        screen.app.call_from_thread(
            screen.app.notify, what, title=f"{action.verb}: {len(done)} accepted", markup=False
        )
    if failed:
        ctx.report_error(f"{action.verb}: {len(failed)} failed", "\n".join(failed[:LIST_AT_MOST]))
