"""Config files in the fleet database (a service over the Store's generic table API).

- `config_files` (LWW, key = the config's name): path, validator, restart, mode, owner and
  `head`, the key of its current version.
- `config_versions` (append-only): every template version, never changed. A version's
  number is its place among the config's versions by time (1, 2, …), the same on every copy
  once merged; its key ("origin:seq") is what rows refer to.
- `config_pushes` (append-only): what each device was sent, as rendered for it.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from fleet_tui.core.configs.template import TemplateError, check
from fleet_tui.core.store.base import StoreError
from fleet_tui.core.store.database import Store

FILES, VERSIONS, PUSHES = "config_files", "config_versions", "config_pushes"
NAME_RX = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
UNIT_RX = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.@-]*")
MODE_RX = re.compile(r"0?[0-7]{3,4}")
OWNER_RX = re.compile(r"[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?")


class ConfigError(ValueError):
    """Bad input for a config (name, path, mode, …) or no such config/version."""


@dataclass(frozen=True)
class ConfigVersion:
    key: str  # "origin:seq"
    number: int  # 1, 2, … by time
    content: str
    sha256: str
    author: str
    message: str
    time: float


@dataclass(frozen=True)
class ConfigFile:
    name: str
    path: str
    validator: str | None
    restart: str | None
    mode: str | None
    owner: str | None
    head: str | None
    template: str | None
    notes: str | None
    keep: int | None = None  # backups of the replaced file kept on each Pi (None: the agent's 3)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "validate": self.validator,
            "restart": self.restart,
            "mode": self.mode,
            "owner": self.owner,
            "template": self.template,
            "keep": self.keep,
        }


@dataclass(frozen=True)
class PushRecord:
    config: str
    serial: str
    version: str
    sha256: str
    content: str
    status: str  # written | unchanged | failed
    message: str
    operation_id: str
    who: str
    time: float


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_path(path: str) -> str:
    """An absolute path on the Pi, or `~/…` in the login user's home; no `..`, no `//`."""
    if not (path.startswith("/") or path.startswith("~/")):
        raise ConfigError(f"--path {path!r}: must be absolute (/etc/…) or in the home (~/…)")
    parts = path.split("/")[1:]
    if not parts or any(p in ("", ".", "..") for p in parts) or not path.isprintable():
        raise ConfigError(f"--path {path!r}: no empty, '.' or '..' parts, no trailing '/'")
    return path


def check_settings(
    validate: str | None,
    restart: str | None,
    mode: str | None,
    owner: str | None,
    keep: int | None = None,
) -> None:
    if validate is not None and "%s" not in validate:
        raise ConfigError(f"--validate {validate!r}: needs %s where the file to check goes")
    if restart is not None and not restart.strip():
        raise ConfigError("--restart: empty")
    if mode is not None and not MODE_RX.fullmatch(mode):
        raise ConfigError(f"--mode {mode!r}: octal, e.g. 0644")
    if owner is not None and not OWNER_RX.fullmatch(owner):
        raise ConfigError(f"--owner {owner!r}: a user name, or user:group")
    if keep is not None and not 1 <= keep <= 100:
        raise ConfigError(f"--keep {keep}: backups kept per Pi, 1-100")


