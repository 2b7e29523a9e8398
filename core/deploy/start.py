"""Starting a deployment or a rollback, the same way from the CLI and the `:deploy` screen:
the options checked, the release and its devices found, its content present here, the word a
technician types to confirm, and (for the screen, before it asks) each device's pre-flight.

    options = make_options("deploy", "tag:lab", canary=1, batch="25%")
    ready = prepare(store, "web@2.0", "tag:lab", "deploy")     # DeployRefused: one line
    refusals = await preflight_all(store, caller, ready)       # serial -> why not, if any
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fleet_tui.core.deploy.agent_models import AppStatus, reply
from fleet_tui.core.deploy.content import ContentError
from fleet_tui.core.deploy.preflight import preflight_refusal
from fleet_tui.core.deploy.releases import ReleaseBook, ReleaseError, ReleaseRecord
from fleet_tui.core.deploy.rollout import DeployRefused, Options
from fleet_tui.core.deploy.targets import Chosen, choose
from fleet_tui.core.deploy.waves import WaveError
from fleet_tui.core.ops.kinds import DeviceCaller
from fleet_tui.core.store.database import Store
from fleet_tui.core.text import visible

BY_CHOICES = ("rack", "outlet")
PREFLIGHT_CONCURRENCY = 16


@dataclass(frozen=True)
class Prepared:
    release: ReleaseRecord
    chosen: list[Chosen]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.chosen]

    @property
    def word(self) -> str:
        """What a technician types to confirm: the release, with the count when many."""
        n = len(self.chosen)
        return self.release.id if n == 1 else f"{self.release.id} {n}"


def make_options(
    kind: str,
    filter_text: str,
    *,
    canary: int = 1,
    batch: str = "25%",
    by: str | None = None,
    max_failures: str = "0",
    pause_after_canary: bool = False,
    confirm_s: float = 30.0,
) -> Options:
    """Checked options (WaveError: one line naming the option)."""
    if not 0 < confirm_s <= 3600:
        raise WaveError("--confirm-s must be in (0, 3600]")
    if canary < 0:
        raise WaveError("--canary must be 0 or more")
    if by is not None and by not in BY_CHOICES:
        raise WaveError(f"--by must be one of {', '.join(BY_CHOICES)}")
    if not filter_text.strip():
        raise WaveError(
            f"{kind}: --to needs a filter (e.g. tag:lab, rack:R1, or * for every device)"
        )
    return Options(
        canary=canary,
        batch=batch,
        by_rack=by == "rack",
        by_outlet=by == "outlet",
        max_failures=max_failures,
        pause_after_canary=pause_after_canary,
        confirm_s=confirm_s,
        kind=kind,
        filter=filter_text,
    )


def prepare(store: Store, release_ref: str, filter_text: str, kind: str = "deploy") -> Prepared:
    """The release and the devices `filter_text` matches, its content here to send.
    Raises DeployRefused (unknown release, no device, content elsewhere), FilterError."""
    book = ReleaseBook(store)
    try:
        release = book.get(release_ref)
    except ReleaseError as e:
        raise DeployRefused(str(e)) from None
    chosen = choose(store, filter_text)
    if not chosen:
        raise DeployRefused(f"no known device matches {visible(filter_text, 80)!r}")
    try:
        book.files(release)
    except ContentError as e:
        raise DeployRefused(str(e)) from None
    return Prepared(release, chosen)


def prepare_chosen(store: Store, release_ref: str, chosen: list[Chosen]) -> Prepared:
    """`prepare` for devices already chosen (a rollback to each Pi's own previous)."""
    book = ReleaseBook(store)
    try:
        release = book.get(release_ref)
        book.files(release)
    except (ReleaseError, ContentError) as e:
        raise DeployRefused(str(e)) from None
    return Prepared(release, chosen)


async def preflight_all(store: Store, caller: DeviceCaller, ready: Prepared) -> dict[str, str]:
    """Each device's pre-flight now (what the wave would refuse): serial -> reason."""
    gate = asyncio.Semaphore(PREFLIGHT_CONCURRENCY)

    async def one(serial: str) -> tuple[str, str | None]:
        async with gate:
            return serial, await preflight_refusal(store, caller, serial, ready.release.size)

    found = await asyncio.gather(*(one(c.device.serial) for c in ready.chosen))
    return {serial: why for serial, why in found if why is not None}


async def own_previous(
    caller: DeviceCaller, name: str, chosen: list[Chosen]
) -> tuple[dict[str, list[Chosen]], dict[str, str]]:
    """`rollback NAME` without a version: each Pi goes back to the version IT ran before its
    current one (its kept versions, from the agent's `app_status`), not to one version for
    all. Returns (version -> its devices, serial -> why a device has nothing to go back to)."""
    gate = asyncio.Semaphore(PREFLIGHT_CONCURRENCY)

    async def one(c: Chosen) -> tuple[Chosen, str | None, str]:
        async with gate:
            try:
                raw = await caller.call(c.device.serial, "app_status", {"name": name}, timeout=15.0)
                status = reply(AppStatus, raw)
            except Exception as e:
                return c, None, f"unreachable: {e}"
        if status.current is None or status.current not in status.versions:
            return c, None, f"{name} is not installed"
        i = status.versions.index(status.current)
        if i == 0:
            return c, None, f"no version of {name} kept before {status.current}"
        return c, status.versions[i - 1], ""

    groups: dict[str, list[Chosen]] = {}
    nothing: dict[str, str] = {}
    for c, version, why in await asyncio.gather(*(one(c) for c in chosen)):
        if version is None:
            nothing[c.device.serial] = why
        else:
            groups.setdefault(version, []).append(c)
    return groups, nothing
