"""Hosts that are not (yet) devices: manual adds, imported lists, discovered candidates.

A host spec is `[user@]host[:port]`; host is an IPv4 address, a bracketed IPv6 address (a bare
one when no port is given), a DNS name or an OpenSSH config alias. Everything here may come
from a file a customer mailed or from the network, so it is validated and length-limited, and
a bad line is reported with its line number instead of being half-imported.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from fleet_tui.core.store.database import Store
from fleet_tui.core.tabular import (
    TableError,
    detect_delimiter,
    first_line,
    read_table,
    split_line,
)
from fleet_tui.core.text import visible

MAX_SPEC = 300
MAX_NAME = 63
MAX_IMPORT_LINES = 10_000
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
_IFACE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
SOURCES = ("manual", "import", "mdns", "neighbours", "jump")


class HostSpecError(ValueError):
    """A host spec or import line that cannot be used; the message says why."""


@dataclass(frozen=True)
class HostSpec:
    host: str
    port: int | None = None  # None: from ~/.ssh/config, else 22
    user: str | None = None

    @property
    def address(self) -> str:
        """host[:port] as typed back to a user (IPv6 bracketed when a port follows)."""
        if self.port is None:
            return self.host
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.user}@{self.address}" if self.user else self.address


def _check_host(host: str, original: str) -> str:
    if not host:
        raise HostSpecError(f"{visible(original)!r}: no host name")
    if "%" in host:  # scoped IPv6: fe80::1%eth0
        addr, _, scope = host.partition("%")
        try:
            ip = ipaddress.IPv6Address(addr)
        except ValueError:
            raise HostSpecError(
                f"{visible(original)!r}: {visible(host)!r} is not a scoped IPv6 address"
            ) from None
        if not _IFACE.match(scope):
            raise HostSpecError(f"{visible(original)!r}: bad interface name {visible(scope)!r}")
        return f"{ip.compressed}%{scope}"
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    if len(host) > 253 or not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
        raise HostSpecError(
            f"{visible(original)!r}: {visible(host)!r} is not an IP address or host name "
            "(letters, digits, '-', '_' and '.' only)"
        )
    return host.lower()


def parse_port(text: str, original: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise HostSpecError(f"{visible(original)!r}: port must be a number from 1 to 65535")
    return int(text)


def parse_spec(text: str) -> HostSpec:
    """Parse `[user@]host[:port]`; raises HostSpecError with a message for the technician."""
    original = text
    text = text.strip()
    if not text:
        raise HostSpecError("empty host")
    if len(text) > MAX_SPEC:
        raise HostSpecError(f"{visible(text[:40])!r}…: longer than {MAX_SPEC} characters")
    if any(not ch.isprintable() or ch.isspace() for ch in text):
        raise HostSpecError(f"{visible(original)!r}: spaces or control characters in a host")
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not _USER.match(user):
            raise HostSpecError(f"{visible(original)!r}: {visible(user)!r} is not a user name")
    port: int | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise HostSpecError(f"{visible(original)!r}: missing ']' after an IPv6 address")
        if rest:
            if not rest.startswith(":"):
                raise HostSpecError(f"{visible(original)!r}: expected ':port' after ']'")
            port = parse_port(rest[1:], original)
        if ":" not in host:
            raise HostSpecError(f"{visible(original)!r}: brackets are for IPv6 addresses")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = parse_port(port_text, original)
    else:
        host = text  # a bare IPv6 address (no port), or a plain name
    return HostSpec(_check_host(host, original), port, user)


def clean_name(name: str | None) -> str | None:
    """A display name from a list or the network: printable, trimmed, at most 63 characters."""
    if name is None:
        return None
    text = "".join(ch for ch in name if ch.isprintable()).strip()[:MAX_NAME]
    return text or None


@dataclass(frozen=True)
class HostEntry:
    """One row of the hosts table."""

    host: str
    port: int | None = None
    user: str | None = None
    name: str | None = None
    jump: str | None = None  # "[user@]host[:port]" of the jump host these are reached through
    site: str | None = None
    serial: str | None = None  # claimed (mDNS TXT, jump discovery) or learned from the agent
    mac: str | None = None
    source: str = "manual"
    added: float | None = None

    @property
    def spec(self) -> HostSpec:
        return HostSpec(self.host, self.port, self.user)

    @property
    def id(self) -> str:
        base = HostSpec(self.host, self.port).address
        return f"{base} via {self.jump}" if self.jump else base

    @property
    def label(self) -> str:
        return self.name or self.host

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, **asdict(self)}


def entry_from_spec(
    text: str,
    *,
    name: str | None = None,
    jump: str | None = None,
    site: str | None = None,
    source: str = "manual",
) -> HostEntry:
    spec = parse_spec(text)
    if jump is not None:
        jump = str(parse_spec(jump))
    return HostEntry(spec.host, spec.port, spec.user, clean_name(name), jump, site, source=source)


# ---- import ---------------------------------------------------------------------------------

_CSV_HOST_COLUMNS = ("host", "address", "ip", "hostname")
FORMATS = ("auto", "text", "csv", "tsv")


@dataclass(frozen=True)
class ImportProblem:
    line: int
    message: str


def parse_text_list(text: str, **defaults: Any) -> tuple[list[HostEntry], list[ImportProblem]]:
    """One host per line: `[user@]host[:port] [name]` (a space or a tab between them); `#`
    starts a comment."""
    entries: list[HostEntry] = []
    problems: list[ImportProblem] = []
    lines = text.splitlines()
    for number, raw in enumerate(lines[:MAX_IMPORT_LINES], start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        spec_text, *name = line.split(None, 1)
        try:
            entries.append(
                entry_from_spec(
                    spec_text, name=name[0].strip() if name else None, source="import", **defaults
                )
            )
        except HostSpecError as exc:
            problems.append(ImportProblem(number, str(exc)))
    if len(lines) > MAX_IMPORT_LINES:
        problems.append(ImportProblem(MAX_IMPORT_LINES + 1, f"more than {MAX_IMPORT_LINES} lines"))
    return entries, problems


def parse_csv_list(
    text: str, delimiter: str | None = None, **defaults: Any
) -> tuple[list[HostEntry], list[ImportProblem]]:
    """A CSV or TSV table (core/tabular.py; the delimiter detected from the header unless
    given) whose header names `host` (or address/ip/hostname), optional port, user, name, jump,
    site."""
    try:
        table = read_table(text, delimiter, max_lines=MAX_IMPORT_LINES)
    except TableError as exc:
        return [], [ImportProblem(exc.line, str(exc))]
    host_col = table.first_column(_CSV_HOST_COLUMNS)
    if host_col is None:
        header = visible(table.delimiter.join(table.columns), 80)
        return [], [
            ImportProblem(
                table.header_line,
                f"no host column (one of: {', '.join(_CSV_HOST_COLUMNS)}) in the header {header!r}",
            )
        ]
    entries: list[HostEntry] = []
    problems = [ImportProblem(p.line, p.message) for p in table.problems]
    for row in table.rows:
        cell = row.cells
        spec = cell[host_col]
        try:
            if cell.get("port"):
                port = parse_port(cell["port"], spec)
                spec = (
                    f"[{spec}]:{port}"
                    if ":" in spec and not spec.startswith("[")
                    else f"{spec}:{port}"
                )
            if cell.get("user"):
                spec = f"{cell['user']}@{spec}"
            merged = {**defaults, **{k: cell[k] for k in ("jump", "site") if cell.get(k)}}
            entries.append(
                entry_from_spec(spec, name=cell.get("name") or None, source="import", **merged)
            )
        except HostSpecError as exc:
            problems.append(ImportProblem(row.line, str(exc)))
    problems.sort(key=lambda p: p.line)
    return entries, problems


def _names_host_column(line: str, delimiter: str | None) -> bool:
    cells = split_line(line, delimiter) if delimiter else [line]
    return any(c.strip().lower() in _CSV_HOST_COLUMNS for c in cells)


def parse_list(
    text: str, fmt: str = "auto", **defaults: Any
) -> tuple[list[HostEntry], list[ImportProblem]]:
    """`fmt` "auto": a table when the first line (not blank, not a comment) names a host
    column, else a text list; a file in which no line is a host is reported as one problem
    (it is no host list at all: a table without a host column, JSON, a web page…) instead of
    one per line. "csv": a table, its delimiter detected; "tsv": a tab-separated table."""
    if fmt == "text":
        return parse_text_list(text, **defaults)
    if fmt in ("csv", "tsv"):
        return parse_csv_list(text, "\t" if fmt == "tsv" else None, **defaults)
    found = first_line(text)
    if found is None:  # nothing but blank and comment lines (the line cap still applies)
        return parse_text_list(text, **defaults)
    number, line = found
    delimiter = detect_delimiter(line)
    if _names_host_column(line, delimiter):
        return parse_csv_list(text, delimiter, **defaults)
    entries, problems = parse_text_list(text, **defaults)
    if entries or not problems:
        return entries, problems
    return [], [
        ImportProblem(
            number,
            "neither a host list ([user@]host[:port] [name] a line) nor a CSV or TSV table: "
            f"the first line names no host column ({', '.join(_CSV_HOST_COLUMNS)}) and is not "
            f"a host: {problems[0].message}",
        )
    ]


# ---- the hosts table ------------------------------------------------------------------------

_FIELDS = ("host", "port", "user", "name", "jump", "site", "serial", "mac", "source", "added")


class HostBook:
    """The `hosts` and `site_jumps` tables of the fleet store (LWW rows, merged with peers)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, entry: HostEntry) -> HostEntry:
        """Insert or update; a rediscovery never overwrites what a technician typed."""
        existing = self.get(entry.id)
        if existing is not None:
            typed = existing.source in ("manual", "import") and entry.source not in (
                "manual",
                "import",
            )
            merged: dict[str, Any] = {}
            for k in _FIELDS:
                new, old = getattr(entry, k), getattr(existing, k)
                if k == "added" or (typed and k in ("name", "user", "site", "source")):
                    merged[k] = old if old is not None else new
                else:
                    merged[k] = new if new is not None else old
            entry = HostEntry(**merged)
            if entry == existing:
                return existing  # nothing new: no write, no clock churn for peers
        else:
            entry = replace(entry, added=entry.added or time.time())
        self.store.set_row("hosts", entry.id, **{k: getattr(entry, k) for k in _FIELDS})
        return entry

    def add_many(self, entries: Iterable[HostEntry]) -> list[HostEntry]:
        return [self.add(e) for e in entries]

    def learn(self, entry_id: str, **fields: object) -> None:
        """Record what the agent told us (serial, mac) on an existing row."""
        if self.get(entry_id) is not None and fields:
            self.store.set_row("hosts", entry_id, **fields)

    def get(self, entry_id: str) -> HostEntry | None:
        row = self.store.get_row("hosts", entry_id)
        return _entry(row) if row else None

    def entries(self) -> list[HostEntry]:
        return [_entry(row) for row in self.store.rows("hosts")]

    def find(self, ref: str) -> list[HostEntry]:
        """By id, then by host (with or without port/user), then by name."""
        exact = self.get(ref)
        if exact is not None:
            return [exact]
        try:
            spec = parse_spec(ref)
        except HostSpecError:
            spec = None
        rows = self.entries()
        if spec is not None:
            hits = [
                e
                for e in rows
                if e.host == spec.host and (spec.port is None or e.port in (spec.port, None))
            ]
            if hits:
                return hits
        return [e for e in rows if e.name and e.name.lower() == ref.lower()]

    def forget(self, entry_id: str) -> None:
        self.store.delete_row("hosts", entry_id)

    # per-site jump host
    def site_jump(self, site: str) -> str | None:
        row = self.store.get_row("site_jumps", site)
        return row["jump"] if row and row.get("jump") else None

    def set_site_jump(self, site: str, jump: str | None) -> None:
        if jump is None:
            self.store.delete_row("site_jumps", site)
        else:
            self.store.set_row("site_jumps", site, jump=str(parse_spec(jump)))

    def site_jumps(self) -> dict[str, str]:
        return {r["site"]: r["jump"] for r in self.store.rows("site_jumps") if r.get("jump")}


def _entry(row: dict[str, Any]) -> HostEntry:
    values: dict[str, Any] = {k: row[k] for k in _FIELDS if row.get(k) is not None}
    return HostEntry(**values)
