"""The local store API the poller and the TUI are written against."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "fleet.db")
    yield s
    s.close()


def test_open_creates_file_with_identity(tmp_path: Path) -> None:
    p = tmp_path / "a" / "b" / "fleet.db"
    with pytest.raises(StoreError, match="no such directory"):
        Store.open(p)  # a mistyped path never becomes a new fleet: no folder is made
    assert not (tmp_path / "a").exists()
    p.parent.mkdir(parents=True)
    with Store.open(p) as s:
        assert p.exists()
        assert len(s.site_id) == 32 and int(s.site_id, 16) >= 0
        site = s.site_id
    with Store.open(p) as s:
        assert s.site_id == site  # same file, same place: same replica
    conn = sqlite3.connect(p)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x464C5454
    conn.close()


def test_reopen_writes_nothing(tmp_path: Path) -> None:
    p = tmp_path / "fleet.db"
    with Store.open(p) as s:
        DeviceBook(s).upsert("100", hostname="pi1")
    before = p.read_bytes()
    with Store.open(p) as s:
        DeviceBook(s).all()
    assert p.read_bytes() == before


def test_copied_file_mints_new_site_id(tmp_path: Path) -> None:
    p = tmp_path / "fleet.db"
    with Store.open(p) as s:
        DeviceBook(s).upsert("100", hostname="pi1")
        site = s.site_id
    q = tmp_path / "copy.db"
    shutil.copy(p, q)
    with Store.open(q) as s:
        assert s.site_id != site
        assert DeviceBook(s).get("100") is not None
        assert site in s.meta()["previous_site_ids"]  # type: ignore[operator]


def test_foreign_and_garbage_files_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello world" * 100)
    with pytest.raises(StoreError, match="not an SQLite database"):
        Store.open(junk)
    other = tmp_path / "other.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE x (a)")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="not a fleet-tui database"):
        Store.open(other)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "fleet.db"
    Store.open(p).close()
    c = sqlite3.connect(p)
    c.execute("PRAGMA user_version = 999")
    c.close()
    with pytest.raises(StoreError, match="newer"):
        Store.open(p)


def test_device_upsert_get_find_list(store: Store) -> None:
    DeviceBook(store).upsert(
        "b2", hostname="pi-b", address="10.0.0.2", port=22, tags=["x", "a", "x"]
    )
    DeviceBook(store).upsert("a1", hostname="pi-a", address="10.0.0.1", last_seen=123.5)
    DeviceBook(store).upsert("c3")
    DeviceBook(store).upsert("a1", model="Raspberry Pi 4 Model B")
    d = DeviceBook(store).get("a1")
    assert d is not None
    assert (d.hostname, d.model, d.last_seen) == ("pi-a", "Raspberry Pi 4 Model B", 123.5)
    assert DeviceBook(store).get("b2").tags == ["a", "x"]  # type: ignore[union-attr]
    assert [d.serial for d in DeviceBook(store).all()] == ["a1", "b2", "c3"]
    assert DeviceBook(store).find("PI-B").serial == "b2"  # type: ignore[union-attr]
    assert DeviceBook(store).find("pi-b.local").serial == "b2"  # type: ignore[union-attr]
    assert DeviceBook(store).find("10.0.0.1").serial == "a1"  # type: ignore[union-attr]
    assert DeviceBook(store).find("nope") is None
    with pytest.raises(StoreError, match="unknown device field"):
        DeviceBook(store).upsert("a1", colour="red")


def test_forget_and_come_back(store: Store) -> None:
    DeviceBook(store).upsert("a1", hostname="pi-a")
    DeviceBook(store).forget("a1")
    assert DeviceBook(store).get("a1") is None
    assert DeviceBook(store).all() == []
    DeviceBook(store).upsert("a1", last_seen=5.0)
    d = DeviceBook(store).get("a1")
    assert d is not None and d.hostname == "pi-a"


def test_host_keys_and_history(store: Store) -> None:
    assert HostKeys(store).pinned("10.0.0.1:22") is None
    HostKeys(store).pin("10.0.0.1:22", "ssh-ed25519 AAAA1", serial="a1")
    HostKeys(store).pin("10.0.0.1:22", "ssh-ed25519 AAAA2", serial="a1", reason="re-imaged")
    assert HostKeys(store).pinned("10.0.0.1:22") == "ssh-ed25519 AAAA2"
    hist = HostKeys(store).history("a1")
    assert [h.reason for h in hist] == ["first use", "re-imaged"]
    assert HostKeys(store).history("10.0.0.1:22") == hist


def test_health_samples(store: Store) -> None:
    now = time.time()
    sample = {
        "time": now,
        "temperature_c": 61.2,
        "throttled": {"raw": 0x50005, "current": ["under-voltage"], "sticky": []},
        "load": [0.5, 0.4, 0.3],
        "cpu_percent": 12.5,
        "mem_total_mb": 4000,
        "mem_available_mb": 3000,
        "disk_total_mb": 100,
        "disk_free_mb": 25,
        "pmic": {"total_w": 4.2},
        "fan": {"rpm": 3000},
        "core_volts": 0.86,
    }
    log = SampleLog(store)
    log.record("a1", sample)
    log.record("a1", {"time": now - 1000, "temperature_c": None})
    got = SampleLog(store).recent("a1", now - 10)
    assert len(got) == 1
    s = got[0]
    assert (s.temperature_c, s.throttled, s.load1, s.mem_percent, s.disk_percent) == (
        61.2,
        0x50005,
        0.5,
        25.0,
        75.0,
    )
    assert (s.power_w, s.fan_rpm, s.cpu_percent) == (4.2, 3000.0, 12.5)
    assert len(SampleLog(store).recent("a1", 0)) == 2


def test_events(store: Store) -> None:
    EventLog(store).record("a1", "reboot", "rebooted by tech")
    EventLog(store).record(None, "sync", "merged peer")
    EventLog(store).record("a1", "deploy", "v2")
    assert [e.kind for e in EventLog(store).recent()] == ["deploy", "sync", "reboot"]
    assert [e.kind for e in EventLog(store).recent("a1", limit=1)] == ["deploy"]


def test_threads_one_call_at_a_time(store: Store) -> None:
    log = SampleLog(store)

    def work(n: int) -> None:
        for i in range(50):
            log.record(f"s{n}", {"time": 60.0 * i, "cpu_percent": 1.0})
            DeviceBook(store).upsert(f"s{n}", last_seen=float(i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(DeviceBook(store).all()) == 4
    assert sum(len(SampleLog(store).recent(f"s{n}", 0)) for n in range(4)) == 200


def test_recording_a_sample_is_cheap(store: Store) -> None:
    log = SampleLog(store)
    start = time.perf_counter()
    for i in range(1000):
        kept = log.record(
            f"p{i % 100}", {"time": 60.0 * i, "temperature_c": 50.0, "cpu_percent": 3.0}
        )
        assert kept
    assert time.perf_counter() - start < 2.0  # ~100 per 2 s needed; this is 1000
