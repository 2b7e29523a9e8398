"""The user's config file (`$XDG_CONFIG_HOME/fleet-tui/config.toml`), validated with pydantic.

    low_bandwidth = false          # or --low-bandwidth: refresh less often (slow SSH links)
    readonly = false               # or --readonly
    technician = "Ana Lopes"       # who walkthrough answers (audits) are recorded as;
                                   # default: your user name on this laptop
    export_dir = "~/reports"       # where `x` writes CSVs (an existing folder; default
                                   # $XDG_DOCUMENTS_DIR/fleet-tui-exports, else ~/fleet-tui-exports)

    [refresh]                      # seconds
    poll = 2.0                     # health poll of each device
    table = 0.25                   # screen refresh
    low_bandwidth_poll = 10.0
    low_bandwidth_table = 2.0

    [keys]                         # binding id = "key[,key…]"  (`fleet-tui keys` lists the ids)
    "fleet.filter" = "slash,f"
    "fleet.reboot" = "ctrl+r"

    [aliases]                      # :alias = "command [argument]"
    hot = "fleet status:critical,warn"

    [status]                       # thresholds of the status column (core/policy.py)
    temp_warn_c = 70
    temp_critical_c = 80
    clock_skew_warn_s = 300        # a Pi's clock this far off warns (no NTP); 0 = off

    [operations]                   # limits on identify, reboot, … (core/ops/policy.py)
    concurrency = 16               # devices at once, at most
    cooldown_s = { reboot = 300 }  # refuse to repeat a kind on a device this soon

    [power]                        # power on/off/cycle (core/power/policy.py has them all)
    stagger_s = 2.0                # seconds between two outlets switched on
    community_env = "SITE_SNMP"    # the variable holding the SNMP v2c community
    [policies.hot]                 # protective policies (core/policies/model.py); a
    metric = "temperature"         # name already in the store (fleet-tui policy set) wins
    above = 80                     # fires at or above, after hold_s seconds
    clear_below = 75               # clears at or under
    hold_s = 30
    actions = ["notify", "fan_full"]   # notify, fan_full, shutdown, power_cycle
    enabled = true

A broken file never stops the app: it starts with the defaults and says what was wrong.
Other sections belong to other parts of fleet-tui and are left alone here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fleet_tui.core.ops.policy import OperationPolicy
from fleet_tui.core.policy import StatusPolicy
from fleet_tui.core.power.policy import PowerPolicy
from fleet_tui.core.racks.audits import technician


class RefreshConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poll: Annotated[float, Field(ge=0.5, le=3600)] = 2.0
    table: Annotated[float, Field(ge=0.05, le=60)] = 0.25
    low_bandwidth_poll: Annotated[float, Field(ge=0.5, le=3600)] = 10.0
    low_bandwidth_table: Annotated[float, Field(ge=0.05, le=60)] = 2.0
    records: Annotated[float, Field(ge=1, le=3600)] = 30.0


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="allow")  # sections of other parts of fleet-tui

    low_bandwidth: bool = False
    readonly: bool = False
    export_dir: str | None = None  # where the TUI's `x` writes (None: core/export.py's default)
    technician: Annotated[str, Field(max_length=64)] | None = None  # audits' `who`
    refresh: RefreshConfig = Field(default_factory=lambda: RefreshConfig())
    keys: dict[str, str] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    status: StatusPolicy = Field(default_factory=lambda: StatusPolicy())
    operations: OperationPolicy = Field(default_factory=lambda: OperationPolicy())
    power: PowerPolicy = Field(default_factory=lambda: PowerPolicy())
    # [policies.NAME] tables, checked one by one (core/policies/book.py config_policies)
    policies: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("export_dir")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).expanduser().is_absolute():
            raise ValueError("give an absolute path (or one starting with ~/)")
        return value

    def who(self) -> str:
        """The technician's name for audit rows: the config's, else the OS user's."""
        return technician(self.technician)

    def export_folder(self) -> Path | None:
        return Path(self.export_dir).expanduser() if self.export_dir else None

    def poll_interval(self, low_bandwidth: bool) -> float:
        return self.refresh.low_bandwidth_poll if low_bandwidth else self.refresh.poll

    def table_interval(self, low_bandwidth: bool) -> float:
        return self.refresh.low_bandwidth_table if low_bandwidth else self.refresh.table


def load_config(path: Path) -> tuple[UserConfig, list[str]]:
    """The config at `path` (defaults if missing) and the problems found in it."""
    if not path.exists():
        return UserConfig(), []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        return UserConfig(), [f"{path}: {e}; using defaults"]
    try:
        return UserConfig.model_validate(data), []
    except ValidationError as e:
        problems = [
            f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        ]
        return UserConfig(), [*problems, f"{path}: using defaults"]
