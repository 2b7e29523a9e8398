"""SNMP v3 (USM) outlets against real pysnmp agents on 127.0.0.1 that also speak v3.

The lab's PoE switch and PDU accept one v3 user besides their v2c community; the outlets name
the user and protocols, and the environment variables that hold its keys (never the keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lab_support import cli, known_fleet, ssh_args, until
from test_power import _ssh_refused, _up

from fleet_tui.cli import main
from fleet_tui.core.power import oids
from fleet_tui.core.power.snmp import SnmpAuthError, SnmpClient, SnmpTarget
from fleet_tui.core.power.usm import UsmAccount
from fleet_tui.core.sim.lab import LabOptions, PowerOptions, SimLab
from fleet_tui.core.sim.snmp_agent import MibTable, SnmpResponder
from fleet_tui.core.store.database import Store

AUTH_KEY = "auth-K3y-Zq9-not-for-logs"
PRIV_KEY = "priv-K3y-Wm4-not-for-logs"
AUTH_ENV, PRIV_ENV = "LAB_SNMP_AUTH", "LAB_SNMP_PRIV"
USER = "tech"
V3 = ("--snmp", "3", "--user", USER, "--auth", "sha256", "--auth-key-env", AUTH_ENV)
V3_PRIV = (*V3, "--priv", "aes", "--priv-key-env", PRIV_ENV)


@pytest.fixture
async def v3lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SimLab]:
    """Two Pis: the first on PoE switch port 1, the second on PDU outlet 1; both agents know
    user `tech` (SHA-256, AES-128: authPriv)."""
    monkeypatch.setenv(AUTH_ENV, AUTH_KEY)
    monkeypatch.setenv(PRIV_ENV, PRIV_KEY)
    config = tmp_path / "xdg-config"
    (config / "fleet-tui").mkdir(parents=True)
    (config / "fleet-tui/config.toml").write_text(
        "[power]\noff_wait_s = 15\nsnmp_timeout_s = 0.5\nsnmp_retries = 0\n"
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    user = UsmAccount(USER, "sha256", AUTH_KEY, "aes", PRIV_KEY)
    power = PowerOptions(community="v2c-only", pdu_outlets=1, boot_s=0.5, v3_user=user)
    lab = SimLab(2, workdir=tmp_path / "lab", advertise=False, options=LabOptions(power=power))
    await lab.start()
    try:
        yield lab
    finally:
        await lab.stop()


async def _v3_fleet(lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    db = await known_fleet(lab, tmp_path, capsys)
    assert lab.power is not None and lab.power.pdu is not None
    p0, p1 = lab.pis
    code, _, err = await cli(
        capsys, db, "outlet", "add", "sw-p1", "--kind", "poe", "--host", lab.power.switch.address,
        "--port", "1", "--device", p0.hostname, *V3_PRIV,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = await cli(
        capsys, db, "outlet", "add", "pdu-1", "--kind", "pdu", "--host", lab.power.pdu.address,
        "--outlet", "1", "--device", p1.hostname, *V3_PRIV,
    )  # fmt: skip
    assert code == 0, err
    return db


async def test_status_off_and_on_through_v3_auth_priv_outlets(
    v3lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await _v3_fleet(v3lab, tmp_path, capsys)
    ssh = ssh_args(v3lab, tmp_path)
    p0, p1 = v3lab.pis
    code, rows, _ = await cli(capsys, db, "outlet", "list", "--json")
    assert {(r["name"], r["snmp_version"], r["security_level"]) for r in rows} == {
        ("sw-p1", "3", "authPriv"),
        ("pdu-1", "3", "authPriv"),
    }
    code, rows, err = await cli(capsys, db, "power", "status", "--json", *ssh)
    assert code == 0, err
    assert {r["outlet"]: (r["state"], r["error"]) for r in rows} == {
        "sw-p1": ("on", None),
        "pdu-1": ("on", None),
    }
    boots = [pi.state.boot_time for pi in v3lab.pis]
    code, _, err = await cli(capsys, db, "power", "off", p0.hostname, "--yes", *ssh)
    assert code == 0, err
    assert not v3lab.power.switch.ports[1].on and await _ssh_refused(p0)  # type: ignore[union-attr]
    code, _, err = await cli(capsys, db, "power", "off", p1.hostname, "--hard", "--i-mean-it", *ssh)
    assert code == 0, err
    assert not p1.powered
    code, rows, _ = await cli(capsys, db, "power", "status", "--json", *ssh)
    assert {r["outlet"]: r["state"] for r in rows} == {"sw-p1": "off", "pdu-1": "off"}
    code, _, err = await cli(capsys, db, "power", "on", "--all", "--stagger", "0", *ssh)
    assert code == 0, err
    assert await until(lambda: all(_up(pi) for pi in v3lab.pis), 20)
    assert all(pi.state.boot_time > b for pi, b in zip(v3lab.pis, boots, strict=True))


async def test_a_wrong_user_or_key_is_one_clear_line_and_switches_nothing(
    v3lab: SimLab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = await _v3_fleet(v3lab, tmp_path, capsys)
    ssh = ssh_args(v3lab, tmp_path)
    p0 = v3lab.pis[0]
    switch = v3lab.power.switch  # type: ignore[union-attr]

    async def refused(why: str, user: str = USER) -> None:
        code, rows, _ = await cli(capsys, db, "power", "status", p0.hostname, "--json", *ssh)
        assert code == 0 and rows[0]["state"] == "unknown"
        assert rows[0]["error"] == (
            f"SNMP v3: wrong user or key for {switch.address} (user {user}, authPriv: {why})"
        )
        code, rows, err = await cli(
            capsys, db, "power", "off", p0.hostname, "--hard", "--i-mean-it", "--json", *ssh
        )
        failed = [r["step"]["message"] for r in rows if r.get("step", {}).get("status") == "failed"]
        assert code == 2 and "SNMP v3: wrong user or key" in failed[0], (rows, err)
        assert not switch.responder.sets and p0.powered and switch.ports[1].on
        assert AUTH_KEY not in err + str(rows) and "Wr0ng" not in err + str(rows)

    monkeypatch.setenv(AUTH_ENV, "Wr0ng-auth-key")
    await refused("wrong auth key or protocol")
    monkeypatch.setenv(AUTH_ENV, AUTH_KEY)
    monkeypatch.setenv(PRIV_ENV, "Wr0ng-priv-key")
    await refused("wrong priv key or protocol")
    monkeypatch.setenv(PRIV_ENV, PRIV_KEY)
    code, _, err = await cli(
        capsys, db, "outlet", "add", "sw-p1", "--kind", "poe", "--host", switch.address,
        "--port", "1", "--device", p0.hostname, *V3_PRIV[:3], "nobody", *V3_PRIV[4:],
    )  # fmt: skip
    assert code == 0, err
    await refused("unknown user", "nobody")
    # a key variable that is unset, or too short for SNMP v3: named, never shown
    monkeypatch.delenv(PRIV_ENV)
    code, rows, _ = await cli(capsys, db, "power", "status", p0.hostname, "--json")
    assert f"set the environment variable {PRIV_ENV} (priv key)" in rows[0]["error"]
    monkeypatch.setenv(PRIV_ENV, "s3Kx")
    code, rows, _ = await cli(capsys, db, "power", "status", p0.hostname, "--json")
    assert f"${PRIV_ENV} is shorter than 8 characters" in rows[0]["error"]
    assert "s3Kx" not in rows[0]["error"]


async def test_the_v3_keys_never_reach_the_database_logs_output_or_an_export(
    v3lab: SimLab,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    db = await _v3_fleet(v3lab, tmp_path, capsys)
    ssh = ssh_args(v3lab, tmp_path)
    for argv in (
        ("outlet", "list"),
        ("outlet", "list", "--json"),
        ("power", "status"),
        ("power", "status", "--json"),
        ("power", "off", v3lab.pis[1].hostname, "--hard", "--i-mean-it", "--json"),
        ("power", "on", v3lab.pis[1].hostname, "--json"),
        ("ops", "--json"),
    ):
        extra = ssh if argv[0] == "power" else []
        code = await asyncio.to_thread(main, ["--db", str(db), *argv, *extra])
        out, err = capsys.readouterr()
        assert code == 0 and out, argv
        assert AUTH_KEY not in out + err and PRIV_KEY not in out + err, argv
        if argv == ("outlet", "list"):
            assert f"v3 {USER} authPriv" in out
    csv = tmp_path / "events.csv"
    assert (await cli(capsys, db, "export", "events", "--csv", "--out", str(csv)))[0] == 0
    assert "outlet_added" in csv.read_text()
    for path in [db, *db.parent.glob(db.name + "-*"), csv]:
        data = path.read_bytes()
        assert AUTH_KEY.encode() not in data and PRIV_KEY.encode() not in data, path
    assert AUTH_KEY not in caplog.text and PRIV_KEY not in caplog.text
    with Store.open(db) as store:
        row = store.get_row("outlets", "sw-p1")
    assert row is not None and (row["auth_key_env"], row["priv_key_env"]) == (AUTH_ENV, PRIV_ENV)


async def test_sha_with_and_without_privacy_and_the_level_the_agent_wants() -> None:
    """The other protocols and levels, against a bare responder: SHA-1 authNoPriv and authPriv
    users switch a port; asking with less security than the user has is refused in words."""
    admin = oids.poe_oid(oids.PETH_ADMIN_ENABLE, 1, 1)
    state = {"admin": oids.TRUE}
    table = MibTable()
    table.add(admin, lambda: state["admin"], lambda v: state.__setitem__("admin", v) is None)
    auth_only = UsmAccount("ro", "sha", "sha-key-123")
    auth_priv = UsmAccount("rw", "sha", "sha-key-123", "aes", "priv-key-123")
    for user, weaker in ((auth_only, UsmAccount("ro")), (auth_priv, auth_only)):
        weaker = UsmAccount(user.user, weaker.auth_proto, weaker.auth_key)
        responder = SnmpResponder(table, "v2c-only", user)
        port = await responder.start()
        client = SnmpClient()
        try:
            target = SnmpTarget("127.0.0.1", port, usm=user, timeout_s=0.5, retries=0)
            assert await client.set(target, admin, oids.FALSE) == oids.FALSE
            assert (await client.get(target, [admin]))[admin] == oids.FALSE
            state["admin"] = oids.TRUE
            low = SnmpTarget("127.0.0.1", port, usm=weaker, timeout_s=0.5, retries=0)
            with pytest.raises(SnmpAuthError) as refused:
                await client.set(low, admin, oids.FALSE)
            assert str(refused.value) == (
                f"SNMP v3: wrong user or key for 127.0.0.1:{port} (user {user.user}, "
                f"{weaker.level}: the agent wants another security level for this user)"
            )
            assert state["admin"] == oids.TRUE
        finally:
            client.close()
            await responder.stop()


async def test_outlet_add_refuses_inconsistent_v3_settings_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    assert (await cli(capsys, db, "--create", "outlet", "list"))[0] == 0
    poe = ("--kind", "poe", "--host", "10.0.0.2", "--port", "3")
    for argv, words in (
        (("--snmp", "3"), "needs --user"),
        (("--user", "tech"), "need --snmp 3"),
        (("--snmp", "3", "--user", "tech", "--auth", "sha"), "--auth needs --auth-key-env"),
        ((*V3, "--priv", "aes"), "--priv needs --priv-key-env"),
        (
            ("--snmp", "3", "--user", "tech", "--priv", "aes", "--priv-key-env", "P"),
            "--priv needs --auth",
        ),
        ((*V3, "--community-env", "C"), "--community-env is for SNMP v2c"),
        (
            ("--snmp", "3", "--user", "t", "--auth", "sha", "--auth-key-env", "s3cr3t key!"),
            "--auth-key-env names the variable that holds the auth key",
        ),
        (("--snmp", "3", "--user", "bad user"), "a USM user name is"),
    ):
        code, _, err = await cli(capsys, db, "outlet", "add", "o1", *poe, *argv)
        assert code == 64 and words in err, (argv, err)
    code, _, err = await cli(
        capsys, db, "outlet", "add", "r1", "--kind", "relay", "--pin", "4", "--controller", "x",
        "--snmp", "3", "--user", "tech",
    )  # fmt: skip
    assert code == 64 and "--snmp is for poe and pdu outlets" in err
    with Store.open(db) as store:
        assert store.rows("outlets") == []
