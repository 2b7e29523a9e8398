"""Incremental sync: the mailbox protocol, over a directory and over real SFTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fleet_tui.core.net.ssh import ConnectOptions
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.sync.mailbox import DirMailbox, sync_with
from fleet_tui.core.sync.ssh import SyncError, parse_target, sync_target_async


def state(s: Store) -> tuple[object, ...]:
    return (
        [d.model_dump() for d in DeviceBook(s).all()],
        sorted((e.origin, e.seq, e.message) for e in EventLog(s).recent(limit=10_000)),
    )


def test_three_technicians_converge_through_a_mailbox(tmp_path: Path) -> None:
    box = DirMailbox(tmp_path / "jump")
    for n in "abc":
        (tmp_path / n).mkdir()
    a, b, c = (Store.open(tmp_path / n / "fleet.db") for n in "abc")
    DeviceBook(a).upsert("s1", hostname="pi1")
    DeviceBook(b).upsert("s2", hostname="pi2")
    EventLog(c).record(None, "note", "c was here")
    for s in (a, b, c, a, b):
        asyncio.run(sync_with(s, box, "jump"))
    assert state(a) == state(b) == state(c)
    assert len(DeviceBook(a).all()) == 2 and len(EventLog(a).recent()) == 1
    # incremental: nothing new, nothing pushed; one edit -> one small change set
    r = asyncio.run(sync_with(a, box, "jump"))
    assert r.pushed is None and r.pulled == []
    DeviceBook(b).upsert("s1", label="top shelf")
    r = asyncio.run(sync_with(b, box, "jump"))
    assert r.pushed_rows == 1
    r = asyncio.run(sync_with(a, box, "jump"))
    assert r.pulled and DeviceBook(a).get("s1").label == "top shelf"  # type: ignore[union-attr]
    # no echo: what a just pulled is not pushed back
    DeviceBook(b).upsert("s3")
    asyncio.run(sync_with(b, box, "jump"))
    r1 = asyncio.run(sync_with(a, box, "jump"))
    r2 = asyncio.run(sync_with(a, box, "jump"))
    assert r1.pushed_rows == 0 and r2.pushed is None
    for s in (a, b, c):
        s.close()


def test_local_write_during_sync_is_not_lost(tmp_path: Path) -> None:
    """A write made while a sync is pulling must reach the mailbox on the next sync."""
    box = DirMailbox(tmp_path / "jump")
    a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    DeviceBook(b).upsert("s1", hostname="pi1")
    asyncio.run(sync_with(b, box, "jump"))
    DeviceBook(a).upsert("s1", label="mine")  # a local change to the same row the pull updates
    asyncio.run(sync_with(a, box, "jump"))
    asyncio.run(sync_with(b, box, "jump"))
    assert DeviceBook(b).get("s1").label == "mine"  # type: ignore[union-attr]


def test_bad_change_set_is_refused_and_the_rest_merged(tmp_path: Path) -> None:
    box = DirMailbox(tmp_path / "jump")
    a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    DeviceBook(b).upsert("s1")
    asyncio.run(sync_with(b, box, "jump"))
    (box.root / f"{'f' * 32}-{0:012d}-{5:012d}.db").write_bytes(b"garbage" * 100)
    r = asyncio.run(sync_with(a, box, "jump"))
    assert r.partial and len(r.refused) == 1 and DeviceBook(a).get("s1") is not None


def test_parse_target() -> None:
    t = parse_target("pi@jump.example:/srv/fleet")
    assert (t.user, t.host, t.path) == ("pi", "jump.example", "/srv/fleet")
    assert parse_target("jump").path == "fleet-tui-sync"
    with pytest.raises(SyncError):
        parse_target("a b")


# ---- over SFTP, against an asyncssh server on 127.0.0.1 ---------------------------------

asyncssh = pytest.importorskip("asyncssh")


class _NoAuth(asyncssh.SSHServer):  # type: ignore[misc]
    def begin_auth(self, username: str) -> bool:
        return False  # loopback test server: no authentication


async def _sftp_server(root: Path) -> Any:
    key = asyncssh.generate_private_key("ssh-ed25519")

    def sftp_factory(chan: Any) -> Any:
        return asyncssh.SFTPServer(chan, chroot=str(root).encode())

    server = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[key], server_factory=_NoAuth, sftp_factory=sftp_factory
    )
    return server, key


def test_sync_over_sftp(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    (remote / "shared" / "site").mkdir(parents=True)  # an explicit mailbox path must exist

    async def run() -> None:
        server, key = await _sftp_server(remote)
        port = server.sockets[0].getsockname()[1]
        # no keys, no agent, no ~/.ssh/config; the host key is pinned in each store
        opts = {"ssh": ConnectOptions(client_keys=[], use_ssh_agent=False, use_ssh_config=False)}
        a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
        try:
            DeviceBook(a).upsert("s1", hostname="pi1")
            SampleLog(a).record("s1", {"time": 1.0, "temperature_c": 50.0})
            DeviceBook(b).upsert("s2", hostname="pi2")
            target = "tech@127.0.0.1:/shared/site"
            await sync_target_async(a, target, port=port, **opts)
            r = await sync_target_async(b, target, port=port, **opts)
            assert r.pulled and r.pushed_rows > 0
            r = await sync_target_async(a, target, port=port, **opts)
            assert state(a) == state(b)
            assert len(SampleLog(b).recent("s1", 0)) == 1
            names = [p.name for p in (remote / "shared" / "site").iterdir()]
            assert len([n for n in names if n.endswith(".db")]) >= 2
            assert not any(p.name.endswith(".part") for p in (remote / "shared" / "site").iterdir())
        finally:
            a.close()
            b.close()
            server.close()
            await server.wait_closed()

    asyncio.run(run())


def test_sync_unreachable_host_is_one_line(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as a:
        with pytest.raises(SyncError) as e:
            ssh = ConnectOptions(use_ssh_config=False)
            asyncio.run(sync_target_async(a, "127.0.0.1:/x", port=1, ssh=ssh))
    assert "\n" not in str(e.value)


def test_consolidation_uploads_what_changed_since_the_base_not_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from fleet_tui.core.sync import mailbox

    monkeypatch.setattr(mailbox, "MAX_OWN_FILES", 3)
    box = DirMailbox(tmp_path / "jump")
    for n in "abc":
        (tmp_path / n).mkdir()
    a, b, c = (Store.open(tmp_path / n / "fleet.db") for n in "abc")

    def own() -> list[str]:
        return sorted(p.name for p in box.root.iterdir() if p.name.startswith(a.site_id))

    def devices_in(name: str) -> int:
        with sqlite3.connect(box.root / name) as f:
            return int(f.execute("SELECT count(*) FROM devices").fetchone()[0])

    for i in range(200):
        DeviceBook(a).upsert(f"s{i:03d}", hostname=f"pi-{i}")
    edits = iter(range(1000))

    def edit_and_sync(n: int = 1) -> None:
        for _ in range(n):
            DeviceBook(a).upsert(f"s{next(edits) % 200:03d}", label="moved")
        asyncio.run(sync_with(a, box, "jump"))

    asyncio.run(sync_with(a, box, "jump"))
    (base,) = own()  # the first upload holds everything: it is the base
    assert "-000000000000-" in base and devices_in(base) == 200
    for i in range(8):  # one edit per sync: the chain is consolidated now and then
        edit_and_sync()
        if i == 3:
            asyncio.run(sync_with(b, box, "jump"))  # b is halfway
        files = own()
        assert len(files) <= 3 and base in files  # the base stays while it is most of it
        assert all(devices_in(f) <= 8 for f in files if f != base)  # never everything again
    for s in (b, c):  # halfway and brand new: both end with everything
        asyncio.run(sync_with(s, box, "jump"))
        assert state(s) == state(a)
    for _ in range(4):  # most rows changed since the base: a new base replaces it
        edit_and_sync(60)
    files = own()
    assert base not in files
    assert any("-000000000000-" in f and devices_in(f) == 200 for f in files)
    asyncio.run(sync_with(c, box, "jump"))
    assert state(c) == state(a)
    for s in (a, b, c):
        s.close()


def test_change_sets_are_chosen_to_cover_the_gap_with_the_fewest_downloads() -> None:
    from fleet_tui.core.sync.mailbox import _wanted, change_set_name

    x, me = "a" * 32, "b" * 32
    chain = [change_set_name(x, s, c) for s, c in ((0, 3), (3, 5), (5, 9), (9, 12))]
    full = change_set_name(x, 0, 9)  # the writer consolidated its chain up to 9
    names = [*chain, full, change_set_name(me, 0, 4), "notes.txt"]
    assert [w[0] for w in _wanted(names, me, {})] == [full, chain[3]]  # new: the full file
    assert [w[0] for w in _wanted(names, me, {x: 5})] == [chain[2], chain[3]]  # halfway
    assert [w[0] for w in _wanted(names, me, {x: 9})] == [chain[3]]  # up to date with 9
    assert _wanted(names, me, {x: 12}) == []
    # files removed by hand leave a gap: take what is newer rather than nothing
    assert [w[0] for w in _wanted([chain[3]], me, {x: 3})] == [chain[3]]
