"""The `[power]` section of config.toml: pacing, waits, interlock limits, where the community is.

[power]
stagger_s = 2.0            # power on: seconds between two outlets switched on
off_wait_s = 60            # power off: how long a shut-down Pi may take to stop answering
cycle_deadline_s = 120     # power cycle: how long a Pi may take to come back, per rung
cycle_off_s = 3.0          # power cycle: how long the outlet stays off
max_devices = 4            # more in one command need --i-mean-it (so does a whole rack)
cycle_window_s = 3600      # an outlet cut more than cycle_max times in this window is
cycle_max = 3              #   refused (a Pi that keeps dying needs a person)
community_env = "SITE_SNMP" # the environment variable with the v2c community (default
                           #   FLEET_SNMP_COMMUNITY); an outlet's --community-env wins
# community = "..."        # or the community itself, in this file only (never the db)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class PowerPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stagger_s: Annotated[float, Field(ge=0, le=600)] = 2.0
    off_wait_s: Annotated[float, Field(ge=1, le=3600)] = 60.0
    cycle_deadline_s: Annotated[float, Field(ge=1, le=3600)] = 120.0
    cycle_off_s: Annotated[float, Field(ge=0, le=600)] = 3.0
    max_devices: Annotated[int, Field(ge=1, le=10_000)] = 4
    cycle_window_s: Annotated[float, Field(ge=0, le=7 * 86400)] = 3600.0
    cycle_max: Annotated[int, Field(ge=1, le=1000)] = 3
    snmp_timeout_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    snmp_retries: Annotated[int, Field(ge=0, le=10)] = 1
    community_env: str | None = None
    community: SecretStr | None = None
