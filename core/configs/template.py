"""The config template language: text with `${name}` or `${dotted.name}` variables.

    ${device.hostname}  ${site.name}  ${tag.role}  $$ is a literal $

Nothing else is special: a `$` followed by anything but `{` or `$` stays as it is, so shell
scripts and nginx configs (`$host`) need no escaping. There are no expressions, loops or
calls: rendering only looks names up in a flat dict of strings (variables.py). A name the
dict lacks is an error naming it and the line, never an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
_TOKEN = re.compile(r"\$(\$|\{([^}\n]*)(\}?))")
MAX_TEMPLATE_BYTES = 256 * 1024


class TemplateError(ValueError):
    """A template that cannot be rendered; the message names the variable and the line."""


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def names(text: str) -> list[str]:
    """The variables a template uses, in order of first use (TemplateError on bad syntax)."""
    found: list[str] = []
    for m in _TOKEN.finditer(text):
        if m.group(1) == "$":
            continue
        name = _checked(text, m)
        if name not in found:
            found.append(name)
    return found


def _checked(text: str, m: re.Match[str]) -> str:
    name, closed = m.group(2).strip(), m.group(3)
    if not closed:
        raise TemplateError(f"line {_line(text, m.start())}: '${{' without a closing '}}'")
    if not NAME.fullmatch(name):
        raise TemplateError(
            f"line {_line(text, m.start())}: {'${' + name + '}'!r} is not a variable name "
            "(letters, digits, _ and -, dotted: ${device.hostname})"
        )
    return name


def check(text: str) -> None:
    """Syntax only (at `config add`): TemplateError when it cannot ever render."""
    if len(text.encode("utf-8")) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    names(text)


def render(text: str, values: Mapping[str, str], who: str = "") -> str:
    """`text` with every variable replaced; TemplateError naming each missing one."""
    missing: dict[str, int] = {}  # name -> the line of its first use
    out: list[str] = []
    last = 0
    for m in _TOKEN.finditer(text):
        out.append(text[last : m.start()])
        last = m.end()
        if m.group(1) == "$":
            out.append("$")
            continue
        name = _checked(text, m)
        value = values.get(name)
        if value is None:
            missing.setdefault(name, _line(text, m.start()))
            continue
        out.append(value)
    out.append(text[last:])
    if missing:
        where = f" for {who}" if who else ""
        listed = ", ".join(f"${{{n}}} (line {line})" for n, line in missing.items())
        raise TemplateError(f"no value{where}: {listed}")
    return "".join(out)
