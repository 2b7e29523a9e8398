"""The fleet filter language typed after `/` (k9s style), parsed once, applied per row.

    pi-4b            regex (case-insensitive) on what the table shows as names: hostname,
                     label, model and OS as shown (`4B`, `bookworm`), rack and tags
    !pi-4b           the same, inverted
    status:warn,critical   model:4B   rack:R1   tag:lab      field filters (comma = any of)
    host:pi-4   label:door   addr:10.0.0.7   serial:c2b8   os:bullseye
    !tag:spare       any term can be inverted

Terms are ANDed. A bare regex never looks at the address or the serial (`5` would find every
port and serial with a 5 in it, columns not even on screen at 80 columns): `addr:` and
`serial:` do. No Textual here: the filter is tested on its own. The fleet screen applies it
to its rows, `fleet-tui deploy --to FILTER` to the stored devices (core/deploy/targets.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from fleet_tui.core.policy import Severity

FIELDS = ("status", "model", "rack", "tag", "host", "label", "addr", "serial", "os")
FIELD_ALIASES = {
    "st": "status",
    "s": "status",
    "m": "model",
    "r": "rack",
    "t": "tag",
    "tags": "tag",
    "hostname": "host",
    "name": "host",
    "address": "addr",
    "ip": "addr",
    "sn": "serial",
}
STATUS_WORDS = {
    "ok": Severity.OK,
    "warn": Severity.WARN,
    "warning": Severity.WARN,
    "crit": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
    "unreachable": Severity.UNREACHABLE,
    "unreach": Severity.UNREACHABLE,
    "down": Severity.UNREACHABLE,
    "unknown": Severity.UNKNOWN,
}


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Filterable:
    """What a filter looks at in one row (the fleet model builds these)."""

    haystack: tuple[str, ...]  # the names a bare regex looks at (a regex may match any one)
    severity: Severity
    model: str  # the full and the short model name, e.g. "Raspberry Pi 4 Model B Rev 1.4 4B"
    rack: str
    tags: Sequence[str]
    host: Sequence[str] = ()  # hostname, and the mDNS name where it differs
    label: str = ""
    address: str = ""  # host:port, as in the Address column
    serial: str = ""
    os: str = ""  # the full OS name and the codename shown


@dataclass(frozen=True)
class _Term:
    test: Callable[[Filterable], bool]
    negate: bool

    def __call__(self, row: Filterable) -> bool:
        return self.test(row) != self.negate


@dataclass(frozen=True)
class FleetFilter:
    text: str = ""
    terms: tuple[_Term, ...] = field(default=(), compare=False)

    @property
    def active(self) -> bool:
        return bool(self.terms)

    def matches(self, row: Filterable) -> bool:
        return all(term(row) for term in self.terms)

    @classmethod
    def parse(cls, text: str) -> FleetFilter:
        terms: list[_Term] = []
        words: list[str] = []
        for token in text.split():
            negate = token.startswith("!")
            body = token[1:] if negate else token
            name, sep, value = body.partition(":")
            name = FIELD_ALIASES.get(name.lower(), name.lower())
            if sep and name in FIELDS:
                terms.append(_Term(_field_test(name, value), negate))
            else:
                words.append(token)
        if words:
            pattern = " ".join(words)
            negate = pattern.startswith("!")
            pattern = pattern[1:] if negate else pattern
            if pattern:
                try:
                    rx = re.compile(pattern, re.IGNORECASE)
                except re.error as e:
                    raise FilterError(f"bad regex {pattern!r}: {e}") from None
                terms.append(_Term(lambda row: any(rx.search(h) for h in row.haystack), negate))
        return cls(text.strip(), tuple(terms))


def completions(text: str, values: Mapping[str, Iterable[str]]) -> list[str]:
    """What the filter `text` may complete to (`tab`): its last term's field name (`st` →
    `status:`) or value (`model:4` → `model:4B`, also after a comma), from `values`, the
    values each field has in the fleet now. A bare regex does not complete."""
    head, sep, last = text.rpartition(" ")
    bang = "!" if last.startswith("!") else ""
    name, colon, value = last[len(bang) :].partition(":")
    if not colon:
        found = [f"{f}:" for f in FIELDS if name and f.startswith(name.lower())]
    else:
        field = FIELD_ALIASES.get(name.lower(), name.lower())
        if field not in FIELDS:
            return []
        done, comma, part = value.rpartition(",")
        options = STATUS_CHOICES if field == "status" else set(values.get(field, ()))
        found = [
            f"{name}:{done}{comma}{v}"
            for v in sorted(options, key=str.lower)
            if len(v) > len(part) and v.lower().startswith(part.lower())
            if v.isprintable() and " " not in v and "," not in v  # one term, typed as shown
        ]
    return [f"{head}{sep}{bang}{f}" for f in found]


STATUS_CHOICES = ("ok", "warn", "critical", "unreachable", "unknown")


def _field_test(name: str, value: str) -> Callable[[Filterable], bool]:
    wanted = [v.strip().lower() for v in value.split(",") if v.strip()]
    if not wanted:
        raise FilterError(f"{name}: needs a value, e.g. {name}:{_EXAMPLE[name]}")
    if name == "status":
        unknown = [w for w in wanted if w not in STATUS_WORDS]
        if unknown:
            raise FilterError(
                f"status:{','.join(unknown)}? use ok, warn, critical, unreachable, unknown"
            )
        levels = {STATUS_WORDS[w] for w in wanted}
        return lambda row: row.severity in levels
    if name == "model":
        return lambda row: any(w in row.model.lower() for w in wanted)
    if name == "rack":
        return lambda row: row.rack.lower() in wanted or any(w in row.rack.lower() for w in wanted)
    if name == "tag":
        return lambda row: any(t.lower() in wanted for t in row.tags)
    if name == "host":
        return lambda row: any(w in h.lower() for h in row.host for w in wanted)
    text: Callable[[Filterable], str] = {
        "label": lambda row: row.label,
        "addr": lambda row: row.address,
        "serial": lambda row: row.serial,
        "os": lambda row: row.os,
    }[name]
    return lambda row: any(w in text(row).lower() for w in wanted)


def short_model(model: str | None) -> str:
    """ "Raspberry Pi 4 Model B Rev 1.4" -> "4B" (the Model column)."""
    if not model:
        return "?"
    text = model.split(" Rev ")[0].replace("Raspberry Pi ", "")
    for long, short in ((" Model ", ""), ("Compute Module ", "CM"), (" Plus", "+"), (" ", "")):
        text = text.replace(long, short)
    return text


def short_os(os_name: str | None) -> str:
    if not os_name:
        return "?"
    # "Debian GNU/Linux 12 (bookworm)" -> "bookworm": the codename is what technicians say.
    if "(" in os_name and os_name.endswith(")"):
        return os_name.rsplit("(", 1)[1][:-1]
    return os_name


_EXAMPLE = {
    "status": "critical",
    "model": "4B",
    "rack": "R1",
    "tag": "lab",
    "host": "pi-4b",
    "label": "door",
    "addr": "10.0.0.7",
    "serial": "c2b8e4a1",
    "os": "bookworm",
}
