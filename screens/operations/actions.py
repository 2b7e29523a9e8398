"""Identify and reboot from the TUI: refused in --readonly, confirmed, then started as an
operation (core/ops) on the pipeline. The screen does not wait: progress arrives as
`OperationUpdated` messages (a progress bar under the table, a notification at the end) and
the operation, its steps and every device's request and outcome are in the fleet database.

A device is named by its identity (core/identity.py): operations go to its serial, and a
device without a verified serial yet (a candidate whose agent has not answered) is left out
with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.screen import Screen

from fleet_tui.core.identity import serial_of
from fleet_tui.core.ops.catalogue import kind_of
from fleet_tui.core.ops.device_actions import IDENTIFY_SECONDS
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.kinds import OperationKind
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.dialogs import ConfirmDialog

LIST_AT_MOST = 8
PARAMS: dict[str, dict[str, Any]] = {"identify": {"seconds": IDENTIFY_SECONDS}}


@dataclass(frozen=True)
class Target:
    key: str  # the device's identity: its serial, or a provisional id (left out)
    hostname: str
    address: str = ""  # shown in the confirmation

    @property
    def serial(self) -> str | None:
        return serial_of(self.key)

    @property
    def where(self) -> str:
        return self.address or self.key


def confirm_text(kind: OperationKind, targets: list[Target], question: str | None = None) -> Text:
    text = Text((question or kind.question) + "\n")
    for t in targets[:LIST_AT_MOST]:
        text.append(f"  {visible(t.hostname)}", style="bold")
        text.append(f"  {visible(t.where)}\n")
    if len(targets) > LIST_AT_MOST:
        text.append(f"  … and {len(targets) - LIST_AT_MOST} more\n")
    return text


def request(
    screen: Screen[Any],
    name: str,
    targets: list[Target],
    params: dict[str, Any] | None = None,
    *,
    question: str | None = None,
    typed: Callable[[int], str] | None = None,
) -> None:
    """Ask, then start `name` on `targets` with `params` (else the kind's defaults). Refused
    outright in --readonly mode. `question` and `typed` (the word to type for N devices)
    replace the kind's own, for a harder variant (`power off --hard`)."""
    app = screen.app
    ctx = fleet_context(app)
    kind = kind_of(name)
    if ctx.options.readonly:
        app.notify(f"{kind.verb} refused: read-only mode", severity="warning", markup=False)
        return
    if not targets:
        app.notify("No device selected", severity="warning", markup=False)
        return
    ready = [t for t in targets if t.serial]
    unknown = [visible(t.hostname, 40) for t in targets if not t.serial]
    if unknown:
        app.notify(
            "no verified serial yet (the agent has not answered), left out: "
            + ", ".join(unknown[:LIST_AT_MOST])
            + (" …" if len(unknown) > LIST_AT_MOST else ""),
            title=f"{kind.verb}: not reached yet",
            severity="warning",
            markup=False,
        )
    if not ready:
        return
    word = typed(len(ready)) if typed else kind.typed_word([visible(t.hostname) for t in ready])
    dialog = ConfirmDialog(
        f"{kind.title(len(ready))}?",
        confirm_text(kind, ready, question),
        kind.verb,
        danger=kind.danger or typed is not None,
        typed=word,
    )
    devices = [DeviceTarget(t.serial or "", t.hostname) for t in ready]

    def answered(ok: bool | None) -> None:
        if ok:
            ctx.start_operation(kind.name, devices, params or PARAMS.get(kind.name))

    app.push_screen(dialog, answered)
