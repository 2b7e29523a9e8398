"""`fleet-tui export deployments --csv`: one row per device of every deployment."""

from __future__ import annotations

from datetime import datetime

from fleet_tui.core.deploy.steps import DeploymentBook
from fleet_tui.core.export import CsvRow, iso
from fleet_tui.core.store.database import Store


class DeploymentRow(CsvRow):
    deployment: str
    created: datetime | None
    kind: str
    release: str
    deployment_status: str
    who: str
    hostname: str
    serial: str
    wave: int
    step: str
    status: str
    duration_s: float
    message: str
    rollback: str


def deployment_rows(store: Store) -> list[DeploymentRow]:
    book = DeploymentBook(store)
    rows = []
    for d in sorted(book.all(), key=lambda d: (d.created, d.id)):
        for s in book.devices(d):
            rows.append(
                DeploymentRow(
                    deployment=d.id,
                    created=iso(d.created),
                    kind=d.kind,
                    release=d.release_id,
                    deployment_status=d.status.value,
                    who=d.who,
                    hostname=s.hostname,
                    serial=s.serial,
                    wave=s.wave + 1,
                    step=s.step,
                    status=s.status,
                    duration_s=round(s.duration, 3),
                    message=s.message,
                    rollback=s.rollback,
                )
            )
    return rows
