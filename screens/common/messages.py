"""Messages that carry news from background work (other threads) up to the screens."""

from __future__ import annotations

from textual.message import Message

from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.records import DeviceRecord


class DeviceUpdated(Message, bubble=False):
    """One device changed. Posted from the backend thread (post_message is thread-safe)."""

    def __init__(self, state: DeviceState) -> None:
        super().__init__()
        self.state = state


class BackendFailed(Message, bubble=False):
    def __init__(self, reason: str, title: str = "Background error") -> None:
        super().__init__()
        self.reason = reason
        self.title = title


class RecordsLoaded(Message, bubble=False):
    """What the fleet database knows about devices (labels, tags, racks), read in a worker."""

    def __init__(
        self, records: list[DeviceRecord], racks: dict[str, str], rack_refs: list[str]
    ) -> None:
        super().__init__()
        self.records = records
        self.racks = racks
        self.rack_refs = rack_refs  # every rack as `:rack` takes it (name, or ROOM/NAME)


class OperationUpdated(Message, bubble=False):
    """An operation started, a step changed, it finished, or one was found interrupted.
    Posted from the backend thread."""

    def __init__(self, event: OperationEvent) -> None:
        super().__init__()
        self.event = event
