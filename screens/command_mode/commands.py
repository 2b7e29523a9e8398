"""The command palette (ctrl+p): screens, the current screen's keys, filters and devices.

Everything shown is plain text: device names never reach a markup parser (Textual's own
fuzzy highlighter parses markup, so we highlight matches ourselves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from fleet_tui.core.policy import Severity
from fleet_tui.core.text import visible
from fleet_tui.screens.command_mode.help import screen_keys
from fleet_tui.screens.common import registry
from fleet_tui.screens.common.format import short_model

MAX_DEVICE_HITS = 40


@dataclass(frozen=True)
class Item:
    title: str
    help: str
    run: Callable[[], Any]


class FleetCommands(Provider):
    def _items(self, with_devices: bool) -> Iterator[Item]:
        app, screen = self.app, self.screen
        for spec in registry.commands():
            words = " ".join(f":{w}" for w in (spec.name, *spec.aliases))
            yield Item(f"{spec.title} ({words})", spec.help, partial(_run_line, app, spec.name))
        actions = {a.binding.id: a.binding.action for a in screen.active_bindings.values()}
        for key, what, bid in screen_keys(screen):
            action = actions.get(bid) if bid else None
            if action and not bid.startswith("app.palette"):
                yield Item(
                    f"{what} [{key}]",
                    f"key {key} · id {bid}",
                    partial(app.run_action, action, screen),
                )
        if with_devices:  # only when searching: they would crowd the first list
            for spec, arg, what in registry.suggestions(app):
                yield Item(
                    f"{spec.title}: {arg}", what, partial(_run_line, app, f"{spec.name} {arg}")
                )
        from fleet_tui.screens.fleet.fleet import FleetScreen

        if isinstance(screen, FleetScreen) and screen.model is not None:
            yield from _filters(screen)
            if with_devices:
                for row in list(screen.model.rows.values()):
                    name = visible(row.hostname, 64)
                    yield Item(
                        f"Open device {name}",
                        visible(row.address, 64),
                        partial(screen.open_row, row.key),
                    )

    async def discover(self) -> Hits:
        for item in self._items(with_devices=False):
            yield DiscoveryHit(
                Content(item.title), item.run, text=item.title, help=escape(item.help)
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        devices = 0
        for item in self._items(with_devices=True):
            score, offsets = matcher.fuzzy_search.match(query, item.title)
            if score <= 0:
                continue
            if item.title.startswith("Open device "):
                devices += 1
                if devices > MAX_DEVICE_HITS:
                    continue
            content = Content(item.title)
            for offset in offsets:
                content = content.stylize(matcher.match_style, offset, offset + 1)
            yield Hit(score, content, item.run, text=item.title, help=escape(item.help))


def _run_line(app: Any, line: str) -> None:
    try:
        registry.run_line(app, line)
    except registry.CommandError as e:
        app.notify(str(e), severity="error", markup=False)


def _filters(screen: Any) -> Iterator[Item]:
    model = screen.model
    for sev in Severity:
        yield Item(
            f"Show status {sev.value}",
            f"filter status:{sev.value}",
            partial(screen.set_filter_text, f"status:{sev.value}"),
        )
    values: dict[str, set[str]] = {"model": set(), "rack": set(), "tag": set()}
    for row in list(model.rows.values()):
        if row.model:
            values["model"].add(short_model(row.model))
        if row.rack:
            values["rack"].add(row.rack)
        values["tag"].update(row.tags)
    for field, found in values.items():
        for value in sorted(found)[:50]:
            if " " in value or "," in value:
                continue  # not expressible as one filter term
            shown = visible(value, 32)
            yield Item(
                f"Show {field} {shown}",
                f"filter {field}:{shown}",
                partial(screen.set_filter_text, f"{field}:{value}"),
            )
    if model.filter.active:
        yield Item("Clear the filter", "show every device", partial(screen.set_filter_text, ""))
