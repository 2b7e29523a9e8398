"""What every screen may ask of the app: options passed down, and a few services.

Screens never import the App class (fleet_tui imports screens, not the other way round); they
reach the app through the `FleetContext` protocol, which `fleet_tui.app.FleetApp` implements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from textual.app import App

from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.policy import StatusPolicy
from fleet_tui.core.store.database import Store

if TYPE_CHECKING:
    from fleet_tui.core.deploy.rollout import DeployEvent, Rollout
    from fleet_tui.core.net.ssh import ConnectOptions

T = TypeVar("T")

NORMAL_FLUSH_S = 0.25  # coalesce a flood of updates into at most 4 table refreshes a second
LOW_BANDWIDTH_FLUSH_S = 2.0
# the app-level worker group a deployment started from :deploy runs in (it outlives the
# screen); quitting names the deployments still running in it
DEPLOY_WORKERS = "deploy-run"


@dataclass(frozen=True)
class UiOptions:
    """Settings handed down to every screen (from CLI flags and the user's config file)."""

    readonly: bool = False
    low_bandwidth: bool = False
    flush_seconds: float | None = None  # None: the default for the bandwidth mode
    records_seconds: float = 30.0  # how often labels/tags/racks are re-read from the store
    policy: StatusPolicy = field(default_factory=lambda: StatusPolicy())
    now: Callable[[], float] = time.time  # frozen in snapshot tests
    animate: bool = True  # cursor blink and animations (off for snapshots and slow links)
    # where `x` proposes to write CSVs (the config's export_dir); None: the default place,
    # core/export.py default_export_dir(), made on first use
    export_dir: Path | None = None
    # who walkthrough answers are recorded as (the config's `technician`, else the OS user)
    technician: str = ""

    @property
    def flush_interval(self) -> float:
        if self.flush_seconds is not None:
            return self.flush_seconds
        return LOW_BANDWIDTH_FLUSH_S if self.low_bandwidth else NORMAL_FLUSH_S


class ReadOnlyError(Exception):
    """A modifying action was asked for while --readonly is on."""


@runtime_checkable
class FleetContext(Protocol):
    options: UiOptions

    def live_state(self, key: str) -> DeviceState | None:
        """The live state of a device by identity (its serial, else its provisional id)."""
        ...

    def live_states(self) -> dict[str, DeviceState]:
        """Every live state, by identity."""
        ...

    def read_store(self) -> Store | None:
        """A store for reads (call from a worker thread); None while there is no database."""
        ...

    def write_store(self) -> Store:
        """The store for writes (worker thread). Raises ReadOnlyError in --readonly mode."""
        ...

    def report_error(self, title: str, message: str) -> None:
        """The one place background failures surface (safe from any thread)."""
        ...

    # ---- operations (core/ops): they run on the pipeline; progress comes as OperationUpdated
    def start_operation(
        self,
        kind: str,
        targets: list[DeviceTarget],
        params: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> None:
        """Start an operation; returns at once (failures to start are reported). `title`
        names it in `:ops` (default: "Identify 3 devices")."""
        ...

    def cancel_operation(self, op_id: str) -> None: ...

    def resume_operation(self, op_id: str, include_unknown: bool = False) -> None: ...

    def operations_now(self) -> list[OperationEvent]:
        """The latest event of each operation seen this session (for a screen just opened)."""
        ...

    @property
    def ssh_options(self) -> ConnectOptions:
        """The user's SSH settings (their OpenSSH config, ssh-agent), for hosts that are not
        devices of this fleet, like a sync mailbox (the demo's own Pis use the lab's)."""
        ...

    def device_caller(self) -> DeviceCaller | None:
        """Agent calls to devices by serial, over the pipeline's open sessions (use inside
        `run_on_pipeline`); None while the pipeline is not running."""
        ...

    def run_on_pipeline(self, make: Callable[[], Coroutine[Any, Any, T]], /) -> T:
        """Run the coroutine `make()` returns on the fleet pipeline's event loop and wait for
        its result: blocking, so call it from a worker thread (cancelling that worker cancels
        the coroutine). Without a running pipeline (the app was started without one, or it
        is not up yet, or has stopped) it runs on a private event loop in the calling thread."""
        ...

    def deployer(self, on_event: Callable[[DeployEvent], None] | None = None) -> Rollout:
        """A deployment runner on the live fleet (its store, its open sessions, who we are):
        use it inside `run_on_pipeline`. Raises ReadOnlyError with --readonly, RuntimeError
        when the pipeline is not running."""
        ...


def reload_fleet_records(app: App[Any]) -> None:
    """After a write: the fleet overview (the bottom of the stack) re-reads labels, tags and
    racks. Call on the UI thread (from a worker: `app.call_from_thread(reload_fleet_records, app)`)."""
    load_records = getattr(app.screen_stack[0], "load_records", None) if app.screen_stack else None
    if load_records is not None:
        load_records()


def fleet_context(app: App[Any]) -> FleetContext:
    if not isinstance(app, FleetContext):
        raise TypeError(f"{type(app).__name__} does not provide the fleet context")
    return app
