"""`:fault` in the TUI: the demo's simulator faults, injected from the command line.

Registered when this module is imported, which only `fleet-tui demo` does. The command works
in an app whose pipeline runs in a simulated lab; elsewhere it says it is demo-only. Parsing
happens on the UI thread (errors are one line at once), the lab works on the pipeline's loop
(`Backend.submit`), and a worker thread waits for it and posts the notification."""

from __future__ import annotations

from concurrent.futures import CancelledError, Future
from typing import Any

from textual.app import App

from fleet_tui.app import FleetApp
from fleet_tui.backend import BackendNotRunning
from fleet_tui.core.sim.faults import KINDS, FaultError
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.text import visible
from fleet_tui.demo.faults import (
    FAULT_USAGE,
    FaultRequest,
    Selected,
    apply_in_order,
    parse_fault_command,
)
from fleet_tui.screens.common import registry
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen

LAB_TIMEOUT = 30.0  # a fault that restarts sshd (ssh-down, host-key-change) takes a moment
FAULT_LINES = 8  # Pis listed in a `:fault` notification (`all` on a big demo: the rest counted)


def simulated_lab(app: App[Any]) -> SimLab | None:
    """The app's simulated lab, if its pipeline runs in one (None: a real fleet)."""
    lab = app.config.lab if isinstance(app, FleetApp) else None
    return lab if isinstance(lab, SimLab) else None


def selected_device(app: App[Any]) -> Selected | None:
    """The open device screen's device, else the fleet table's cursor row."""
    for screen in reversed(app.screen_stack):
        if isinstance(screen, DeviceScreen):
            return Selected(screen.endpoint, screen.ref.hostname)
        if isinstance(screen, FleetScreen):
            key, model = screen.table.cursor_key, screen.model
            row = model.rows.get(key) if key is not None and model is not None else None
            if row is None:
                return None
            ref = row.device_ref()
            return Selected(ref.endpoint, ref.hostname)
    return None


def fault(app: App[Any], arg: str) -> None:
    """`:fault SPEC…` / `:fault clear …` / `:fault`: parse here, apply on the pipeline's loop,
    report from a worker."""
    lab = simulated_lab(app)
    if lab is None or not isinstance(app, FleetApp):
        raise registry.CommandError(
            ":fault is demo-only: it injects faults into the simulated Pis of fleet-tui demo"
        )
    try:
        request = parse_fault_command(arg)
    except FaultError as e:
        raise registry.CommandError(f":fault: {e}") from None
    selected = selected_device(app) if request.wants_selection else None
    if request.wants_selection and selected is None:
        raise registry.CommandError(
            ":fault: no device selected; name one (HOST:KIND, e.g. 1:overheat, all:overheat)"
        )
    try:  # submitted here, so that requests typed quickly apply in the order typed
        future = app.backend.submit(apply_in_order(lab, request, selected))
    except BackendNotRunning as e:
        raise registry.CommandError(f":fault: {e}") from None
    app.run_worker(
        lambda: _await_faults(app, request, future),
        thread=True,
        group="lab-faults",
        exit_on_error=False,
        description="demo fault",
    )


def _await_faults(
    app: FleetApp, request: FaultRequest, future: Future[list[dict[str, Any]]]
) -> None:
    """The lab works on the backend's loop; this thread only waits for it."""
    try:
        rows = future.result(LAB_TIMEOUT)
    except CancelledError:  # the pipeline stopped (the app is quitting)
        return
    except TimeoutError:  # left to finish: stopping half-way would leave a Pi half-faulted
        app.report_error("Fault", f"the simulated lab is still busy after {LAB_TIMEOUT:g} s")
        return
    except FaultError as e:
        app.report_error("Fault", str(e))
        return
    title, text = describe(request, rows)
    app.notify(text, title=title, markup=False)  # thread-safe


def describe(request: FaultRequest, rows: list[dict[str, Any]]) -> tuple[str, str]:
    """The notification for a finished request: (title, one line per Pi it touched)."""
    lines = [
        f"{visible(str(r['hostname']), 64)}: {', '.join(map(str, r['faults'])) or 'no faults'}"
        for r in rows[:FAULT_LINES]
    ]
    if len(rows) > FAULT_LINES:
        lines.append(f"… and {len(rows) - FAULT_LINES} more")
    if request.empty:
        title = "Demo faults now"
        lines = lines or [f"none · :fault {FAULT_USAGE}"]
    else:
        title = "Demo faults cleared" if request.clear else "Demo fault applied"
    return title, "\n".join(lines)


def _suggestions(app: App[Any]) -> list[tuple[str, str]]:
    if simulated_lab(app) is None:
        return []
    out = [
        (f"{kind.name}={kind.example}" if kind.example else kind.name, f"selected Pi: {kind.help}")
        for kind in KINDS.values()
    ]
    out += [
        ("ssh-up", "selected Pi: clears ssh-down"),
        ("clear", "selected Pi: every fault off"),
        ("clear all", "every simulated Pi: every fault off"),
    ]
    return out


registry.register_command(
    registry.CommandSpec(
        "fault",
        ("faults",),
        "Demo fault",
        "demo only: inject a simulator fault into the selected Pi (or HOST, its number, all);"
        " clear turns faults off; no argument lists them",
        fault,
        argument="[HOST:]KIND[=VALUE]|clear",
        screen=False,
        suggest=_suggestions,
    )
)
