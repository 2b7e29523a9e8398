"""Release content, stored content-addressed in a `releases/` folder beside the fleet database:

    releases/blobs/ab/ab12…ef      one file per distinct content (sha256), read-only
    releases/lists/<digest>.json   a release's file list: path, sha256, size, mode

A release's digest is the sha256 of its file list (canonical JSON), so two technicians who add
the same folder get the same digest, and the same file in ten versions is stored once.
Reading a release from a folder or a `.tar.gz` refuses what cannot be deployed safely: links,
devices, absolute paths or `..`, a missing `fleet-release.toml`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from pydantic import BaseModel, ConfigDict

from fleet_tui.core.deploy.manifest import MANIFEST_NAME, ManifestError

CHUNK = 1 << 20


class ContentError(ValueError):
    """A release folder or archive that cannot be stored (one line for the technician)."""


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str  # relative, POSIX, no '..'
    sha256: str
    size: int
    mode: int  # permission bits (0o755 for an executable)


@dataclass(frozen=True)
class ReleaseFiles:
    files: tuple[FileEntry, ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256(list_bytes(self.files)).hexdigest()

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def hashes(self) -> set[str]:
        return {f.sha256 for f in self.files}

    def size_of(self, hashes: set[str]) -> int:
        """Bytes of the distinct contents in `hashes` (what a transfer of them sends)."""
        sizes = {f.sha256: f.size for f in self.files}
        return sum(sizes[h] for h in hashes if h in sizes)


def list_bytes(files: tuple[FileEntry, ...] | list[FileEntry]) -> bytes:
    rows = sorted((f.model_dump() for f in files), key=lambda r: r["path"])
    return json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()


def safe_path(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise ContentError(f"{name!r}: absolute paths and '..' are refused")
    clean = str(PurePosixPath(*[part for part in p.parts if part != "."]))
    if not clean or clean == ".":
        raise ContentError(f"{name!r}: not a file path")
    return clean


class ContentStore:
    """The `releases/` folder beside a fleet database."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def beside(cls, db_path: Path) -> ContentStore:
        return cls(db_path.parent / "releases")

    def blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def has_blob(self, sha256: str) -> bool:
        return self.blob(sha256).is_file()

    def list_path(self, digest: str) -> Path:
        return self.root / "lists" / f"{digest}.json"

    def files(self, digest: str) -> ReleaseFiles:
        try:
            rows = json.loads(self.list_path(digest).read_text())
            return ReleaseFiles(tuple(FileEntry.model_validate(r) for r in rows))
        except (OSError, ValueError):
            raise ContentError(
                f"release content {digest[:12]} is not here (added on another laptop; bring "
                "it with `fleet-tui release fetch NAME@VERSION --from PEER`, a sync, or a "
                "snapshot written with --with-releases)"
            ) from None

    def has_release(self, digest: str) -> bool:
        try:
            return all(self.has_blob(f.sha256) for f in self.files(digest).files)
        except ContentError:
            return False

    def read(self, sha256: str, offset: int = 0, size: int = CHUNK) -> bytes:
        with self.blob(sha256).open("rb") as f:
            f.seek(offset)
            return f.read(size)

    # ---- storing --------------------------------------------------------------------------
    def _put_stream(self, read: Iterator[bytes]) -> tuple[str, int]:
        """Store a stream as a blob (temp file, hash while writing, rename)."""
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in read:
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            digest = h.hexdigest()
            final = self.blob(digest)
            if final.is_file():
                os.unlink(tmp)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, final)
        except BaseException:
            with _quiet():
                os.unlink(tmp)
            raise
        return digest, size

    def store_files(self, files: list[FileEntry]) -> ReleaseFiles:
        release = ReleaseFiles(tuple(sorted(files, key=lambda f: f.path)))
        target = self.list_path(release.digest)
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(list_bytes(release.files))
            os.replace(tmp, target)
        return release

    def add(self, source: Path, check: Callable[[str], object]) -> tuple[str, ReleaseFiles]:
        """Store a release folder or `.tar.gz`: (its manifest's text, its files). `check`
        validates the manifest's text (raising) before anything is written."""
        text = manifest_text(source)
        check(text)
        files = self._add_dir(source) if source.is_dir() else self._add_tar(source)
        return text, files

    def _add_dir(self, source: Path) -> ReleaseFiles:
        entries: list[FileEntry] = []
        for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
            dirnames.sort()
            for name in [*dirnames, *filenames]:
                full = Path(dirpath) / name
                st = full.lstat()
                rel = full.relative_to(source).as_posix()
                if stat.S_ISLNK(st.st_mode):
                    raise ContentError(f"{rel}: symbolic links are not supported in a release")
                if stat.S_ISDIR(st.st_mode) or rel == MANIFEST_NAME:
                    continue  # the manifest travels as the release's metadata, not as a file
                if not stat.S_ISREG(st.st_mode):
                    raise ContentError(f"{rel}: not a regular file")
                with full.open("rb") as f:
                    sha, size = self._put_stream(_chunks(f))
                entries.append(
                    FileEntry(path=safe_path(rel), sha256=sha, size=size, mode=_mode(st.st_mode))
                )
        return self.store_files(entries)

    def _add_tar(self, source: Path) -> ReleaseFiles:
        try:
            with tarfile.open(source, "r:*") as tar:
                members = [m for m in tar.getmembers() if not m.isdir()]
                names = [safe_path(m.name) for m in members]
                prefix = _common_top(names)
                entries: list[FileEntry] = []
                for m, name in zip(members, names, strict=True):
                    if not m.isfile():
                        raise ContentError(f"{m.name}: links and devices are not supported")
                    rel = name[len(prefix) :] if prefix else name
                    if rel == MANIFEST_NAME:
                        continue  # the manifest travels as the release's metadata
                    f = tar.extractfile(m)
                    if f is None:
                        raise ContentError(f"{m.name}: unreadable member")
                    sha, size = self._put_stream(_chunks(f))
                    entries.append(
                        FileEntry(path=safe_path(rel), sha256=sha, size=size, mode=_mode(m.mode))
                    )
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ContentError(f"{source}: unreadable archive: {e}") from None
        return self.store_files(entries)


