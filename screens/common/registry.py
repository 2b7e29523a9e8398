"""The `:` command table: every screen registers itself with a name and short aliases.

Screens that do not exist yet (racks, thermal, power, deploy) add one `register_command(...)`
call at import time in their own module and appear in `:` mode, its completion, the command
palette and `?` help without touching anything else. Users add their own aliases in the
config file (`[aliases] hot = "fleet status:critical"`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from textual.app import App

Runner = Callable[[App[Any], str], None]  # (app, the rest of the command line)
Suggester = Callable[[App[Any]], list[tuple[str, str]]]  # app -> [(argument, what it does)]
MAX_ALIAS_DEPTH = 4


@dataclass(frozen=True)
class CommandSpec:
    name: str  # "fleet"
    aliases: tuple[str, ...]  # ("fl", "f")
    title: str  # "Fleet overview" (the palette's wording)
    help: str  # one line for `?` and the palette
    run: Runner
    argument: str = ""  # e.g. "FILTER" or "HOST|SERIAL": shown in help, "" when none
    screen: bool = True  # False for plain commands such as `quit`
    suggest: Suggester | None = None  # ready-made arguments for the palette and `:` completion


class CommandError(Exception):
    """A command line that cannot be run; the message is shown to the user."""


_COMMANDS: dict[str, CommandSpec] = {}
_USER_ALIASES: dict[str, str] = {}


def register_command(spec: CommandSpec) -> None:
    """Add (or replace, by name) a command; its aliases must not steal another's."""
    for word in (spec.name, *spec.aliases):
        owner = _owner(word)
        if owner is not None and owner.name != spec.name:
            raise ValueError(f":{word} already belongs to :{owner.name}")
    _COMMANDS[spec.name] = spec


def commands() -> list[CommandSpec]:
    return sorted(_COMMANDS.values(), key=lambda c: c.name)


def find(word: str) -> CommandSpec | None:
    """The command `word` names (its name or one of its aliases), if any."""
    return _owner(word)


def _owner(word: str) -> CommandSpec | None:
    for spec in _COMMANDS.values():
        if word == spec.name or word in spec.aliases:
            return spec
    return None


def set_user_aliases(aliases: dict[str, str]) -> list[str]:
    """Install the user's aliases; returns problems (an alias may not shadow a command)."""
    _USER_ALIASES.clear()
    problems = []
    for alias, target in aliases.items():
        if _owner(alias) is not None:
            problems.append(f"alias {alias!r} shadows the built-in :{alias}; ignored")
        elif not alias or " " in alias or not target.strip():
            problems.append(f"alias {alias!r}: needs a one-word name and a command")
        else:
            _USER_ALIASES[alias] = target.strip()
    return problems


def user_aliases() -> dict[str, str]:
    return dict(_USER_ALIASES)


def suggestions(app: App[Any]) -> list[tuple[CommandSpec, str, str]]:
    """(command, argument, what it does) that commands offer right now (e.g. demo-only ones)."""
    return [
        (spec, arg, what)
        for spec in commands()
        if spec.suggest is not None
        for arg, what in spec.suggest(app)
    ]


def words() -> list[str]:
    """Everything that can start a command line (for completion)."""
    out = set(_USER_ALIASES)
    for spec in _COMMANDS.values():
        out.add(spec.name)
        out.update(spec.aliases)
    return sorted(out)


def listing() -> str:
    """Every command's name, for the empty `:` prompt (it wraps: there are more than fit on
    one line of 80 columns, and every one of them is shown)."""
    return " · ".join(s.name for s in commands())


PROMPT_PLACEHOLDER = "a command · tab completes · esc cancels · :help explains each"


def matches(word: str) -> list[CommandSpec]:
    """Commands one of whose names starts with `word` (case-insensitive), by name."""
    want = word.lower()
    return [s for s in commands() if any(w.startswith(want) for w in (s.name, *s.aliases))]


def usage(spec: CommandSpec) -> str:
    """`:sync [PATH.db|…] (:sy, :merge) — merge a peer file …`: one line for the prompt's hint."""
    aliases = f" (:{', :'.join(spec.aliases)})" if spec.aliases else ""
    arg = f" {spec.argument}" if spec.argument else ""
    return f":{spec.name}{arg}{aliases} — {spec.help}"


def resolve(line: str) -> tuple[CommandSpec, str]:
    """`"dev pi-4b-001"` -> (the device command, "pi-4b-001"), expanding user aliases."""
    text = line.strip().removeprefix(":").strip()
    for _ in range(MAX_ALIAS_DEPTH):
        if not text:
            raise CommandError("empty command (try :help)")
        word, _, rest = text.partition(" ")
        spec = _owner(word)
        if spec is not None:
            return spec, rest.strip()
        if word in _USER_ALIASES:
            text = f"{_USER_ALIASES[word]} {rest}".strip()
            continue
        near = matches(word)
        if len(near) == 1:
            raise CommandError(
                f"unknown command :{word}; did you mean :{near[0].name}? (tab completes)"
            )
        raise CommandError(f"unknown command :{word} (try :help)")
    raise CommandError(f"alias loop in {line!r}")


def run_line(app: App[Any], line: str) -> None:
    spec, arg = resolve(line)
    spec.run(app, arg)


def load_all() -> list[str]:
    """Import every module of the `screens` package and of its packages (fleet/, racks/, …)
    so that each registers its commands.

    A module that fails to import (a screen half-written by someone else) costs its own
    commands, not the whole app: the failure is returned for the app to report.
    """
    from fleet_tui import screens

    problems: list[str] = []
    _load(screens.__path__, screens.__name__, "screens", problems)
    return problems


def _load(path: Iterable[str], package: str, folder: str, problems: list[str]) -> None:
    for info in pkgutil.iter_modules(path):
        name = f"{folder}/{info.name}"
        try:
            module = importlib.import_module(f"{package}.{info.name}")
        except Exception as e:
            where = f"{name}/__init__.py" if info.ispkg else f"{name}.py"
            problems.append(f"{where}: {type(e).__name__}: {e}")
            continue
        if info.ispkg:
            _load(module.__path__, module.__name__, name, problems)
