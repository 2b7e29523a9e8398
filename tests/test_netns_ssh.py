"""The real SSH server tier: Debian's OpenSSH sshd per simulated Pi, in network namespaces.

Proves against the SSH server real Pis run: discovery -> connect -> agent -> facts; the
changed-host-key refusal (and its explicit re-pin); and a connection through a jump host to
a Pi that only the jump host can reach. Runs as root (CI does); skips with the reason
otherwise. The `fleet-tui` command line runs inside the laptop namespace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

try:
    from tests.netns_lab import NetnsLab, module_lab
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from netns_lab import NetnsLab, module_lab  # type: ignore[no-redef]

# one worker runs the whole file (make test runs -n 3 --dist loadgroup): its lab is module-wide
pytestmark = [pytest.mark.netns, pytest.mark.xdist_group("netns-ssh")]


@pytest.fixture(scope="module")
def netns() -> Iterator[NetnsLab]:
    yield from module_lab()


def _rows(out: str) -> list[dict]:  # type: ignore[type-arg]
    """The JSON lines, without `discover`'s closing line about the pass itself."""
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r for r in rows if "discovery" not in r]


def test_discover_connect_agent_facts(netns: NetnsLab) -> None:
    found = netns.cli(
        "discover",
        "--interface",
        "10.231.1.1",
        "--timeout",
        "3",
        "--json",
        "--no-neighbours",
        ssh=False,
    )
    assert found.returncode == 0, found.stderr
    by_name = {r["name"]: r for r in _rows(found.stdout)}
    a1, a2 = netns.nodes["a1"], netns.nodes["a2"]
    assert set(by_name) >= {"pi-a1", "pi-a2"}
    assert "pi-b1" not in by_name  # behind the jump host: not on this LAN
    assert by_name["pi-a1"]["address"] == a1.address and by_name["pi-a1"]["serial"] == a1.serial
    assert by_name["pi-a2"]["model"] == a2.model_string

    polled = netns.cli("poll", "--json")
    assert polled.returncode == 0, polled.stderr
    rows = {r["hostname"]: r for r in _rows(polled.stdout)}
    for node in (a1, a2):
        row = rows[node.name]
        assert (
            row["reachable"] and row["serial"] == node.serial and row["model"] == node.model_string
        )
        assert row["route"] == f"{node.address}:22" and isinstance(row["temperature_c"], float)


def test_changed_host_key_refused_then_explicitly_repinned(netns: NetnsLab) -> None:
    a1 = netns.nodes["a1"]
    first = netns.cli("poll", "--json", "--host", a1.address)
    assert first.returncode == 0, first.stderr  # pinned (on first use, or by the test before)

    netns.restart_with_new_host_key(a1)  # the SD card was re-imaged
    refused = netns.cli("poll", "--json")
    rows = {r["host"]: r for r in _rows(refused.stdout)}
    row = rows[f"{a1.address}:22"]
    assert refused.returncode == 1 and row["reachable"] is False
    # it still announces its serial in mDNS TXT: a re-imaged card, not another machine
    assert "changed" in row["error"] and "re-imaged" in row["error"] and a1.serial in row["error"]
    assert "--repin" in row["error"]

    unconfirmed = netns.cli("trust", a1.address, "--repin")
    assert unconfirmed.returncode == 64 and "--yes" in unconfirmed.stderr
    repinned = netns.cli("trust", a1.address, "--repin", "--yes", "--json")
    assert repinned.returncode == 0, repinned.stderr
    result = _rows(repinned.stdout)[-1]
    assert result["action"] == "repinned" and result["serial"] == a1.serial and result["verified"]
    again = netns.cli("poll", "--json", "--host", a1.address)
    assert again.returncode == 0 and _rows(again.stdout)[0]["serial"] == a1.serial


def test_pis_behind_a_jump_host(netns: NetnsLab) -> None:
    b1, jump = netns.nodes["b1"], netns.nodes["jump"]
    direct = netns.cli("poll", "--json", "--host", b1.address, "--connect-timeout", "2")
    assert direct.returncode == 2 and "unreachable" in _rows(direct.stdout)[0]["error"]

    via = f"root@{jump.address}"
    found = netns.cli(
        "discover", "--via", via, "--interface", "10.231.2.1", "--timeout", "2", "--json"
    )
    assert found.returncode == 0, found.stderr
    cands = {r["name"]: r for r in _rows(found.stdout)}
    assert cands["pi-b1"]["address"] == b1.address and cands["pi-b1"]["jump"] == via
    assert cands["pi-b1"]["serial"] == b1.serial and cands["pi-b1"]["source"] == "jump"

    polled = netns.cli("poll", "--json")
    rows = {r["hostname"] or r["name"]: r for r in _rows(polled.stdout)}
    assert "pi-b1" in rows, polled.stdout + polled.stderr
    assert rows["pi-b1"]["reachable"], rows["pi-b1"]
    assert rows["pi-b1"]["reachable"] and rows["pi-b1"]["serial"] == b1.serial
    assert rows["pi-b1"]["route"] == f"{b1.address}:22 via {jump.address}:22"

    # Re-imaged behind the jump host: the jump host saw its serial (mDNS) and its MAC.
    netns.restart_with_new_host_key(b1)
    refused = netns.cli("poll", "--json")
    row = {r["host"]: r for r in _rows(refused.stdout)}[f"{b1.address}:22"]
    assert row["reachable"] is False and "re-imaged" in row["error"]
    assert f"neighbour table of jump host {jump.address}:22" in row["error"]
    repinned = netns.cli("trust", b1.address, "--repin", "--yes", "--json")
    assert repinned.returncode == 0, repinned.stderr
    assert _rows(repinned.stdout)[-1]["serial"] == b1.serial
