"""Key bindings by id: what they are, and the user's remaps from the config file.

Every Binding in the app and its screens carries an id ("fleet.filter", "device.reboot", …);
`[keys]` in config.toml maps ids to keys and the app applies them with `App.set_keymap`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode

from fleet_tui import screens as screens_package
from fleet_tui.screens.common import registry

KEY = re.compile(r"^[A-Za-z0-9_+\-]+$|^.$")


@dataclass(frozen=True)
class KeyInfo:
    id: str
    keys: str  # the default
    description: str
    where: str  # the class that declares it


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    subs: list[type] = cls.__subclasses__()
    for sub in subs:
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def known_bindings(app_class: type[App[Any]]) -> dict[str, KeyInfo]:
    """Every binding with an id, in the app class and in any DOM class of `screens`."""
    registry.load_all()
    screens = screens_package.__name__ + "."  # fleet_tui.screens.
    classes: list[type] = [app_class] + [
        c for c in _subclasses(DOMNode) if c.__module__.startswith(screens)
    ]
    out: dict[str, KeyInfo] = {}
    for cls in classes:
        for b in cls.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.id:
                out.setdefault(b.id, KeyInfo(b.id, b.key, b.description, cls.__name__))
    return out


def build_keymap(
    user_keys: dict[str, str], known: dict[str, KeyInfo]
) -> tuple[dict[str, str], list[str]]:
    """Validate the user's `[keys]`: unknown ids and malformed keys are reported, not applied."""
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for bid, keys in user_keys.items():
        if bid not in known:
            problems.append(f"[keys] {bid!r}: no binding has this id (see `fleet-tui keys`)")
            continue
        parts = [k.strip() for k in keys.split(",")]
        bad = [k for k in parts if not k or not KEY.match(k)]
        if bad:
            problems.append(f'[keys] {bid!r}: {keys!r} is not a key list like "ctrl+r,f5"')
            continue
        keymap[bid] = ",".join(parts)
    problems += _clashes(keymap, known)
    return keymap, problems


def _clashes(keymap: dict[str, str], known: dict[str, KeyInfo]) -> list[str]:
    """Two bindings of one class on one key: the second would never run."""
    by_where: dict[tuple[str, str], list[str]] = {}
    for info in known.values():
        for key in keymap.get(info.id, info.keys).split(","):
            by_where.setdefault((info.where, key.strip()), []).append(info.id)
    return [
        f"[keys] {key!r} is bound to {' and '.join(sorted(ids))} in {where}"
        for (where, key), ids in sorted(by_where.items())
        if len(ids) > 1
        and any(i in keymap for i in ids)
        and len({known[i].description for i in ids}) > 1
    ]


def describe(known: dict[str, KeyInfo], keymap: dict[str, str]) -> list[str]:
    lines = [f"{'id':<22} {'keys':<16} {'does':<20} where"]
    for bid in sorted(known):
        info = known[bid]
        keys = keymap.get(bid, info.keys)
        mark = " *" if bid in keymap else ""
        lines.append(f"{bid:<22} {keys:<16} {info.description:<20} {info.where}{mark}")
    return lines
