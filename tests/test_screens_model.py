"""The fleet table's model without Textual: status policy, filter language, sort, folding."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from test_tui_support import FLEET, fleet_states, state

from fleet_tui.core.models import DeviceState
from fleet_tui.core.policy import Severity, StatusPolicy, evaluate, throttle_flags
from fleet_tui.core.records import DeviceRecord
from fleet_tui.screens.fleet.filters import FilterError, FleetFilter
from fleet_tui.screens.fleet.fleet_model import FleetModel, find_rows


def _model(states: list[DeviceState] | None = None) -> FleetModel:
    m = FleetModel(StatusPolicy())
    m.apply_states(states if states is not None else fleet_states())
    return m


def _hosts(m: FleetModel) -> list[str]:
    return [m.rows[k].hostname for k in m.visible()]


def test_status_comes_from_the_policy_thresholds() -> None:
    m = _model()
    by_host = {r.hostname: r.status for r in m.rows.values()}
    assert by_host["pi-4b-001"].severity is Severity.OK
    assert by_host["pi-5-002"].severity is Severity.WARN  # 74.9 °C >= 70
    assert by_host["pi-cm4-005"].severity is Severity.CRITICAL  # 83.1 °C >= 80
    assert by_host["pi-3bp-003"].severity is Severity.CRITICAL  # under-voltage now
    assert "under_voltage now" in by_host["pi-3bp-003"].reasons
    assert by_host["pi-zero2w-004"].severity is Severity.WARN  # under-voltage since boot
    assert by_host["pi-4b-006"].severity is Severity.UNREACHABLE
    assert "connection refused" in by_host["pi-4b-006"].summary


def test_thresholds_are_the_users_to_change_and_are_validated() -> None:
    relaxed = StatusPolicy(temp_warn_c=80, temp_critical_c=90, warn_on_past_throttle=False)
    s = fleet_states()
    assert evaluate(s[1], relaxed).severity is Severity.OK  # 74.9 °C
    assert evaluate(s[4], relaxed).severity is Severity.WARN  # 83.1 °C
    assert evaluate(s[3], relaxed).severity is Severity.OK  # past under-voltage ignored
    with pytest.raises(ValidationError, match="above"):
        StatusPolicy(temp_warn_c=90, temp_critical_c=80)
    with pytest.raises(ValidationError, match="unknown throttle flag"):
        StatusPolicy(critical_flags=("brownout",))
    with pytest.raises(ValidationError):
        StatusPolicy(temp_warn_c="hot")  # type: ignore[arg-type]


def test_a_device_still_connecting_is_unknown_not_unreachable() -> None:
    s = DeviceState(key="k", endpoint="k", address="127.0.0.1", port=22, name="pi")
    assert evaluate(s, StatusPolicy()).severity is Severity.UNKNOWN
    assert evaluate(None, StatusPolicy()).severity is Severity.UNKNOWN


def test_throttle_bits_decode_to_flag_names() -> None:
    assert throttle_flags(0x50005) == (
        ["under_voltage", "throttled"],
        ["under_voltage", "throttled"],
    )
    assert throttle_flags(None) == ([], [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pi-5", ["pi-5-002", "pi-5-008"]),
        ("PI-5", ["pi-5-002", "pi-5-008"]),
        ("^pi-4b-00[16]$", ["pi-4b-001", "pi-4b-006"]),
        ("status:critical", ["pi-3bp-003", "pi-cm4-005"]),
        ("status:warn,unreachable", ["pi-4b-006", "pi-5-002", "pi-zero2w-004"]),
        ("model:cm4", ["pi-cm4-005"]),
        ("model:5B status:ok", ["pi-5-008"]),
        ("!tag:nothing model:zero", ["pi-zero2w-004"]),
        ("status:ok !pi-4b", ["[bold red]evil[/]\x1b[2J", "pi-5-008"]),
    ],
)
def test_filter_language(text: str, expected: list[str]) -> None:
    m = _model()
    m.set_filter(FleetFilter.parse(text))
    assert _hosts(m) == expected


def test_invert_shows_everything_else() -> None:
    m = _model()
    m.set_filter(FleetFilter.parse("!pi-"))
    assert _hosts(m) == ["[bold red]evil[/]\x1b[2J"]


def test_filters_by_rack_and_tag_use_what_the_store_knows() -> None:
    m = _model()
    rec = DeviceRecord(serial=FLEET[0][1], hostname="pi-4b-001", tags=["lab", "poe"])
    m.apply_records(
        [rec, DeviceRecord(serial=FLEET[2][1], tags=["lab"])],
        {FLEET[0][1]: "R1", FLEET[2][1]: "R2"},
    )
    m.set_filter(FleetFilter.parse("tag:lab rack:r1"))
    assert _hosts(m) == ["pi-4b-001"]
    m.set_filter(FleetFilter.parse("tag:lab"))
    assert _hosts(m) == ["pi-3bp-003", "pi-4b-001"]
    m.set_filter(FleetFilter.parse("front"))  # regex also looks at labels once they exist
    assert _hosts(m) == []


@pytest.mark.parametrize("bad", ["(unclosed", "status:", "status:hot", "[z-a]"])
def test_bad_filters_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(FilterError):
        FleetFilter.parse(bad)


def test_sort_by_any_column_keeps_unknown_values_last_either_way() -> None:
    m = _model()
    m.set_sort("temp", reverse=False)
    hosts = _hosts(m)
    assert hosts[0] == "pi-4b-001" and hosts[-1] == "pi-4b-006"  # 48.3 °C first, no reading last
    m.set_sort("temp", reverse=True)
    hosts = _hosts(m)
    assert hosts[0] == "pi-cm4-005" and hosts[-1] == "pi-4b-006"
    m.set_sort("status", reverse=True)
    assert [m.rows[k].status.severity for k in m.visible()][:3] == [
        Severity.CRITICAL,
        Severity.CRITICAL,
        Severity.UNREACHABLE,
    ]


def test_a_stored_device_and_its_live_state_are_one_row() -> None:
    m = FleetModel(StatusPolicy())
    rec = DeviceRecord(
        serial=FLEET[0][1], hostname="pi-4b-001", address="10.0.0.5", port=22, label="front door"
    )
    m.apply_records([rec], {})
    assert list(m.rows) == [FLEET[0][1]]  # by serial
    live = state(0, FLEET[0])  # the same Pi, now answering on another address
    m.apply_states([live])
    assert list(m.rows) == [live.key] == [FLEET[0][1]]
    row = m.rows[live.key]
    assert row.label == "front door" and row.address == "127.0.0.1:2201" and row.state is live
    assert m.take_renamed() == {}  # nothing folded, nothing removed
    m.apply_records([rec], {})  # a later re-read lands on the same row
    assert list(m.rows) == [live.key]


def test_a_candidate_row_gives_way_to_its_serial_when_core_rekeys_it() -> None:
    m = FleetModel(StatusPolicy())
    serial = FLEET[0][1]
    m.apply_records([DeviceRecord(serial=serial, hostname="pi-4b-001", label="front door")], {})
    connecting = DeviceState(
        key="candidate:127.0.0.1:2201",
        endpoint="127.0.0.1:2201",
        address="127.0.0.1",
        port=2201,
        name="pi-4b-001",
    )
    m.apply_states([connecting])
    assert set(m.rows) == {serial, connecting.key}
    assert m.rows[connecting.key].serial is None
    assert m.rows[connecting.key].status.severity is Severity.UNKNOWN  # "connecting"
    live = state(0, FLEET[0]).model_copy(update={"replaces": connecting.key})
    assert m.apply_states([live]) == {serial}
    assert list(m.rows) == [serial] and m.visible() == [serial]
    assert m.rows[serial].state is live and m.rows[serial].label == "front door"
    assert m.take_renamed() == {connecting.key: serial}
    assert m.take_renamed() == {}
    # the same provisional id for a new candidate later is a new row
    m.apply_states([connecting])
    assert set(m.rows) == {serial, connecting.key}


def test_a_stored_record_never_takes_a_candidates_key() -> None:
    m = FleetModel(StatusPolicy())
    m.apply_records([DeviceRecord(serial="candidate:10.0.0.1:22", hostname="x")], {})
    assert m.rows == {}


def test_find_rows_by_hostname_serial_address_or_prefix() -> None:
    m = _model()
    assert [r.hostname for r in find_rows(m, "pi-5-002")] == ["pi-5-002"]
    assert [r.hostname for r in find_rows(m, "PI-5-002.local")] == ["pi-5-002"]
    assert [r.hostname for r in find_rows(m, FLEET[4][1])] == ["pi-cm4-005"]
    assert [r.hostname for r in find_rows(m, "127.0.0.1:2202")] == ["pi-5-002"]
    assert len(find_rows(m, "pi-5")) == 2
    assert find_rows(m, "nothing") == []
