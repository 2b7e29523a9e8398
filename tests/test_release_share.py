"""Release content travelling between two technicians' databases: `snapshot --with-releases`
and `merge` (every blob verified by sha256, nothing half-imported), `release fetch --from`,
and a sync through an SFTP mailbox on 127.0.0.1 that sends and fetches only missing blobs."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest
from deploy_support import make_release
from sync_support import Jump, serve

from fleet_tui.cli import main
from fleet_tui.core.deploy.releases import ReleaseBook
from fleet_tui.core.deploy.start import prepare
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog

REF = "web@1.0"


def run(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def technicians(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A has added web@1.0; B knows one Pi and nothing of the release."""
    a, b = tmp_path / "a" / "fleet.db", tmp_path / "b" / "fleet.db"
    a.parent.mkdir()
    b.parent.mkdir()
    (tmp_path / "stick").mkdir()  # a mounted USB stick
    code, out, err = run(
        capsys, a, "--create", "release", "add", str(make_release(tmp_path, "1.0"))
    )
    assert code == 0, err
    with Store.open(b) as s:
        DeviceBook(s).upsert("100", hostname="pi-1", address="127.0.0.1")
    return a, b


def listed(capsys: pytest.CaptureFixture[str], db: Path) -> dict[str, bool]:
    code, out, _ = run(capsys, db, "release", "list", "--json")
    assert code == 0
    return {r["id"]: r["content_here"] for r in map(json.loads, out.splitlines())}


def blobs(db: Path) -> dict[str, str]:
    """Every stored blob: name -> sha256 of what is in it."""
    root = db.parent / "releases" / "blobs"
    found = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in found}


def file_list(capsys: pytest.CaptureFixture[str], db: Path) -> list[dict[str, object]]:
    code, out, _ = run(capsys, db, "release", "show", REF, "--json")
    assert code == 0
    return list(json.loads(out)["file_list"])


def test_a_snapshot_without_releases_brings_metadata_only_and_deploy_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "stick" / "a.db"
    assert run(capsys, a, "snapshot", str(snap))[0] == 0
    assert not (tmp_path / "stick" / "a.db.releases").exists()
    code, out, _ = run(capsys, b, "merge", str(snap))
    assert code == 0 and "release content" not in out
    assert listed(capsys, b) == {REF: False}
    code, out, _ = run(capsys, b, "release", "list")
    assert "elsewhere" in out
    code, _, err = run(capsys, b, "deploy", REF, "--to", "pi-1", "--yes")
    assert code == 2
    assert "is not here" in err and "release fetch" in err and "--with-releases" in err
    assert blobs(b) == {}


def test_a_snapshot_with_releases_carries_the_content_and_b_can_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "stick" / "a.db"
    code, out, _ = run(capsys, a, "snapshot", str(snap), "--with-releases")
    assert code == 0 and "release content: 1 releases, 4 files" in out
    assert (tmp_path / "stick" / "a.db.releases" / "lists").is_dir()

    code, out, _ = run(capsys, b, "merge", str(snap), "--dry-run")
    assert code == 0 and f"release content would come: {REF}" in out
    assert blobs(b) == {} and listed(capsys, b) == {}  # a preview stores nothing

    code, out, _ = run(capsys, b, "merge", str(snap))
    assert code == 0 and f"release content now here: {REF}" in out
    assert listed(capsys, b) == {REF: True}
    assert blobs(b) == blobs(a) and len(blobs(b)) == 4
    assert all(name == digest for name, digest in blobs(b).items())
    assert file_list(capsys, b) == file_list(capsys, a)
    with Store.open(b) as s:
        ready = prepare(s, REF, "pi-1")  # deployable: the content is here
        assert ready.release.id == REF and [c.device.serial for c in ready.chosen] == ["100"]
        assert "release content of 1" in EventLog(s).recent()[0].message
    assert not list((b.parent / "releases" / "tmp").iterdir())  # no staging left behind

    # again: nothing new comes, and --force replaces the carried folder
    code, out, _ = run(capsys, b, "merge", str(snap))
    assert code == 0 and "release content" not in out
    code, _, err = run(capsys, a, "snapshot", str(snap), "--with-releases")
    assert code == 64 and "exists" in err
    assert run(capsys, a, "snapshot", str(snap), "--force")[0] == 0
    assert not (tmp_path / "stick" / "a.db.releases").exists()  # no stale content beside it


