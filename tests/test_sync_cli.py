"""`fleet-tui sync` end to end: two technicians' databases and a jump host's SFTP mailbox (a
real asyncssh server on 127.0.0.1 with key auth), the client trusting it only through
~/.ssh/known_hosts like `ssh` does."""

from __future__ import annotations

import argparse
import asyncio
import getpass
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from fleet_tui.cli import main
from fleet_tui.commands._ssh_args import add_ssh_args
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.sync import mailbox


@dataclass
class Jump:
    port: int
    root: Path  # what the SFTP session sees as /
    key: Path  # the technicians' private key
    home: Path  # HOME for the CLI: ~/.ssh/known_hosts lives here

    def trust(self, host_key: asyncssh.SSHKey) -> None:
        ssh = self.home / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        line = f"[127.0.0.1]:{self.port} {host_key.export_public_key().decode().strip()}\n"
        (ssh / "known_hosts").write_text(line)


ONLY_USER = "rack-tech-7"  # the one login the `field_jump` server accepts


class OnlyOneUser(asyncssh.SSHServer):
    """Key auth for ONLY_USER alone; records every login name a client tries."""

    def __init__(self, key: asyncssh.SSHKey, tried: list[str]) -> None:
        self._key = key
        self._tried = tried

    def begin_auth(self, username: str) -> bool:
        self._tried.append(username)
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        same = key.export_public_key() == self._key.export_public_key()
        return username == ONLY_USER and same


async def _serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tried: list[str] | None
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    """An SFTP-only jump host on 127.0.0.1; with `tried`, only ONLY_USER may log in."""
    root = tmp_path / "jump"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = tmp_path / "id_ed25519"
    client_key.write_private_key(str(key_path))

    def sftp(chan: Any) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(root).encode())

    auth: dict[str, Any]
    if tried is None:
        auth = {
            "authorized_client_keys": asyncssh.import_authorized_keys(
                client_key.export_public_key().decode()
            )
        }
    else:
        log = tried
        auth = {"server_factory": lambda: OnlyOneUser(client_key, log)}
    server = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[host_key], sftp_factory=sftp, **auth
    )
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # ~/.ssh of the technician running the CLI
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    try:
        yield Jump(server.sockets[0].getsockname()[1], root, key_path, home), host_key
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    async for served in _serve(tmp_path, monkeypatch, None):
        yield served


@pytest.fixture
async def field_jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey, list[str]]]:
    tried: list[str] = []
    async for j, host_key in _serve(tmp_path, monkeypatch, tried):
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
    with Store.open(a) as s:
        DeviceBook(s).upsert("100", hostname="pi-a", address="10.0.0.1")
        SampleLog(s).record("100", {"time": 1_700_000_000.0, "temperature_c": 51.0})
    with Store.open(b) as s:
        DeviceBook(s).upsert("200", hostname="pi-b", address="10.0.0.2")

    # an unknown host key is refused: one line, nothing changed
    before = a.read_bytes()
    code, out, err = await cli(capsys, a, *_sync_args(j))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "127.0.0.1" in err
    assert a.read_bytes() == before and not any((j.root / "site").glob("*.db"))

    j.trust(host_key)
    code, out, _ = await cli(capsys, a, *_sync_args(j, "--dry-run"))
    assert code == 0 and "0 new change sets" in out and "rows to send" in out
    code, out, _ = await cli(capsys, a, *_sync_args(j))
    assert code == 0 and "pushed" in out
    code, out, _ = await cli(capsys, b, *_sync_args(j, "--dry-run"))
    assert code == 0 and "1 new change sets" in out and "devices: 1 added" in out
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


async def test_sync_logs_in_as_the_shared_user_flag(
    field_jump: tuple[Jump, asyncssh.SSHKey, list[str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    j, host_key, tried = field_jump
    assert getpass.getuser() != ONLY_USER
    j.trust(host_key)
    db = tmp_path / "a" / "fleet.db"
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
