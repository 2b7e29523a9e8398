"""Releases in the fleet database: one LWW row per `name@version` (its manifest, the digest of
its file list, size and count), the files themselves in the content store beside the database
(core/deploy/content.py). Releases merge between technicians like every other row."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from fleet_tui.core.deploy.content import ContentStore, ReleaseFiles
from fleet_tui.core.deploy.manifest import (
    ManifestError,
    ReleaseManifest,
    manifest_of,
    parse_manifest,
)
from fleet_tui.core.store.database import Store

TABLE = "releases"


class ReleaseError(LookupError):
    pass


class ReleaseRecord(BaseModel):
    id: str  # name@version
    name: str
    version: str
    manifest: ReleaseManifest
    sha256: str  # digest of the file list
    created: float
    files: int = 0
    size: int = 0
    who: str = ""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def release_id(name: str, version: str) -> str:
    return f"{name}@{version}"


def _version_key(version: str) -> tuple[object, ...]:
    """2.0.10 after 2.0.9: numeric parts compared as numbers."""
    parts: list[object] = []
    for piece in version.replace("-", ".").replace("+", ".").split("."):
        parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(parts)


class ReleaseBook:
    """The releases of one store and the content beside it."""

    def __init__(self, store: Store, content: ContentStore | None = None) -> None:
        self.store = store
        self.content = content or ContentStore.beside(Path(store.path))

    def add(self, source: Path, who: str = "") -> tuple[ReleaseRecord, bool]:
        """Store a release; (its record, whether it is new). The same name@version with other
        content is refused: a version names one content, everywhere."""
        text, files = self.content.add(source, parse_manifest)
        manifest = parse_manifest(text)
        existing = self.find(manifest.name, manifest.version)
        if existing is not None:
            if existing.sha256 != files.digest:
                raise ManifestError(
                    f"{manifest.ref} already exists with other content "
                    f"({existing.sha256[:12]} ≠ {files.digest[:12]}): give it a new version"
                )
            return existing, False
        record = ReleaseRecord(
            id=release_id(manifest.name, manifest.version),
            name=manifest.name,
            version=manifest.version,
            manifest=manifest,
            sha256=files.digest,
            created=time.time(),
            files=len(files.files),
            size=files.size,
            who=who,
        )
        with self.store.write() as c:
            self.store.lww_set(
                c,
                TABLE,
                record.id,
                {
                    "name": record.name,
                    "version": record.version,
                    "manifest": json.dumps(manifest.to_json(), sort_keys=True),
                    "sha256": record.sha256,
                    "created": record.created,
                    "files": record.files,
                    "size": record.size,
                    "who": who,
                    "deleted": 0,
                },
            )
            self.store.log_event(
                c, None, "release_added", f"{record.id} ({record.files} files) added by {who}"
            )
        return record, True

    def all(self) -> list[ReleaseRecord]:
        """Every release, by name then version (newest last)."""
        found = [r for r in (self._record(row) for row in self.store.rows(TABLE)) if r]
        return sorted(found, key=lambda r: (r.name, _version_key(r.version)))

    def find(self, name: str, version: str) -> ReleaseRecord | None:
        row = self.store.get_row(TABLE, release_id(name, version))
        return self._record(row) if row else None

    def get(self, ref: str) -> ReleaseRecord:
        """`name@version`, or `name` for its newest version."""
        name, _, version = ref.partition("@")
        if version:
            found = self.find(name, version)
            if found is None:
                raise ReleaseError(f"no release {ref!r} (fleet-tui release list)")
            return found
        versions = [r for r in self.all() if r.name == name]
        if not versions:
            raise ReleaseError(f"no release named {name!r} (fleet-tui release list)")
        return versions[-1]

    def files(self, record: ReleaseRecord) -> ReleaseFiles:
        return self.content.files(record.sha256)

    @staticmethod
    def _record(row: dict[str, Any]) -> ReleaseRecord | None:
        try:
            manifest = manifest_of(json.loads(row.get("manifest") or "{}"))
        except (ValueError, ManifestError):
            return None  # a peer's newer manifest we cannot read: not offered here
        return ReleaseRecord(
            id=row["id"],
            name=row.get("name") or manifest.name,
            version=row.get("version") or manifest.version,
            manifest=manifest,
            sha256=row.get("sha256") or "",
            created=row.get("created") or 0.0,
            files=row.get("files") or 0,
            size=row.get("size") or 0,
            who=row.get("who") or "",
        )
