"""`fleet-tui thermal [FILTER]`, `fleet-tui policy list|set|enable|disable`, `fleet-tui fan HOST
auto|PERCENT`, and the `export thermal|power --csv` kinds: the CLI twins of :thermal, :power
and :policies (core/thermal/, core/policies/)."""

from __future__ import annotations

import argparse
import json
from typing import IO

from fleet_tui.commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    emit,
    fail,
    open_db,
    refuse_readonly,
    who,
)
from fleet_tui.commands._operation_run import add_run_args, run_operation
from fleet_tui.commands.store_cmds import register_export_kind
from fleet_tui.config import load_config
from fleet_tui.core.export import write_csv
from fleet_tui.core.fleet.refs import resolve
from fleet_tui.core.ops.device_actions import FAN
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.policies.book import PolicyBook, config_policies
from fleet_tui.core.policies.model import ACTIONS, METRICS, PolicyError, parse_body
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible
from fleet_tui.core.thermal.dashboard import load_thermal, matches
from fleet_tui.core.thermal.fan import parse_setting, refusal
from fleet_tui.core.thermal.reports import PowerCsvRow, ThermalCsvRow, power_rows, thermal_rows
from fleet_tui.paths import config_file


def _temp(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


# ---- thermal ----------------------------------------------------------------------------------
def cmd_thermal(args: argparse.Namespace) -> int:
    cfg, _ = load_config(config_file())
    try:
        with open_db(args, writes=False, readonly=True) as store:
            view = load_thermal(store, cfg.status)
    except StoreError as e:
        return fail(str(e))
    shown = [d for d in view.devices if not args.filter or matches(d, args.filter)]
    if args.filter and not shown:
        return fail(f"thermal: no device matches {visible(args.filter, 40)!r}")
    if args.json:
        for d in shown:
            emit(args, {"type": "device", **d.to_json()}, "")
        for elev in view.elevations:
            readings = view.ambient.get(elev.rack.id, [])
            emit(
                args,
                {
                    "type": "rack",
                    "rack": elev.rack.name,
                    "ambient": [a.to_json() for a in readings],
                },
                "",
            )
        return EXIT_OK
    if not shown:
        print("no devices yet (fleet-tui discover, then poll)")
        return EXIT_OK
    print(f"{'HOST':<18} {'°C':>5} {'STATE':<8} {'FAN':>6} {'WHERE':<14} REASONS")
    for d in shown:
        fan = f"{d.fan_rpm:.0f}" if d.fan_rpm is not None else "-"
        print(
            f"{visible(d.hostname, 18):<18} {_temp(d.temperature_c):>5} {d.state:<8} {fan:>6} "
            f"{visible(d.where or '-', 14):<14} {visible('; '.join(d.reasons) or '-', 200)}"
        )
    for elev in view.elevations:
        text = view.rack_summary(elev.rack.id)
        print(
            f"rack {visible(elev.rack.name, 30)}: {visible(text, 200) if text else 'no ambient sensor'}"
        )
    return EXIT_OK


# ---- policy -----------------------------------------------------------------------------------
def _book(store: Store) -> tuple[PolicyBook, list[str]]:
    cfg, _ = load_config(config_file())
    config, problems = config_policies(cfg.policies)
    return PolicyBook(store, config), problems


def cmd_policy_list(args: argparse.Namespace) -> int:
    try:
        with open_db(args, writes=False, readonly=True) as store:
            book, problems = _book(store)
            policies = book.all()
    except StoreError as e:
        return fail(str(e))
    for problem in problems:
        fail(f"{config_file()}: {problem}")
    if not args.json:
        print(f"{'NAME':<20} {'ON':<3} {'FROM':<7} RULE")
    for p in policies:
        emit(
            args,
            p.to_json(),
            f"{p.name:<20} {'yes' if p.enabled else 'no':<3} {p.origin:<7} {p.body.describe()}",
        )
    return EXIT_OK


def cmd_policy_set(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "policy set"):
        return EXIT_FAILURE
    body: dict[str, object] = {}
    if args.body:
        try:
            loaded = json.loads(args.body)
        except json.JSONDecodeError as e:
            return fail(f"policy set: body is not JSON: {e.msg}", EXIT_USAGE)
        if not isinstance(loaded, dict):
            return fail("policy set: body must be a JSON object", EXIT_USAGE)
        body.update(loaded)
    for key in ("metric", "above", "clear_below", "hold_s", "sensor"):
        value = getattr(args, key)
        if value is not None:
            body[key] = value
    if args.action:
        body["actions"] = args.action
    try:
        with open_db(args, writes=True) as store:
            book, _ = _book(store)
            try:
                current = book.get(args.name)
                merged = {**current.body.model_dump(mode="json"), **body}
                if "metric" in body and body["metric"] != current.body.metric:
                    merged = body  # another metric: nothing of the old rule carries over
            except PolicyError:
                merged = body
            try:
                parsed = parse_body(merged)
                enabled = None if args.enabled is None else args.enabled == "yes"
                policy = book.set(args.name, parsed, enabled, who=who())
            except PolicyError as e:
                return fail(f"policy set: {e}", EXIT_USAGE)
    except StoreError as e:
        return fail(str(e))
    emit(args, policy.to_json(), f"policy {policy.name}: {policy.body.describe()}")
    return EXIT_OK


def cmd_policy_enable(args: argparse.Namespace) -> int:
    on = args.verb == "enable"
    if refuse_readonly(args, f"policy {args.verb}"):
        return EXIT_FAILURE
    try:
        with open_db(args, writes=True) as store:
            book, _ = _book(store)
            try:
                policy = book.enable(args.name, on, who=who())
            except PolicyError as e:
                return fail(f"policy {args.verb}: {e}", EXIT_USAGE)
    except StoreError as e:
        return fail(str(e))
    emit(args, policy.to_json(), f"policy {policy.name} {'enabled' if on else 'disabled'}")
    return EXIT_OK


# ---- fan --------------------------------------------------------------------------------------
def cmd_fan(args: argparse.Namespace) -> int:
    if refuse_readonly(args, "fan"):
        return EXIT_FAILURE
    try:
        params = parse_setting(args.setting)
    except ValueError as e:
        return fail(f"fan: {e}", EXIT_USAGE)
    try:
        with open_db(args, writes=False) as store:
            resolved = resolve(DeviceBook(store).all(), [args.host])
            for problem in resolved.problems:
                fail(f"fan: {problem}")
            if resolved.problems:
                return EXIT_USAGE if resolved.ambiguous else EXIT_FAILURE
            device = resolved.devices[0]
            why = refusal(device)
            if why is not None:
                return fail(f"fan: {why}")
            target = DeviceTarget(device.serial, device.hostname or device.serial)
            return run_operation(
                args, store, lambda runner: runner.start(FAN.name, [target], params)
            )
    except StoreError as e:
        return fail(str(e))


# ---- exports ----------------------------------------------------------------------------------
def export_thermal(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    cfg, _ = load_config(config_file())
    write_csv(ThermalCsvRow, thermal_rows(store, cfg.status), out)
    return EXIT_OK


def export_power(store: Store, args: argparse.Namespace, out: IO[str]) -> int:
    write_csv(PowerCsvRow, power_rows(store), out)
    return EXIT_OK


register_export_kind(
    "thermal",
    "every device's temperature, state and reasons, throttling, fan, rack; ambient sensors",
    export_thermal,
)
register_export_kind(
    "power",
    "every device's draw (measured by a Pi 5's PMIC, else an estimate, marked), under-voltage",
    export_power,
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "thermal", help="temperature, state and reasons per device; ambient sensors per rack"
    )
    p.add_argument(
        "filter",
        nargs="?",
        metavar="FILTER",
        help="part of a hostname, serial, model, rack or state",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per device, then per rack")
    p.set_defaults(func=cmd_thermal)

    pol = sub.add_parser("policy", help="protective policies: list, set, enable, disable")
    pol.add_argument("--json", action="store_true", help="one JSON object per policy")
    pol.set_defaults(func=cmd_policy_list)
    verbs = pol.add_subparsers(dest="verb", metavar="VERB")
    ls = verbs.add_parser("list", help="every policy, where it comes from, on or off")
    ls.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    ls.set_defaults(func=cmd_policy_list)
    st = verbs.add_parser(
        "set", help="create or change a policy (stored in the fleet database, merged)"
    )
    st.add_argument("name", metavar="NAME", help="a-z, 0-9, - and _ (e.g. hot, rack-inlet)")
    st.add_argument("--metric", choices=METRICS)
    st.add_argument("--above", type=float, metavar="X", help="fires at or above X")
    st.add_argument("--clear-below", type=float, metavar="X", help="clears at or under X")
    st.add_argument("--hold", dest="hold_s", type=float, metavar="S", help="seconds before firing")
    st.add_argument(
        "--action", action="append", choices=ACTIONS, help="repeat for several (default notify)"
    )
    st.add_argument("--sensor", metavar="NAME", help="ambient: only this sensor")
    st.add_argument("--enabled", choices=("yes", "no"))
    st.add_argument("--body", metavar="JSON", help="the whole rule as JSON (flags override it)")
    st.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    st.set_defaults(func=cmd_policy_set)
    for verb in ("enable", "disable"):
        v = verbs.add_parser(verb, help=f"{verb} a policy")
        v.add_argument("name", metavar="NAME")
        v.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        v.set_defaults(func=cmd_policy_enable)

    fan = sub.add_parser("fan", help="a Pi 5's fan: auto (the firmware's curve) or a percentage")
    fan.add_argument("host", metavar="HOST", help="hostname, serial, label or address")
    fan.add_argument("setting", metavar="auto|PERCENT")
    add_run_args(fan, danger=False)
    fan.set_defaults(func=cmd_fan)
