"""Where an outlet's SNMP community comes from: never the fleet database.

An outlet row names an environment variable (`community_env`); else the config's `[power]`
section names one (`community_env`) or holds the community itself (`community`, in the user's
own config file). The value is read at the moment of use and handed to the SNMP client only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DEFAULT_ENV = "FLEET_SNMP_COMMUNITY"


class MissingSecret(LookupError):
    """No community for an outlet; the message names where to put one (never a value)."""


def check_env_name(name: str) -> str:
    if not ENV_NAME.match(name):
        raise ValueError(
            f"{name[:40]!r} is not an environment variable name (letters, digits and _): "
            "--community-env names the variable that holds the community, not the community"
        )
    return name


def community(
    outlet_env: str | None,
    config_env: str | None = None,
    config_value: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    env = os.environ if environ is None else environ
    name = outlet_env or config_env or (None if config_value else DEFAULT_ENV)
    if name:
        value = env.get(name)
        if value:
            return value
        if config_value:
            return config_value
        raise MissingSecret(f"SNMP community: set the environment variable {name}")
    assert config_value is not None
    return config_value