class ConfigBook:
    """The config files of one store. Holds no state: make one wherever needed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- writing ---------------------------------------------------------------------------
    def add(
        self,
        name: str,
        path: str,
        template: str,
        *,
        author: str,
        source: str | None = None,
        validate: str | None = None,
        restart: str | None = None,
        mode: str | None = None,
        owner: str | None = None,
        keep: int | None = None,
        message: str = "",
    ) -> tuple[ConfigFile, ConfigVersion, bool]:
        """Add a config, or a new version of one (same path). Returns the config, its head
        version and whether a version was added (False: the template did not change)."""
        if not NAME_RX.fullmatch(name):
            raise ConfigError(f"{name!r}: a config name is a-z, 0-9, '.', '_', '-' (max 64)")
        check_path(path)
        check_settings(validate, restart, mode, owner, keep)
        try:
            check(template)
        except TemplateError as e:
            raise ConfigError(f"template: {e}") from e
        existing = self.find(name)
        if existing is not None and existing.path != path:
            raise ConfigError(
                f"config {name!r} writes {existing.path}, not {path}: pick another name"
            )
        digest = sha256(template)
        head = self.head(name) if existing else None
        given: dict[str, object] = {
            "path": path,
            "validator": validate,
            "restart": restart,
            "mode": mode.zfill(4) if mode else None,
            "owner": owner,
            "template": source,
            "keep": keep,
        }
        # a new version keeps the settings it was not given
        fields = {k: v for k, v in given.items() if v is not None or existing is None}
        with self.store.write() as c:
            added = head is None or head.sha256 != digest
            if added:
                seq = self.store.append(
                    c,
                    VERSIONS,
                    {
                        "config_id": name,
                        "content": template,
                        "sha256": digest,
                        "author": author,
                        "message": message,
                        "time": time.time(),
                    },
                )
                fields["head"] = f"{self.store.origin}:{seq}"
            self.store.lww_set(c, FILES, name, {**fields, "deleted": 0})
            what = "added" if existing is None else ("new version" if added else "settings")
            self.store.log_event(
                c, None, "config_add", f"config {name} ({path}): {what} by {author}"
            )
        config = self.get(name)
        return config, self.version(name), added

    def remove(self, name: str, who: str) -> None:
        self.get(name)
        self.store.delete_rows(
            FILES, [name], (None, "config_remove", f"config {name} removed by {who}")
        )

    def record_push(self, push: PushRecord) -> None:
        self.store.append_row(
            PUSHES,
            config_id=push.config,
            serial=push.serial,
            version=push.version,
            sha256=push.sha256,
            content=push.content,
            status=push.status,
            message=push.message,
            operation_id=push.operation_id,
            who=push.who,
            time=push.time,
        )

    # ---- reading ---------------------------------------------------------------------------
    def find(self, name: str) -> ConfigFile | None:
        row = self.store.get_row(FILES, name)
        return _config(row) if row else None

    def get(self, name: str) -> ConfigFile:
        found = self.find(name)
        if found is None:
            raise ConfigError(f"no config {name!r} (fleet-tui config list)")
        return found

    def all(self) -> list[ConfigFile]:
        return [_config(r) for r in self.store.rows(FILES)]

    def versions(self, name: str) -> list[ConfigVersion]:
        rows = self.store.appended(VERSIONS, "config_id = ?", (name,))
        rows.sort(key=lambda r: (r["time"] or 0, r["origin"], r["seq"]))
        return [
            ConfigVersion(
                key=f"{r['origin']}:{r['seq']}",
                number=i,
                content=r["content"] or "",
                sha256=r["sha256"] or "",
                author=r["author"] or "",
                message=r["message"] or "",
                time=r["time"] or 0.0,
            )
            for i, r in enumerate(rows, 1)
        ]

    def version(self, name: str, number: int | None = None) -> ConfigVersion:
        """Version `number` of a config (None: its head)."""
        versions = self.versions(name)
        if number is None:
            head = self.get(name).head
            found = [v for v in versions if v.key == head] or versions[-1:]
        else:
            found = [v for v in versions if v.number == number]
        if not found:
            have = f"1–{len(versions)}" if versions else "none"
            raise ConfigError(f"config {name!r} has no version {number} (versions: {have})")
        return found[0]

    def head(self, name: str) -> ConfigVersion | None:
        try:
            return self.version(name)
        except ConfigError:
            return None

    def number_of(self, name: str, key: str) -> int | None:
        for v in self.versions(name):
            if v.key == key:
                return v.number
        return None

    def pushes(self, name: str, serial: str | None = None) -> list[PushRecord]:
        """Oldest first."""
        params: tuple[str, ...]
        where, params = "config_id = ?", (name,)
        if serial is not None:
            where, params = "config_id = ? AND serial = ?", (name, serial)
        rows = self.store.appended(PUSHES, where, params)
        rows.sort(key=lambda r: (r["time"] or 0, r["origin"], r["seq"]))
        return [
            PushRecord(
                config=r["config_id"],
                serial=r["serial"],
                version=r["version"] or "",
                sha256=r["sha256"] or "",
                content=r["content"] or "",
                status=r["status"] or "",
                message=r["message"] or "",
                operation_id=r["operation_id"] or "",
                who=r["who"] or "",
                time=r["time"] or 0.0,
            )
            for r in rows
        ]

    def last_pushed(self, name: str, serial: str) -> PushRecord | None:
        """What the device was last given successfully (written or found unchanged)."""
        done = [p for p in self.pushes(name, serial) if p.status in ("written", "unchanged")]
        return done[-1] if done else None

    def recorded_operations(self, name: str) -> set[tuple[str, str]]:
        return {(p.operation_id, p.serial) for p in self.pushes(name)}


def _config(row: dict[str, Any]) -> ConfigFile:
    return ConfigFile(
        name=row["id"],
        path=row.get("path") or "",
        validator=row.get("validator"),
        restart=row.get("restart"),
        mode=row.get("mode"),
        owner=row.get("owner"),
        head=row.get("head"),
        template=row.get("template"),
        notes=row.get("notes"),
        keep=row.get("keep"),
    )


__all__ = ["ConfigBook", "ConfigError", "StoreError"]