def manifest_text(source: Path) -> str:
    """The `fleet-release.toml` of a release folder or `.tar.gz`, read without storing."""
    if source.is_dir():
        manifest = source / MANIFEST_NAME
        if not manifest.is_file():
            raise ManifestError(f"{source}: no {MANIFEST_NAME} at its top")
        return manifest.read_text(errors="replace")
    if source.is_file() and tarfile.is_tarfile(source):
        return _tar_manifest(source)
    if not source.exists():
        raise ContentError(f"{source}: no such file or folder")
    raise ContentError(f"{source}: neither a folder nor a .tar.gz")


def _tar_manifest(source: Path) -> str:
    try:
        with tarfile.open(source, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            prefix = _common_top([safe_path(m.name) for m in members])
            for m in members:
                if safe_path(m.name) == prefix + MANIFEST_NAME:
                    f = tar.extractfile(m)
                    if f is not None:
                        return f.read(1 << 20).decode(errors="replace")
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ContentError(f"{source}: unreadable archive: {e}") from None
    raise ManifestError(f"{source}: no {MANIFEST_NAME} at its top")


def _chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _mode(st_mode: int) -> int:
    return 0o755 if st_mode & 0o111 else 0o644


def _common_top(names: list[str]) -> str:
    """'app-1.0/' when every member lies in that one folder and the manifest is in it."""
    tops = {n.split("/", 1)[0] for n in names}
    if len(tops) == 1 and all("/" in n for n in names):
        top = tops.pop() + "/"
        if top + MANIFEST_NAME in names:
            return top
    return ""


@contextmanager
def _quiet() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass
