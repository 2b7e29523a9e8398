"""Where an outlet's SNMP secrets come from: never the fleet database.

v2c: an outlet row names an environment variable (`community_env`); else the config's `[power]`
section names one (`community_env`) or holds the community itself (`community`, in the user's
own config file). v3: the outlet row names the variables holding the auth and priv keys
(`auth_key_env`, `priv_key_env`). Values are read at the moment of use and handed to the SNMP
client only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from fleet_tui.core.power.usm import MIN_KEY, UsmAccount

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DEFAULT_ENV = "FLEET_SNMP_COMMUNITY"


class MissingSecret(LookupError):
    """No community for an outlet; the message names where to put one (never a value)."""


def check_env_name(name: str, option: str = "--community-env", what: str = "community") -> str:
    if not ENV_NAME.match(name):
        raise ValueError(
            f"{name[:40]!r} is not an environment variable name (letters, digits and _): "
            f"{option} names the variable that holds the {what}, not the {what}"
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


def _key(name: str | None, what: str, user: str, env: Mapping[str, str]) -> str:
    if not name:
        raise MissingSecret(f"SNMP v3 user {user}: no environment variable named for the {what}")
    value = env.get(name)
    if not value:
        raise MissingSecret(f"SNMP v3 user {user}: set the environment variable {name} ({what})")
    if len(value) < MIN_KEY:
        raise MissingSecret(
            f"SNMP v3 user {user}: the {what} in ${name} is shorter than {MIN_KEY} characters"
        )
    return value


def account(
    user: str,
    auth_proto: str | None,
    auth_key_env: str | None,
    priv_proto: str | None,
    priv_key_env: str | None,
    environ: Mapping[str, str] | None = None,
) -> UsmAccount:
    """The v3 account of an outlet, its keys read from the environment variables it names."""
    env = os.environ if environ is None else environ
    auth_key = _key(auth_key_env, "auth key", user, env) if auth_proto else ""
    priv_key = _key(priv_key_env, "priv key", user, env) if priv_proto else ""
    return UsmAccount(user, auth_proto, auth_key, priv_proto, priv_key)
