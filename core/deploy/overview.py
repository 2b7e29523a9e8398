"""What the `:deploy` screen shows, read from the store in one go: the releases (and whether
their content is here), the deployments newest first, and one deployment's devices and waves."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet_tui.core.deploy.releases import ReleaseBook, ReleaseRecord
from fleet_tui.core.deploy.steps import OPEN, DeploymentBook, DeploymentRecord, DeviceState
from fleet_tui.core.store.database import Store


@dataclass(frozen=True)
class ReleaseLine:
    record: ReleaseRecord
    here: bool  # every file of it is in this laptop's content store

    @property
    def where(self) -> str:
        return "here" if self.here else "elsewhere"


@dataclass(frozen=True)
class WaveProgress:
    index: int
    total: int
    finished: int  # done, failed, refused or rolled back
    failed: int
    canary: bool

    @property
    def label(self) -> str:
        return f"wave {self.index + 1}{' canary' if self.canary else ''}"


@dataclass(frozen=True)
class Overview:
    releases: list[ReleaseLine] = field(default_factory=list)
    history: list[DeploymentRecord] = field(default_factory=list)
    shown: DeploymentRecord | None = None
    devices: list[DeviceState] = field(default_factory=list)

    def waves(self) -> list[WaveProgress]:
        if self.shown is None:
            return []
        out = []
        for i, wave in enumerate(self.shown.plan.waves):
            states = [d for d in self.devices if d.wave == i]
            out.append(
                WaveProgress(
                    index=i,
                    total=len(wave),
                    finished=sum(1 for d in states if finished(d)),
                    failed=sum(1 for d in states if d.failed),
                    canary=i == 0 and self.shown.plan.canary > 0,
                )
            )
        return out


def finished(d: DeviceState) -> bool:
    return d.done or d.failed or d.refused or d.step == "rollback"


def overview(store: Store, shown_id: str | None = None) -> Overview:
    """`shown_id`, else the newest open deployment, else the newest one."""
    releases = ReleaseBook(store)
    lines = [ReleaseLine(r, releases.content.has_release(r.sha256)) for r in releases.all()]
    book = DeploymentBook(store)
    history = book.all()
    shown = next((d for d in history if d.id == shown_id), None)
    if shown is None:
        shown = next((d for d in history if d.status in OPEN), history[0] if history else None)
    devices = book.devices(shown) if shown is not None else []
    return Overview(lines, history, shown, devices)
