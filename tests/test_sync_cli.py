"""`fleet-tui sync` end to end: two technicians' databases and a jump host's SFTP mailbox (a
real asyncssh server on 127.0.0.1 with key auth), its host key pinned in each fleet database
like a Pi's, with ~/.ssh/known_hosts (under a HOME of the test's own) as a second opinion."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest
from sync_support import ONLY_USER, Jump, fp, public, serve

from fleet_tui.cli import main
from fleet_tui.commands._ssh_args import add_ssh_args
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.sync import mailbox


@pytest.fixture
async def jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    async for served in serve(tmp_path, monkeypatch):
        yield served


@pytest.fixture
async def field_jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey, list[str]]]:
    tried: list[str] = []
    async for j, host_key in serve(tmp_path, monkeypatch, tried):
        yield j, host_key, tried


async def cli(capsys: pytest.CaptureFixture[str], db: Path, *argv: str) -> tuple[int, str, str]:
    """The CLI in a thread (it runs its own event loop) while the server serves in ours."""
    code = await asyncio.to_thread(main, ["--db", str(db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _sync_args(j: Jump, *more: str) -> list[str]:
    return ["sync", "tech@127.0.0.1:/site", "-p", str(j.port), "-i", str(j.key), *more]


async def test_two_technicians_sync_through_a_jump_host(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, host_key = jump
    a, b = tmp_path / "a" / "fleet.db", tmp_path / "b" / "fleet.db"
    a.parent.mkdir()
    b.parent.mkdir()
    with Store.open(a) as s:
        DeviceBook(s).upsert("100", hostname="pi-a", address="10.0.0.1")
        SampleLog(s).record("100", {"time": 1_700_000_000.0, "temperature_c": 51.0})
    with Store.open(b) as s:
        DeviceBook(s).upsert("200", hostname="pi-b", address="10.0.0.2")

    # first use: the host's key is pinned (a dry run too) and the CLI says so on stderr
    endpoint, fp = f"127.0.0.1:{j.port}", str(host_key.get_fingerprint("sha256"))
    code, out, err = await cli(capsys, a, *_sync_args(j, "--dry-run"))
    assert code == 0 and "0 new change sets" in out and "rows to send" in out
    assert f"{endpoint}: pinned its host key {fp} on first use;" in err
    assert "known_hosts" not in err  # it lists nothing yet
    with Store.open(a, readonly=True) as s:
        assert HostKeys(s).pinned(endpoint) == host_key.export_public_key().decode().strip()
        assert [h.reason for h in HostKeys(s).history(endpoint)] == ["first use"]

    j.trust(host_key)  # ~/.ssh/known_hosts lists it now: b's first use says it agrees
    code, out, _ = await cli(capsys, a, *_sync_args(j))
    assert code == 0 and "pushed" in out
    code, out, err = await cli(capsys, b, *_sync_args(j, "--dry-run"))
    assert code == 0 and "1 new change sets" in out and "devices: 1 added" in out
    assert f"pinned its host key {fp} on first use (the key ~/.ssh/known_hosts lists)" in err
    code, out, _ = await cli(capsys, b, *_sync_args(j))
    assert code == 0 and "pulled 1 change sets" in out and "devices: 1 added" in out
    code, out, _ = await cli(capsys, a, *_sync_args(j))
    assert code == 0 and "devices: 1 added" in out

    exports = []
    for db in (a, b):
        code, out, _ = await cli(capsys, db, "export", "devices")
        exports.append(out)
    assert exports[0] == exports[1] and "pi-a" in exports[0] and "pi-b" in exports[0]
    with Store.open(b, readonly=True) as s:
        assert [x.temperature_c for x in SampleLog(s).recent("100", 0)] == [51.0]
    with Store.open(a, readonly=True) as s:  # each sync is logged (dry runs are not)
        assert [e.kind for e in EventLog(s).recent()] == ["sync", "sync"]
    names = sorted(p.name for p in (j.root / "site").iterdir())
    assert len(names) == 3 and not any(n.startswith(".") for n in names)  # no .part left

    # a damaged change set in the mailbox: the rest merges, exit 1 says "partial"
    (j.root / "site" / f"{'e' * 32}-{0:012d}-{9:012d}.db").write_bytes(b"junk" * 300)
    with Store.open(b) as s:
        DeviceBook(s).upsert("300", hostname="pi-c")
    code, out, _ = await cli(capsys, b, *_sync_args(j))
    code_a, out_a, _ = await cli(capsys, a, *_sync_args(j))
    assert code == 1 and code_a == 1 and "REFUSED" in out_a and "devices: 1 added" in out_a


async def test_long_chains_of_change_sets_are_consolidated(
    jump: tuple[Jump, asyncssh.SSHKey],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    j, host_key = jump
    j.trust(host_key)
    monkeypatch.setattr(mailbox, "MAX_OWN_FILES", 3)
    a, b, c = (tmp_path / n / "fleet.db" for n in "abc")
    for db in (a, b, c):
        db.parent.mkdir()
    for i in range(5):  # five syncs with one edit each: five change sets from a
        with Store.open(a) as s:
            DeviceBook(s).upsert(f"s{i}", hostname=f"pi-{i}")
        code, _, _ = await cli(capsys, a, *_sync_args(j))
        assert code == 0
        if i == 1:  # b has read the first two
            assert (await cli(capsys, b, *_sync_args(j)))[0] == 0
    own = sorted(p.name for p in (j.root / "site").iterdir())
    assert len(own) <= 3 and any("-000000000000-" in n for n in own)
    # a new technician and one who was halfway both end up with everything
    for db in (b, c):
        assert (await cli(capsys, db, *_sync_args(j)))[0] == 0
        with Store.open(db, readonly=True) as s:
            assert [d.serial for d in DeviceBook(s).all()] == [f"s{i}" for i in range(5)]


def test_sync_help_lists_the_shared_ssh_flags(capsys: pytest.CaptureFixture[str]) -> None:
    shared = argparse.ArgumentParser()
    add_ssh_args(shared)
    flags = [o for a in shared._actions for o in a.option_strings if o not in ("-h", "--help")]
    assert {"-l", "--user", "-i", "-F", "--no-ssh-agent", "--connect-timeout"} <= set(flags)
    with pytest.raises(SystemExit) as e:
        main(["sync", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert all(f in out for f in flags), [f for f in flags if f not in out]
    assert "-p PORT" in out and "--dry-run" in out and "known_hosts" in out  # its own flags stay


async def test_a_mistyped_mailbox_path_is_said_and_never_made(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, host_key = jump
    j.trust(host_key)
    db = tmp_path / "fleet.db"
    with Store.open(db) as s:
        DeviceBook(s).upsert("100", hostname="pi-a")
    ssh = ["-p", str(j.port), "-i", str(j.key)]
    typo = ["sync", "tech@127.0.0.1:/stie", *ssh]  # the technicians share /site
    for dry in ([], ["--dry-run"]):
        code, _, err = await cli(capsys, db, *typo, *dry)
        assert code == 2 and "127.0.0.1:/stie: no such folder on the host" in err
        assert "--create-mailbox" in err
    assert sorted(p.name for p in j.root.iterdir()) == ["site"]  # nothing made, nothing sent
    # the default folder: a preview makes nothing, the first sync makes it
    default = ["sync", "tech@127.0.0.1", *ssh]
    code, out, _ = await cli(capsys, db, *default, "--dry-run")
    assert code == 0 and "0 new change sets" in out
    assert not (j.root / "fleet-tui-sync").exists()
    code, _, err = await cli(capsys, db, *default)
    assert code == 0, err
    assert [p.name.endswith(".db") for p in (j.root / "fleet-tui-sync").iterdir()] == [True]
    # another folder, asked for
    code, _, err = await cli(capsys, db, *typo, "--create-mailbox")
    assert code == 0, err
    assert len(list((j.root / "stie").iterdir())) == 1


async def test_sync_logs_in_as_the_shared_user_flag(
    field_jump: tuple[Jump, asyncssh.SSHKey, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    j, host_key, tried = field_jump
    assert getpass.getuser() != ONLY_USER
    j.trust(host_key)
    db = tmp_path / "a" / "fleet.db"
    db.parent.mkdir()
    with Store.open(db) as s:
        DeviceBook(s).upsert("100", hostname="pi-a")
    base = ["sync", "127.0.0.1:/site", "-p", str(j.port), "-i", str(j.key), "--no-ssh-agent"]

    # no user anywhere: the local login name, which the jump host refuses
    code, out, err = await asyncio.wait_for(cli(capsys, db, *base), 30)
    assert code == 2 and out == "" and ONLY_USER not in tried
    assert "permission denied" in err.lower(), err
    tried.clear()

    # -l names the login: accepted, and the exchange happens
    code, out, _ = await asyncio.wait_for(cli(capsys, db, *base, "-l", ONLY_USER), 30)
    assert code == 0 and "pushed" in out
    assert set(tried) == {ONLY_USER}
    assert any((j.root / "site").glob("*.db"))
    tried.clear()

    # the shared rule: user@ in the target wins over -l ...
    spec = ["sync", "nobody@127.0.0.1:/site", *base[2:], "--user", ONLY_USER]
    code, _, _ = await asyncio.wait_for(cli(capsys, db, *spec), 30)
    assert code == 2 and set(tried) == {"nobody"}
    tried.clear()

    # ... and so does the config's User (read from -F), like poll, discover and trust
    config = tmp_path / "ssh_config"
    config.write_text(f"Host 127.0.0.1\n    User {ONLY_USER}\n")
    argv = [*base, "-F", str(config), "-l", "nobody", "--dry-run", "--connect-timeout", "5"]
    code, out, _ = await asyncio.wait_for(cli(capsys, db, *argv), 30)
    assert code == 0 and "rows to send" in out and set(tried) == {ONLY_USER}


# ---- the mailbox host's key: pinned like a Pi's, known_hosts a second opinion ------------


def _devices(db: Path) -> list[str]:
    with Store.open(db, readonly=True) as s:
        return [d.serial for d in DeviceBook(s).all()]


async def test_a_changed_mailbox_host_key_is_refused_until_repinned(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, old_key = jump
    a, b = tmp_path / "a" / "fleet.db", tmp_path / "b" / "fleet.db"
    a.parent.mkdir()
    b.parent.mkdir()
    for db, serial in ((a, "100"), (b, "200")):
        with Store.open(db) as s:
            DeviceBook(s).upsert(serial, hostname=f"pi-{serial}")
    code, _, err = await cli(capsys, a, *_sync_args(j))  # first use: pinned
    assert code == 0 and f"{j.endpoint}: pinned its host key {fp(old_key)}" in err

    # the host is reinstalled (or another machine answers there); b, new to it, pins the new
    # key and leaves a change set that a must not get while the key is in doubt
    new_key = asyncssh.generate_private_key("ssh-ed25519")
    await j.rekey(new_key)
    assert (await cli(capsys, b, *_sync_args(j)))[0] == 0
    mailbox_before = sorted(p.name for p in (j.root / "site").iterdir())

    code, out, err = await cli(capsys, a, *_sync_args(j))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"host key of {j.endpoint} changed: pinned {fp(old_key)}" in err
    assert f"offered {fp(new_key)}" in err and "not a fleet device" in err
    assert f"`fleet-tui trust {j.endpoint} --repin`" in err
    assert _devices(a) == ["100"]  # nothing merged
    assert sorted(p.name for p in (j.root / "site").iterdir()) == mailbox_before  # nor sent
    with Store.open(a, readonly=True) as s:
        assert HostKeys(s).pinned(j.endpoint) == public(old_key)
        assert sorted(e.kind for e in EventLog(s).recent()) == ["host_key_refused", "sync"]
    code, _, err = await cli(capsys, a, *_sync_args(j, "--dry-run"))  # a preview neither
    assert code == 2 and "changed" in err

    # `trust HOST` alone changes nothing; `--repin` shows both, logs it, checks the login
    trust = ["trust", j.endpoint, "-i", str(j.key)]
    code, _, err = await cli(capsys, a, *trust)
    assert code == 2 and "nothing changed" in err
    code, out, err = await cli(capsys, a, *trust, "--repin", "--yes", "--json")
    assert code == 0, err
    row = json.loads(out.splitlines()[-1])
    assert row["action"] == "repinned" and row["verified"] and row["serial"] is None
    assert row["offered"] == fp(new_key) and row["pinned"] == fp(old_key)
    with Store.open(a, readonly=True) as s:
        assert HostKeys(s).pinned(j.endpoint) == public(new_key)
        assert "host_key_repinned" in [e.kind for e in EventLog(s).recent()]

    code, out, err = await cli(capsys, a, *_sync_args(j))
    assert code == 0 and "devices: 1 added" in out and "pinned" not in err
    assert _devices(a) == ["100", "200"]


async def test_known_hosts_may_refuse_the_mailbox_host_but_never_admit_it(
    jump: tuple[Jump, asyncssh.SSHKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    j, host_key = jump
    db = tmp_path / "a" / "fleet.db"
    db.parent.mkdir()
    other = asyncssh.generate_private_key("ssh-ed25519")
    hint = f"ssh-keygen -R '[127.0.0.1]:{j.port}'"

    def pinned() -> str | None:
        with Store.open(db) as s:
            return HostKeys(s).pinned(j.endpoint)

    # known_hosts lists another key: refused as ssh refuses it, and nothing is pinned
    j.trust(other)
    code, out, err = await cli(capsys, db, *_sync_args(j))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert f"offers host key {fp(host_key)}, but" in err and f"lists {fp(other)}" in err
    assert hint in err and "nothing was pinned" in err
    assert pinned() is None

    # the key it lists: pinned on first use, and said so
    j.trust(host_key)
    code, _, err = await cli(capsys, db, *_sync_args(j))
    assert code == 0 and "on first use (the key ~/.ssh/known_hosts lists)" in err
    assert pinned() == public(host_key)

    # a pin never outvotes known_hosts: listed otherwise, or revoked, it is refused
    j.trust(other)
    code, _, err = await cli(capsys, db, *_sync_args(j))
    assert code == 2 and "already pins the key offered" in err and hint in err
    j.trust(host_key, marker="@revoked")
    code, _, err = await cli(capsys, db, *_sync_args(j))
    assert code == 2 and "marks @revoked" in err

    # a host with several keys shows the one we know, asked for first as ssh does (a client
    # that knows nothing gets the ed25519 key): the one known_hosts lists, then the pin
    second = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    await j.rekey(host_key, second)
    j.trust(second)
    fresh = tmp_path / "b" / "fleet.db"
    fresh.parent.mkdir()
    code, _, err = await cli(capsys, fresh, *_sync_args(j))
    assert code == 0 and f"pinned its host key {fp(second)}" in err
    (j.home / ".ssh" / "known_hosts").unlink()
    code, _, err = await cli(capsys, fresh, *_sync_args(j))
    assert code == 0 and "pinned" not in err

    # a certificate authority alone does not pin a first key: `trust` does
    ca = asyncssh.generate_private_key("ssh-ed25519")
    j.trust(ca, marker="@cert-authority")
    (tmp_path / "c").mkdir()
    code, _, err = await cli(capsys, tmp_path / "c" / "fleet.db", *_sync_args(j))
    assert code == 2 and "@cert-authority" in err and f"fleet-tui trust {j.endpoint}" in err
    code, _, err = await cli(
        capsys, tmp_path / "c" / "fleet.db", "trust", j.endpoint, "--yes", "-i", str(j.key)
    )
    assert code == 0, err
    code, _, _ = await cli(capsys, tmp_path / "c" / "fleet.db", *_sync_args(j))
    assert code == 0
