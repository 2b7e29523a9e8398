"""Host keys: pinned on first use and tied to the serial; a changed key is refused with a
message that tells a re-imaged card from another machine; only an explicit re-pin lets it in."""

from __future__ import annotations

import asyncssh
import pytest

from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target
from fleet_tui.core.net.ssh import HostKeyChanged, fingerprint
from fleet_tui.core.sim.lab import LOOPBACK, SimLab, SimPi
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog


def _key_of(pi: SimPi) -> str:
    return pi.host_key.export_public_key().decode().strip()


async def _pinned_then_rekeyed(lab: SimLab, pool: ConnectionPool, index: int) -> tuple[SimPi, str]:
    pi = lab.pis[index]
    link = await pool.link(Target(LOOPBACK, pi.port))
    await pool.drop(link.route.key)
    old = _key_of(pi)
    await lab.change_host_key(pi)
    return pi, old


async def test_reimaged_card_same_serial_announced(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi, old = await _pinned_then_rekeyed(lab, pool, 0)
    target = Target(LOOPBACK, pi.port, serial=pi.serial)  # the serial its mDNS TXT announces
    with pytest.raises(HostKeyChanged) as refused:
        await pool.link(target)
    err = refused.value
    assert err.diagnosis == "reimaged"
    text = str(err)
    assert "re-imaged" in text and f"serial {pi.serial}" in text and "--repin" in text
    assert fingerprint(old) in text and fingerprint(_key_of(pi)) in text
    endpoint = f"{LOOPBACK}:{pi.port}"
    assert HostKeys(store).pinned(endpoint) == old  # nothing re-pinned
    assert [e.kind for e in EventLog(store).recent(pi.serial)] == ["host_key_refused"]
    # Refused for good: a second try does not even connect, it repeats the reason.
    with pytest.raises(Exception, match="re-imaged"):
        await pool.link(target)


async def test_another_machine_announcing_another_serial(lab: SimLab, pool: ConnectionPool) -> None:
    pi, _ = await _pinned_then_rekeyed(lab, pool, 1)
    with pytest.raises(HostKeyChanged) as refused:
        await pool.link(Target(LOOPBACK, pi.port, serial="10000000deadbeef"))
    assert refused.value.diagnosis == "other_machine"
    assert "NOT the pinned Pi" in str(refused.value) and "10000000deadbeef" in str(refused.value)


async def test_no_evidence_says_it_cannot_tell(lab: SimLab, pool: ConnectionPool) -> None:
    pi, _ = await _pinned_then_rekeyed(lab, pool, 2)
    with pytest.raises(HostKeyChanged) as refused:
        await pool.link(Target(LOOPBACK, pi.port))
    assert refused.value.diagnosis == "unknown"
    assert "nothing tells a re-imaged card from another machine" in str(refused.value).lower()


async def test_the_hardware_mac_tells_a_reimaged_card(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi = lab.pis[0]
    DeviceBook(store).upsert(pi.serial, mac="dc:a6:32:00:00:07,dc:a6:32:00:00:08")
    pi, _ = await _pinned_then_rekeyed(lab, pool, 0)
    with pytest.raises(HostKeyChanged) as same:
        await pool.link(Target(LOOPBACK, pi.port, mac="DC:A6:32:00:00:08"))
    assert same.value.diagnosis == "reimaged" and "MAC dc:a6:32:00:00:08" in str(same.value)
    DeviceBook(store).upsert("10000000cafe0001", mac="dc:a6:32:00:00:99")
    pool.forgive(f"{LOOPBACK}:{pi.port}")
    with pytest.raises(HostKeyChanged) as other:
        await pool.link(Target(LOOPBACK, pi.port, mac="dc:a6:32:00:00:99"))
    assert other.value.diagnosis == "other_machine"
    assert "belongs to serial 10000000cafe0001" in str(other.value)


async def test_same_key_at_a_new_address_is_the_same_pi(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi = lab.pis[1]
    HostKeys(store).pin(f"{LOOPBACK}:9", _key_of(pi), serial=pi.serial)  # where it used to be
    link = await pool.link(Target(LOOPBACK, pi.port, serial=pi.serial))
    assert link.facts.serial == pi.serial
    (history,) = [h for h in HostKeys(store).history(f"{LOOPBACK}:{pi.port}")]
    assert history.reason == f"same key as {LOOPBACK}:9" and history.serial == pi.serial


async def test_known_serial_with_another_key_at_a_new_address_is_refused(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi = lab.pis[2]
    other_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    HostKeys(store).pin(f"{LOOPBACK}:9", other_key, serial=pi.serial)
    endpoint = f"{LOOPBACK}:{pi.port}"
    # Claimed in TXT: refused during the handshake, before we even authenticate.
    with pytest.raises(HostKeyChanged) as claimed:
        await pool.link(Target(LOOPBACK, pi.port, serial=pi.serial))
    assert claimed.value.pinned_at == f"{LOOPBACK}:9"
    assert HostKeys(store).pinned(endpoint) is None
    # No claim: the agent's answer gives the serial away, and the pin is still refused.
    pool.forgive(endpoint)
    with pytest.raises(HostKeyChanged) as answered:
        await pool.link(Target(LOOPBACK, pi.port))
    assert answered.value.confirmed and "answers as serial" in str(answered.value)
    assert HostKeys(store).pinned(endpoint) is None


async def test_an_explicit_repin_lets_it_back_in_and_is_logged(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi, old = await _pinned_then_rekeyed(lab, pool, 0)
    endpoint = f"{LOOPBACK}:{pi.port}"
    with pytest.raises(HostKeyChanged):
        await pool.link(Target(LOOPBACK, pi.port))
    message = pool.trust.repin(endpoint, _key_of(pi), None, who="test")
    pool.forgive(endpoint)
    link = await pool.link(Target(LOOPBACK, pi.port))
    assert link.facts.serial == pi.serial
    assert fingerprint(old) in message and fingerprint(_key_of(pi)) in message
    kinds = [e.kind for e in EventLog(store).recent(pi.serial)]
    assert kinds[0] == "host_key_repinned"
    reasons = [h.reason for h in HostKeys(store).history(endpoint)]
    assert reasons == ["first use", "re-pinned by test"]


async def test_same_key_from_another_serial_is_logged_as_a_moved_card(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi = lab.pis[1]
    endpoint = f"{LOOPBACK}:{pi.port}"
    HostKeys(store).pin(endpoint, _key_of(pi), serial="10000000feedf00d")  # pinned for another Pi
    link = await pool.link(Target(LOOPBACK, pi.port))
    assert link.facts.serial == pi.serial
    (event,) = [e for e in EventLog(store).recent() if e.kind == "host_card_moved"]
    assert "10000000feedf00d" in event.message and event.serial == pi.serial
    assert HostKeys(store).history(endpoint)[-1].serial == pi.serial
