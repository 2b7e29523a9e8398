"""Messages that carry news from the fleet pipeline (another thread) up to the screens."""

from __future__ import annotations

from textual.message import Message

from core.models import DeviceState


class DeviceUpdated(Message, bubble=False):
    """One device changed. Posted from the backend thread (post_message is thread-safe)."""

    def __init__(self, state: DeviceState) -> None:
        super().__init__()
        self.state = state


class BackendFailed(Message, bubble=False):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
