"""Release content travelling between technicians: out to a folder or a mailbox, in from one.

Everything that travels has the layout of the content store (core/deploy/content.py), relative
to some root: `lists/<digest>.json` and `blobs/ab/ab12…ef`. The roots:

    OUT.db.releases/          beside a snapshot written with `snapshot --with-releases`
    releases/                 beside another fleet database (its own content store)
    <mailbox>/releases/       in a sync mailbox over SSH (core/sync/mailbox.py)

Nothing that arrives is trusted: a file list must hash to the digest the release records, and
every blob to its name and its recorded size. What arrives is staged under `releases/tmp/` and
published only when all of a release's content has been verified (blobs first, its list last:
a release is `here` only once its list is), so a corrupt or truncated blob is never stored and
no release is ever half here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fleet_tui.core.deploy.content import (
    CHUNK,
    ContentError,
    ContentStore,
    FileEntry,
    ReleaseFiles,
    list_bytes,
    safe_path,
)
from fleet_tui.core.text import visible

SHA256 = re.compile(r"^[0-9a-f]{64}$")  # every name that travels is one: never a path
SNAPSHOT_SUFFIX = ".releases"  # OUT.db carries its content in OUT.db.releases/


class Source(Protocol):
    """Where content can be read from, by names relative to its root."""

    label: str

    async def get(self, name: str, dest: Path) -> None:
        """Copy `name` to `dest`; FileNotFoundError if it is not there."""


class Sink(Source, Protocol):
    """Where content can also be written (a mailbox)."""

    async def exists(self, name: str) -> bool: ...
    async def put(self, src: Path, name: str) -> None: ...


def list_name(digest: str) -> str:
    return f"lists/{digest}.json"


def blob_name(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


class DirSource:
    """A content-store layout in a local folder (a snapshot's `.releases`, another store's)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)

    async def get(self, name: str, dest: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.root / name, dest)


def carried_beside(snapshot: Path) -> Path:
    """The folder a snapshot's release content is carried in."""
    return snapshot.with_name(snapshot.name + SNAPSHOT_SUFFIX)


def source_beside(peer: Path) -> DirSource | None:
    """The content that came with a peer file: `PEER.db.releases/` (a snapshot written with
    `--with-releases`), else the `releases/` folder beside another fleet database; None when
    there is neither."""
    for root in (carried_beside(peer), peer.parent / "releases"):
        if (root / "lists").is_dir():
            return DirSource(root)
    return None


# ---- out ------------------------------------------------------------------------------------


def write_carried(content: ContentStore, digests: Iterable[str], out: Path) -> tuple[int, int]:
    """Copy the lists and blobs of the releases `digests` that are here into a fresh folder
    `out` (written beside under a temporary name, then renamed). Returns (releases, blobs)."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    releases = blobs = 0
    try:
        for digest in sorted(set(digests)):
            if not content.has_release(digest):
                continue
            files = content.files(digest)
            for sha in sorted(files.hashes()):
                target = tmp / blob_name(sha)
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(content.blob(sha), target)
                    blobs += 1
            lst = tmp / list_name(digest)
            lst.parent.mkdir(parents=True, exist_ok=True)
            lst.write_bytes(list_bytes(files.files))
            releases += 1
        (tmp / "lists").mkdir(parents=True, exist_ok=True)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return releases, blobs


async def push_missing(content: ContentStore, digests: Iterable[str], sink: Sink) -> int:
    """Upload to `sink` the content of the releases `digests` that are here and not there
    (blobs by hash, only those it lacks; the list last, so a list there means all of it is).
    Returns how many releases were uploaded."""
    pushed = 0
    for digest in sorted(set(digests)):
        if not content.has_release(digest) or await sink.exists(list_name(digest)):
            continue
        files = content.files(digest)
        for sha in sorted(files.hashes()):
            if not await sink.exists(blob_name(sha)):
                await sink.put(content.blob(sha), blob_name(sha))
        await sink.put(content.list_path(digest), list_name(digest))
        pushed += 1
    return pushed


# ---- in -------------------------------------------------------------------------------------


@dataclass
class Fetched:
    """What a fetch found: releases verified and staged (or stored), absent, refused."""

    source: str
    got: list[str] = field(default_factory=list)  # release refs (or digests)
    blobs: int = 0  # blobs that travelled
    size: int = 0  # their bytes
    absent: list[str] = field(default_factory=list)  # not at the source
    refused: list[str] = field(default_factory=list)  # "ref: reason"

    def names(self) -> str:
        """The releases that came, for a line of text (peer strings: never markup, escapes)."""
        return ", ".join(visible(g, 80) for g in self.got)

    def lines(self) -> list[str]:
        out: list[str] = []
        if self.got:
            out.append(
                f"  release content: {len(self.got)} fetched ({self.names()}), "
                f"{self.blobs} files, {self.size} bytes"
            )
        out += [f"  REFUSED release content of {visible(r, 300)}" for r in self.refused]
        return out


def verify_list(digest: str, data: bytes) -> ReleaseFiles:
    """A file list that arrived: it must hash to `digest` and be a list of file entries."""
    if hashlib.sha256(data).hexdigest() != digest:
        raise ContentError(f"file list {digest[:12]}: its sha256 does not match (corrupt)")
    try:
        rows = json.loads(data)
        files = ReleaseFiles(tuple(FileEntry.model_validate(r) for r in rows))
    except (ValueError, TypeError) as e:
        raise ContentError(f"file list {digest[:12]}: unreadable: {e}") from None
    if files.digest != digest:
        raise ContentError(f"file list {digest[:12]}: not in canonical form")
    for f in files.files:
        if not SHA256.match(f.sha256) or safe_path(f.path) != f.path or f.size < 0:
            raise ContentError(f"file list {digest[:12]}: a bad entry for {f.path!r}")
    return files


def verify_blob(entry: FileEntry, path: Path) -> None:
    """A blob that arrived at `path`: its sha256 and size must be the list's."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    if h.hexdigest() != entry.sha256:
        why = "truncated" if size < entry.size else "corrupt"
        raise ContentError(
            f"{entry.path}: blob {entry.sha256[:12]} is {why} (its sha256 does not match; "
            f"{size} of {entry.size} bytes); not stored"
        )
    if size != entry.size:
        raise ContentError(
            f"{entry.path}: blob {entry.sha256[:12]} has {size} bytes, not {entry.size}"
        )