@pytest.mark.parametrize("damage", ["flip", "truncate", "remove"])
def test_a_corrupt_carried_blob_is_refused_and_nothing_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "stick" / "a.db"
    assert run(capsys, a, "snapshot", str(snap), "--with-releases")[0] == 0
    carried = tmp_path / "stick" / "a.db.releases" / "blobs"
    victim = max((p for p in carried.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = victim.read_bytes()
    if damage == "flip":
        victim.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    else:
        victim.unlink()

    code, _, err = run(capsys, b, "merge", str(snap))
    assert code == 2 and "nothing merged" in err and victim.name[:12] in err
    said = {"flip": "is corrupt", "truncate": "is truncated", "remove": "is missing"}[damage]
    assert said in err and "\n" not in err.strip()
    assert blobs(b) == {}  # not one blob, not even the good ones
    assert not (b.parent / "releases" / "lists").exists()
    assert listed(capsys, b) == {}  # and no rows: the merge was refused whole
    assert not list((b.parent / "releases" / "tmp").iterdir())

    # the same content fetched explicitly: refused the same way, nothing stored
    moved = tmp_path / "stick" / "aside"
    (tmp_path / "stick" / "a.db.releases").rename(moved)
    assert run(capsys, b, "merge", str(snap))[0] == 0  # the database alone
    code, _, err = run(capsys, b, "release", "fetch", REF, "--from", str(moved))
    assert code == 2 and "refused, nothing stored" in err and said in err
    assert blobs(b) == {} and listed(capsys, b) == {REF: False}


def test_a_damaged_file_list_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "a.db"
    assert run(capsys, a, "snapshot", str(snap), "--with-releases")[0] == 0
    (lst,) = (tmp_path / "a.db.releases" / "lists").iterdir()
    rows = json.loads(lst.read_text())
    rows[0]["mode"] = 0o4755  # a setuid bit slipped in
    lst.write_text(json.dumps(rows))
    code, _, err = run(capsys, b, "merge", str(snap))
    assert code == 2 and "sha256 does not match" in err
    assert blobs(b) == {} and listed(capsys, b) == {}


def test_release_fetch_from_another_database_or_a_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "a.db"
    assert run(capsys, a, "snapshot", str(snap))[0] == 0  # metadata only
    assert run(capsys, b, "merge", str(snap))[0] == 0
    code, _, err = run(capsys, b, "release", "fetch", REF, "--from", str(snap))
    assert code == 2 and "no release content beside it" in err
    code, _, err = run(capsys, b, "--readonly", "release", "fetch", REF, "--from", str(a))
    assert code == 2 and blobs(b) == {}
    code, out, _ = run(capsys, b, "release", "fetch", REF, "--from", str(a))  # A's own store
    assert code == 0 and "4 files" in out and "verified by sha256" in out
    assert listed(capsys, b) == {REF: True} and blobs(b) == blobs(a)
    code, out, _ = run(capsys, b, "release", "fetch", REF, "--from", str(a))
    assert code == 0 and "already here" in out
    code, out, _ = run(capsys, b, "release", "fetch", REF, "--from", str(a), "--json")
    assert code == 0 and json.loads(out) == {"release": REF, "fetched": False, "here": True}
    code, _, err = run(capsys, b, "release", "fetch", "web@9", "--from", str(a))
    assert code == 2 and "no release 'web@9'" in err


# ---- over SSH: the sync's mailbox --------------------------------------------------------------


@pytest.fixture
async def jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    async for served in serve(tmp_path, monkeypatch):
        yield served


async def cli(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    """The CLI in a thread (it runs its own event loop) while the server serves in ours."""
    code = await asyncio.to_thread(main, ["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _ssh(j: Jump) -> list[str]:
    return ["-p", str(j.port), "-i", str(j.key)]


async def test_sync_sends_our_content_and_fetches_only_the_missing_blobs(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, _ = jump
    a, b = technicians(tmp_path, capsys)
    target = "tech@127.0.0.1:/site"
    code, out, _ = await cli(capsys, a, "sync", target, *_ssh(j))
    assert code == 0 and "release content: 1 sent" in out
    in_box = j.root / "site" / "releases"
    assert {p.name for p in (in_box / "blobs").rglob("*") if p.is_file()} == set(blobs(a))
    assert not [p for p in in_box.rglob(".*")]  # no .part left

    # B already has one of the four files (the same logo in another release of its own)
    (tmp_path / "b-own").mkdir()
    own = make_release(tmp_path / "b-own", "0.9")
    code, _, _ = await cli(capsys, b, "release", "add", str(own))
    assert code == 0
    before = set(blobs(b))
    shared = before & set(blobs(a))
    assert len(shared) >= 1
    code, out, _ = await cli(capsys, b, "sync", target, *_ssh(j))
    assert code == 0 and f"release content: 1 fetched ({REF})" in out
    assert f"{4 - len(shared)} files" in out  # only the blobs B lacked travelled
    assert listed(capsys, b) == {"web@0.9": True, REF: True}
    assert {k: v for k, v in blobs(b).items() if k in blobs(a)} == blobs(a)
    with Store.open(b) as s:
        prepare(s, REF, "pi-1")
    # B's own release went up in the same sync; A fetches it on its next
    code, out, _ = await cli(capsys, a, "sync", target, *_ssh(j))
    assert code == 0 and "release content: 1 fetched (web@0.9)" in out
    with Store.open(a, readonly=True) as s:
        book = ReleaseBook(s)
        assert all(book.content.has_release(r.sha256) for r in book.all())


async def test_release_fetch_over_ssh_and_a_corrupt_blob_in_the_mailbox(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, _ = jump
    a, b = technicians(tmp_path, capsys)
    target = "tech@127.0.0.1:/site"
    assert (await cli(capsys, a, "sync", target, *_ssh(j)))[0] == 0
    snap = tmp_path / "a.db"
    assert (await cli(capsys, a, "snapshot", str(snap)))[0] == 0
    assert (await cli(capsys, b, "merge", str(snap)))[0] == 0  # metadata only: elsewhere

    box_blobs = [p for p in (j.root / "site" / "releases" / "blobs").rglob("*") if p.is_file()]
    victim = max(box_blobs, key=lambda p: p.stat().st_size)
    good = victim.read_bytes()
    victim.chmod(0o644)
    victim.write_bytes(good[:-1] + b"X")
    code, _, err = await cli(capsys, b, "release", "fetch", REF, "--from", target, *_ssh(j))
    assert code == 2 and "is corrupt" in err and "nothing stored" in err
    assert blobs(b) == {} and listed(capsys, b) == {REF: False}
    # a sync says so too, and stays partial (exit 1) until the mailbox is mended
    code, out, _ = await cli(capsys, b, "sync", target, *_ssh(j))
    assert code == 1 and f"REFUSED release content of {REF}" in out and blobs(b) == {}

    victim.write_bytes(good)
    code, out, err = await cli(capsys, b, "release", "fetch", REF, "--from", target, *_ssh(j))
    assert code == 0 and "verified by sha256" in out, err
    assert listed(capsys, b) == {REF: True} and blobs(b) == blobs(a)


def test_the_sync_screen_merge_of_a_snapshot_brings_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fleet_tui.core.sync import session

    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "stick" / "a.db"
    assert run(capsys, a, "snapshot", str(snap), "--with-releases")[0] == 0
    with Store.open(b) as s:
        peer = session.classify(str(snap))
        shown = session.preview(s, peer)
        assert f"  release content would come: {REF}" in shown.lines
        assert not ReleaseBook(s).all() and blobs(b) == {}
        done = session.apply(s, peer)
        assert f"  release content now here: {REF}" in done.lines
        book = ReleaseBook(s)
        assert book.content.has_release(book.get(REF).sha256)
    assert blobs(b) == blobs(a)


async def test_a_sync_without_releases_makes_no_content_folders(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, _ = jump
    db = tmp_path / "c" / "fleet.db"
    db.parent.mkdir()
    with Store.open(db) as s:
        DeviceBook(s).upsert("1", hostname="pi-9")
    code, out, _ = await cli(capsys, db, "sync", "tech@127.0.0.1:/site", *_ssh(j))
    assert code == 0 and "release content" not in out
    assert not (db.parent / "releases").exists() and not (j.root / "site" / "releases").exists()


def test_a_carried_list_naming_a_path_instead_of_a_hash_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fleet_tui.core.deploy.content import FileEntry, list_bytes

    a, b = technicians(tmp_path, capsys)
    snap = tmp_path / "stick" / "a.db"
    assert run(capsys, a, "snapshot", str(snap), "--with-releases")[0] == 0
    evil = "../../../../escaped"
    data = list_bytes([FileEntry(path="app.py", sha256=evil, size=3, mode=0o644)])
    carried = tmp_path / "stick" / "a.db.releases"
    (carried / "lists" / f"{hashlib.sha256(data).hexdigest()}.json").write_bytes(data)
    (carried / "escaped").write_bytes(b"bad")  # what the path would reach at the source
    code, _, err = run(capsys, b, "merge", str(snap))
    assert code == 2 and "a bad entry for 'app.py'" in err
    assert not list(tmp_path.rglob("escaped"))[1:]  # only the planted one: nothing copied
    assert blobs(b) == {} and listed(capsys, b) == {}
