"""The file each device should have now: a config version rendered for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fleet_tui.core.configs.book import ConfigBook, ConfigError, ConfigFile, ConfigVersion, sha256
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


@dataclass(frozen=True)
class Planned:
    """What one device gets: the text and the version it was rendered from."""

    serial: str
    hostname: str
    content: str
    version: ConfigVersion


def push_params(config: ConfigFile, planned: list[Planned], action: str) -> dict[str, Any]:
    """The `config_push` operation's parameters: everything a step needs, so an interrupted
    push resumes from the journal alone. Each distinct text is stored once."""
    return {
        "config": config.name,
        "action": action,  # push | rollback
        "path": config.path,
        "mode": config.mode,
        "owner": config.owner,
        "validate": config.validator,
        "restart": config.restart,
        "keep": config.keep,
        "contents": {sha256(p.content): p.content for p in planned},
        "devices": {
            p.serial: {
                "sha256": sha256(p.content),
                "version": p.version.key,
                "number": p.version.number,
            }
            for p in planned
        },
    }


def plan_push(
    store: Store, config: ConfigFile, version: ConfigVersion, devices: list[DeviceRecord]
) -> list[Planned]:
    """Every device's text of `version`; ConfigError naming every device (and variable) a
    template cannot be rendered for: then nothing is sent to any device."""
    rendered = render_for(store, config, version, devices)
    errors = [r.error for r in rendered if r.content is None]
    if errors:
        raise ConfigError("; ".join(errors) + " (nothing was sent)")
    return [
        Planned(r.device.serial, r.name, r.content or "", version)
        for r in rendered
        if r.content is not None
    ]


def plan_rollback(
    store: Store, config: ConfigFile, devices: list[DeviceRecord], number: int | None
) -> list[Planned]:
    """Per device: version `number` as it was pushed to that device (else rendered now); with
    no number, the text the device had before its last push (the last different one)."""
    book = ConfigBook(store)
    if number is not None:
        version = book.version(config.name, number)
        out, render_now = [], []
        for d in devices:
            given = [p for p in book.pushes(config.name, d.serial) if p.version == version.key]
            given = [p for p in given if p.status != "failed"]
            if given:
                out.append(Planned(d.serial, d.hostname or d.serial, given[-1].content, version))
            else:
                render_now.append(d)
        return out + (plan_push(store, config, version, render_now) if render_now else [])
    out = []
    problems = []
    for d in devices:
        ok = [p for p in book.pushes(config.name, d.serial) if p.status != "failed"]
        earlier = [p for p in ok if ok and p.sha256 != ok[-1].sha256]
        if not earlier:
            problems.append(d.hostname or d.serial)
            continue
        prev = earlier[-1]
        kept = [v for v in book.versions(config.name) if v.key == prev.version]
        if not kept:
            problems.append(d.hostname or d.serial)
            continue
        out.append(Planned(d.serial, d.hostname or d.serial, prev.content, kept[0]))
    if problems:
        raise ConfigError(
            f"no earlier version pushed to {', '.join(problems)}: give --version N (nothing was sent)"
        )
    return out