class Incoming:
    """Release content being received: staged under `releases/tmp/`, published whole."""

    def __init__(self, content: ContentStore) -> None:
        self.content = content
        tmp_root = content.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix="incoming-", dir=tmp_root))
        self._ready: list[tuple[str, ReleaseFiles]] = []  # verified, not yet published

    def __enter__(self) -> Incoming:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    @property
    def ready(self) -> list[str]:
        return [d for d, _ in self._ready]

    async def fetch(self, source: Source, digest: str, label: str, report: Fetched) -> None:
        """Fetch and verify one release's list and the blobs missing here; staged on success,
        said in `report` either way (a refused release leaves nothing staged)."""
        if not SHA256.match(digest):
            report.refused.append(f"{label}: {digest[:80]!r} is not a sha256 digest")
            return
        if self.content.has_release(digest) or digest in self.ready:
            return
        work = self.staging / digest
        work.mkdir()
        try:
            lst = work / "list.json"
            try:
                await source.get(list_name(digest), lst)
            except FileNotFoundError:
                report.absent.append(label)
                return
            files = verify_list(digest, lst.read_bytes())
            wanted = sorted(
                {f.sha256: f for f in files.files if not self.content.has_blob(f.sha256)}.values(),
                key=lambda f: f.sha256,
            )
            for entry in wanted:
                dest = work / entry.sha256
                try:
                    await source.get(blob_name(entry.sha256), dest)
                except FileNotFoundError:
                    raise ContentError(
                        f"{entry.path}: blob {entry.sha256[:12]} is missing at {source.label}"
                    ) from None
                await asyncio.to_thread(verify_blob, entry, dest)
                report.blobs += 1
                report.size += entry.size
        except (ContentError, OSError) as e:
            shutil.rmtree(work, ignore_errors=True)
            report.refused.append(f"{label}: {e}")
            return
        self._ready.append((digest, files))
        report.got.append(label)

    def publish(self) -> None:
        """Move every verified release into the store: blobs first, its list last."""
        for digest, files in self._ready:
            work = self.staging / digest
            for sha in sorted(files.hashes()):
                staged = work / sha
                final = self.content.blob(sha)
                if staged.is_file() and not final.is_file():
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.chmod(staged, 0o444)
                    os.replace(staged, final)
            self.content.store_files(list(files.files))
        self._ready = []

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self._ready = []


async def fetch_into(
    content: ContentStore, source: Source, wanted: dict[str, str], publish_partial: bool
) -> Fetched:
    """Fetch the releases `wanted` (digest -> what to call it) from `source`. Each release is
    all or nothing; with `publish_partial` False, any refusal stores nothing at all."""
    report = Fetched(source.label)
    if not wanted:
        return report
    with Incoming(content) as incoming:
        for digest, label in sorted(wanted.items(), key=lambda kv: kv[1]):
            await incoming.fetch(source, digest, label, report)
        if publish_partial or not report.refused:
            await asyncio.to_thread(incoming.publish)
    return report
