"""Clock skew as numbers and words: the midpoint measurement, `3d 2h behind`, the status
policy's configurable threshold (config file and CSV export), and the stored skew of a device
(a read-only file from before the column existed still opens)."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleet_tui import cli
from fleet_tui.config import load_config
from fleet_tui.core.clock import describe, skew_at, span, worth_recording
from fleet_tui.core.models import DeviceState, Health
from fleet_tui.core.policy import Reading, Severity, StatusPolicy, evaluate, evaluate_reading
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.samples import SampleLog

NOW = 1_714_557_600.0


def test_skew_is_the_pi_time_against_the_middle_of_the_request() -> None:
    # asked at 100, answered at 104 (a slow link): the Pi read its clock around 102
    assert skew_at(102.0, 100.0, 104.0) == 0.0
    assert skew_at(102.0 - 259200, 100.0, 104.0) == -259200.0


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.4, "in step"),
        (-1.9, "in step"),
        (7.2, "7s ahead"),
        (720, "12m ahead"),
        (-5400, "1h 30m behind"),
        (-3599.9, "1h behind"),
        (-259199.6, "3d behind"),  # a measurement a hair under three days
        (-(3 * 86400 + 2 * 3600 + 100), "3d 2h behind"),
        (None, "?"),
    ],
)
def test_describe(seconds: float | None, words: str) -> None:
    assert describe(seconds) == words


def test_span_and_when_a_new_skew_is_worth_storing() -> None:
    assert span(-86399.9) == "1d" and span(59.6) == "1m" and span(3 * 3600 + 60) == "3h 1m"
    assert worth_recording(0.3, None)
    assert not worth_recording(0.9, 0.3)  # noise: no edit to sync
    assert worth_recording(-259200, 0.3)


def _state(skew: float | None) -> DeviceState:
    return DeviceState(
        key="k",
        endpoint="127.0.0.1:22",
        address="127.0.0.1",
        port=22,
        name="pi",
        reachable=True,
        health=Health(time=NOW, temperature_c=45.0),
        last_seen=NOW,
        clock_skew_s=skew,
    )


def test_a_clock_off_by_more_than_the_threshold_is_a_warning() -> None:
    policy = StatusPolicy()
    assert policy.clock_skew_warn_s == 300
    assert evaluate(_state(-259200), policy).reasons == ("clock 3d behind",)
    assert evaluate(_state(-259200), policy).severity is Severity.WARN
    assert evaluate(_state(720), policy).reasons == ("clock 12m ahead",)
    assert evaluate(_state(299), policy).severity is Severity.OK
    assert evaluate(_state(None), policy).severity is Severity.OK  # not measured
    relaxed = StatusPolicy(clock_skew_warn_s=86400)
    assert evaluate(_state(720), relaxed).severity is Severity.OK
    assert evaluate(_state(-259200), StatusPolicy(clock_skew_warn_s=0)).severity is Severity.OK
    # with worse news, the clock is one more reason
    hot = evaluate_reading(Reading(temperature_c=85.0, clock_skew_s=-600), policy)
    assert hot.severity is Severity.CRITICAL and hot.reasons[-1] == "clock 10m behind"
    with pytest.raises(ValidationError):
        StatusPolicy(clock_skew_warn_s=-1)


def test_the_threshold_comes_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[status]\nclock_skew_warn_s = 60\n", encoding="utf-8")
    cfg, problems = load_config(path)
    assert problems == [] and cfg.status.clock_skew_warn_s == 60
    assert evaluate(_state(90), cfg.status).reasons == ("clock 2m ahead",)
    path.write_text('[status]\nclock_skew_warn_s = "soon"\n', encoding="utf-8")
    cfg, problems = load_config(path)
    assert problems and cfg.status.clock_skew_warn_s == 300


def _seed(db: Path, skew: float | None) -> str:
    serial = "10000000c10c0002"
    with Store.open(db) as store:
        DeviceBook(store).upsert(serial, hostname="pi-clock", clock_skew_s=skew)
        SampleLog(store).record_many([(serial, {"time": NOW, "temperature_c": 45.0})])
    return serial


def _health_csv(db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert cli.main(["--db", str(db), "export", "health", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    return rows[0]


def test_export_health_says_the_stored_skew_with_the_users_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    db = tmp_path / "fleet.db"
    _seed(db, -259200.0)
    row = _health_csv(db, capsys)
    assert (row["status"], row["reasons"]) == ("warn", "clock 3d behind")
    assert "clock_skew_s" not in row  # no new column
    (config / "fleet-tui").mkdir(parents=True)
    (config / "fleet-tui/config.toml").write_text("[status]\nclock_skew_warn_s = 345600\n")
    row = _health_csv(db, capsys)
    assert (row["status"], row["reasons"]) == ("ok", "")


def test_a_read_only_file_from_before_the_column_still_reads(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    serial = _seed(db, None)
    conn = sqlite3.connect(db)  # as an earlier fleet-tui (same schema version) left it
    conn.execute("ALTER TABLE devices DROP COLUMN clock_skew_s")
    conn.execute("ALTER TABLE devices DROP COLUMN clock_skew_s__clk")
    conn.commit()
    conn.close()
    with Store.open(db, readonly=True) as store:
        record = DeviceBook(store).get(serial)
        assert record is not None and record.clock_skew_s is None
    with Store.open(db) as store:  # writable: the column is added
        DeviceBook(store).upsert(serial, clock_skew_s=-60.0)
        record = DeviceBook(store).get(serial)
        assert record is not None and record.clock_skew_s == -60.0
