"""The file each device should have now: a config version rendered for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet_tui.core.configs.book import ConfigFile, ConfigVersion, sha256
from fleet_tui.core.configs.template import TemplateError, render
from fleet_tui.core.configs.variables import Places, device_values
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store


@dataclass(frozen=True)
class Rendered:
    device: DeviceRecord
    content: str | None  # None: could not be rendered (`error` says why)
    error: str = ""

    @property
    def name(self) -> str:
        return self.device.hostname or self.device.serial

    @property
    def sha256(self) -> str:
        return sha256(self.content or "")


def render_for(
    store: Store, config: ConfigFile, version: ConfigVersion, devices: list[DeviceRecord]
) -> list[Rendered]:
    places = Places.read(store)
    meta = {"name": config.name, "path": config.path, "version": str(version.number)}
    out = []
    for d in devices:
        try:
            text = render(version.content, device_values(d, places, meta), d.hostname or d.serial)
            out.append(Rendered(d, text))
        except TemplateError as e:
            out.append(Rendered(d, None, str(e)))
    return out


def push_params(
    config: ConfigFile, version: ConfigVersion, files: dict[str, str], action: str
) -> dict[str, Any]:
    """The `config_push` operation's parameters: everything a step needs, so an interrupted
    push resumes from the journal alone. `files`: serial -> content (stored once per
    distinct content)."""
    contents = {sha256(text): text for text in files.values()}
    return {
        "config": config.name,
        "action": action,  # push | rollback
        "path": config.path,
        "mode": config.mode,
        "owner": config.owner,
        "validate": config.validator,
        "restart": config.restart,
        "version": version.key,
        "number": version.number,
        "contents": contents,
        "devices": {serial: sha256(text) for serial, text in files.items()},
    }
