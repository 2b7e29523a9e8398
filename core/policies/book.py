"""The protective policies in force: built-in defaults, then the config file's `[policies.NAME]`
tables, then the `policies` rows of the store (what `fleet-tui policy set` and the TUI write),
each later one replacing an earlier one of the same name. A service over `Store`."""

from __future__ import annotations

import json
from collections.abc import Mapping

from fleet_tui.core.policies.model import (
    DEFAULTS,
    POLICY_KIND,
    Policy,
    PolicyBody,
    PolicyError,
    check_name,
    parse_body,
    policy_id,
)
from fleet_tui.core.store.database import Store

POLICY_EVENT = "policy"  # the kind of every policy event (core/policies/engine.py EVENT_KIND)


def config_policies(section: Mapping[str, object] | None) -> tuple[list[Policy], list[str]]:
    """`[policies.NAME]` tables of the config file (body fields plus `enabled`), and the
    problems found (a broken one is left out and named, never fatal)."""
    out: list[Policy] = []
    problems: list[str] = []
    for name, raw in (section or {}).items():
        if not isinstance(raw, Mapping):
            problems.append(f"policies.{name}: not a table")
            continue
        fields = dict(raw)
        enabled = fields.pop("enabled", True)
        try:
            check_name(str(name))
            if not isinstance(enabled, bool):
                raise PolicyError("enabled: must be true or false")
            body = parse_body(fields)
        except PolicyError as e:
            problems.append(f"policies.{name}: {e}")
            continue
        out.append(Policy(name=str(name), body=body, enabled=enabled, origin="config"))
    return out, problems


class PolicyBook:
    """Read and edit the policies (stateless: make one wherever needed)."""

    def __init__(self, store: Store, config: list[Policy] | None = None) -> None:
        self.store = store
        self.config = config or []

    def all(self) -> list[Policy]:
        found: dict[str, Policy] = {p.name: p for p in DEFAULTS}
        for p in self.config:
            found[p.name] = p
        for row in self.store.rows("policies", "kind = ?", (POLICY_KIND,)):
            try:
                body = PolicyBody.model_validate(json.loads(row["body"] or ""))
                name = check_name(str(row["name"]))
            except (ValueError, PolicyError):
                continue  # a row a newer fleet-tui wrote: left alone, not enforced
            found[name] = Policy(name=name, body=body, enabled=bool(row["enabled"]), origin="store")
        return sorted(found.values(), key=lambda p: p.name)

    def enabled(self) -> list[Policy]:
        return [p for p in self.all() if p.enabled]

    def get(self, name: str) -> Policy:
        for p in self.all():
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.all())
        raise PolicyError(f"unknown policy {name!r} (known: {known})")

    def set(
        self, name: str, body: PolicyBody, enabled: bool | None = None, who: str = ""
    ) -> Policy:
        """Write (or replace) a policy into the store; logs a `policy` event."""
        check_name(name)
        if enabled is None:
            try:
                enabled = self.get(name).enabled
            except PolicyError:
                enabled = True
        by = f" by {who}" if who else ""
        self._write(name, body, enabled, f"policy {name} set{by}: {body.describe()}")
        return self.get(name)

    def enable(self, name: str, enabled: bool, who: str = "") -> Policy:
        """Turn a policy on or off (a built-in or config one is copied into the store).
        Turning it off clears its states: each device it was firing on gets a "disabled while
        firing; cleared" event (the evaluating process undoes its actions: core/policies/
        engine.py `reload`)."""
        policy = self.get(name)
        if policy.enabled == enabled and policy.origin == "store":
            return policy
        word = "enabled" if enabled else "disabled"
        by = f" by {who}" if who else ""
        self._write(name, policy.body, enabled, f"policy {name} {word}{by}", clear=not enabled)
        return self.get(name)

    def _write(
        self, name: str, body: PolicyBody, enabled: bool, event: str, clear: bool = False
    ) -> None:
        """The row and the event that explains it, in one transaction; `clear`: its states
        too, with an event on each device it was firing on."""
        with self.store.write() as c:
            self.store.lww_set(
                c,
                "policies",
                policy_id(name),
                {
                    "kind": POLICY_KIND,
                    "name": name,
                    "body": body.model_dump_json(),
                    "enabled": int(enabled),
                    "deleted": 0,
                },
            )
            self.store.log_event(c, None, POLICY_EVENT, event)
            if clear:
                cleared = c.execute(
                    "DELETE FROM policy_state WHERE policy = ? RETURNING serial, state", (name,)
                ).fetchall()
                for serial, state in sorted(cleared):
                    if state == "firing":
                        msg = f"{name} disabled while firing; cleared"
                        self.store.log_event(c, serial, POLICY_EVENT, msg)
