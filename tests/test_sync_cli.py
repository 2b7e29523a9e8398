"""`fleet-tui sync` end to end: two technicians' databases and a jump host's SFTP mailbox (a
real asyncssh server on 127.0.0.1 with key auth), the client trusting it only through
~/.ssh/known_hosts like `ssh` does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from core.store import Store
from core.sync import mailbox
from fleet_tui.cli import main


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


@pytest.fixture
async def jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Jump, asyncssh.SSHKey]]:
    root = tmp_path / "jump"
    root.mkdir()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = tmp_path / "id_ed25519"
    client_key.write_private_key(str(key_path))

    def sftp(chan: Any) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(root).encode())

    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        sftp_factory=sftp,
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
        s.upsert_device("100", hostname="pi-a", address="10.0.0.1")
        s.record_health("100", {"time": 1_700_000_000.0, "temperature_c": 51.0})
    with Store.open(b) as s:
        s.upsert_device("200", hostname="pi-b", address="10.0.0.2")

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
        assert [x.temperature_c for x in s.recent_samples("100", 0)] == [51.0]
    with Store.open(a, readonly=True) as s:  # each sync is logged (dry runs are not)
        assert [e.kind for e in s.events()] == ["sync", "sync"]
    names = sorted(p.name for p in (j.root / "site").iterdir())
    assert len(names) == 3 and not any(n.startswith(".") for n in names)  # no .part left

    # a damaged change set in the mailbox: the rest merges, exit 1 says "partial"
    (j.root / "site" / f"{'e' * 32}-{0:012d}-{9:012d}.db").write_bytes(b"junk" * 300)
    with Store.open(b) as s:
        s.upsert_device("300", hostname="pi-c")
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
            s.upsert_device(f"s{i}", hostname=f"pi-{i}")
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
            assert [d.serial for d in s.list_devices()] == [f"s{i}" for i in range(5)]
