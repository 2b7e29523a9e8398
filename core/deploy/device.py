"""One device of a deployment: pre-flight, send what it lacks, switch, health, commit — each
step recorded (status, duration, output) before the next begins.

The switch itself is the agent's (hardware/deploy.py): it arms the dead-man watchdog, renames
the `current` link, restarts the service and runs the health check; a failing check rolls the
device back at once, a passing one waits for our commit. If we never commit (killed, lid
closed, link lost), the Pi rolls itself back at the deadline and tells us next time.
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass, field

from fleet_tui.core.deploy.agent_models import (
    AckReply,
    AppStatus,
    CommitReply,
    FinishReply,
    PutReply,
    StageReply,
    SwitchReply,
    reply,
)
from fleet_tui.core.deploy.content import ContentStore, ReleaseFiles
from fleet_tui.core.deploy.preflight import preflight_refusal
from fleet_tui.core.deploy.releases import ReleaseRecord
from fleet_tui.core.deploy.steps import DeploymentBook
from fleet_tui.core.ops.kinds import DeviceCaller, StepRefused
from fleet_tui.core.store.events import EventLog

CHUNK = 384 * 1024  # raw bytes per app_put: its base64 stays well under the agent's 1 MiB line
CALL_S = 30.0
PENDING_WAIT_S = 600.0


class DeviceFailed(Exception):
    """This device failed a step (recorded already); the message is the step's reason."""


class DeviceRefused(StepRefused):
    """Pre-flight said no; nothing was changed on the device."""


@dataclass
class Traffic:
    """What a deployment sent, for the summary and the benchmark."""

    files: int = 0
    bytes: int = 0  # content bytes sent (before base64)
    wire: int = 0  # base64 payload bytes sent
    per_device: dict[str, int] = field(default_factory=dict)


@dataclass
class DeviceJob:
    deployment_id: str
    serial: str
    hostname: str
    wave: int
    release: ReleaseRecord
    files: ReleaseFiles
    content: ContentStore
    caller: DeviceCaller
    book: DeploymentBook
    traffic: Traffic
    confirm_s: float = 30.0

    @property
    def name(self) -> str:
        return self.release.name

    @property
    def version(self) -> str:
        return self.release.version

    def _record(self, step: str, status: str, message: str, started: float) -> None:
        self.book.record_step(
            self.deployment_id,
            self.serial,
            step,
            status,
            message,
            duration=time.monotonic() - started,
            wave=self.wave,
        )

    async def _call(
        self,
        method: str,
        params: dict[str, object],
        timeout: float = CALL_S,  # noqa: ASYNC109
    ) -> object:
        return await self.caller.call(self.serial, method, params, timeout=timeout)

    async def run(self) -> str:
        """The whole pipeline; returns what happened in a few words."""
        started = time.monotonic()
        try:
            status = reply(AppStatus, await self._call("app_status", {"name": self.name}))
        except Exception as e:
            self._record("preflight", "refused", f"unreachable: {e}", started)
            raise DeviceRefused(f"unreachable: {e}") from None
        if status.pending is not None:
            status = await self.wait_pending(status)
        await self.take_reports(status)
        if status.current == self.version and status.pending is None:
            self._record("skip", "ok", f"already on {self.version}", started)
            return f"already on {self.version}"
        why = await preflight_refusal(self.book.store, self.caller, self.serial, self.files.size)
        if why is not None:
            self._record("preflight", "refused", why, started)
            raise DeviceRefused(why)
        self._record("preflight", "ok", f"on {status.current or 'nothing yet'}", started)
        await self.send()
        return await self.switch_and_commit()

    async def wait_pending(self, status: AppStatus) -> AppStatus:
        """A switch nobody committed (a laptop killed mid-deployment): its watchdog decides at
        its deadline; wait for that (bounded), then go on from what the Pi runs."""
        pending = status.pending
        deadline = (pending.deadline if pending else None) or time.time()
        limit = time.monotonic() + min(PENDING_WAIT_S, max(0.0, deadline - time.time()) + 15.0)
        while status.pending is not None and time.monotonic() < limit:
            await asyncio.sleep(0.5)
            status = reply(AppStatus, await self._call("app_status", {"name": self.name}))
        if status.pending is not None:
            raise DeviceRefused(f"a switch to {status.pending.version} still waits for its commit")
        return status

    async def take_reports(self, status: AppStatus) -> None:
        """Rollbacks the Pi did by itself since we last asked: recorded, then acknowledged."""
        if not status.reports:
            return
        for r in status.reports:
            text = (
                f"the Pi rolled back {r.from_version} to {r.to_version or 'nothing'} by itself "
                f"({r.by}): {r.reason}; {r.outcome}"
            )
            self.book.record_step(
                self.deployment_id, self.serial, "rollback", "reported", text, wave=self.wave
            )
            EventLog(self.book.store).record(self.serial, "deploy_rolled_back", text)
        reply(
            AckReply,
            await self._call("app_ack", {"name": self.name, "ids": [r.id for r in status.reports]}),
        )

    async def send(self) -> None:
        started = time.monotonic()
        entries = [f.model_dump() for f in self.files.files]
        try:
            stage = reply(
                StageReply,
                await self._call(
                    "app_stage",
                    {
                        "name": self.name,
                        "version": self.version,
                        "manifest": self.release.manifest.to_json(),
                        "files": entries,
                    },
                ),
            )
            sent_bytes = 0
            for sha in stage.missing:
                sent_bytes += await self._send_blob(sha)
            if not stage.ready:
                reply(
                    FinishReply,
                    await self._call("app_finish", {"name": self.name, "version": self.version}),
                )
        except Exception as e:
            self._record("send", "failed", str(e), started)
            raise DeviceFailed(f"send: {e}") from None
        self.traffic.files += len(stage.missing)
        self.traffic.per_device[self.serial] = sent_bytes
        self._record(
            "send",
            "ok",
            f"{len(stage.missing)} of {len(self.files.files)} files sent ({sent_bytes} bytes), "
            f"{stage.reused} already on the Pi",
            started,
        )

    async def _send_blob(self, sha: str) -> int:
        size = self.content.blob(sha).stat().st_size
        offset = 0
        while True:
            data = self.content.read(sha, offset, CHUNK)
            last = offset + len(data) >= size
            encoded = base64.b64encode(data).decode("ascii")
            got = reply(
                PutReply,
                await self._call(
                    "app_put",
                    {
                        "name": self.name,
                        "version": self.version,
                        "sha256": sha,
                        "offset": offset,
                        "data": encoded,
                        "last": last,
                    },
                ),
            )
            self.traffic.bytes += len(data)
            self.traffic.wire += len(encoded)
            offset = got.received
            if last:
                return size

    async def _switch(self) -> SwitchReply:
        deadline = self.release.manifest.health.deadline_s
        return reply(
            SwitchReply,
            await self._call(
                "app_switch",
                {"name": self.name, "version": self.version, "confirm_s": self.confirm_s},
                timeout=deadline * 2 + 60,
            ),
        )

    async def _switch_after_orphan(self, refused: Exception) -> SwitchReply:
        """The switch was refused: if a switch nobody here asked for waits for its commit (a
        laptop killed mid-request, whose agent carried on after the SSH session ended), wait
        for its watchdog's verdict (bounded), record it, and switch once more."""
        try:
            status = reply(AppStatus, await self._call("app_status", {"name": self.name}))
        except Exception:
            raise refused from None
        if status.pending is None:
            raise refused
        status = await self.wait_pending(status)
        await self.take_reports(status)
        return await self._switch()

    async def switch_and_commit(self) -> str:
        started = time.monotonic()
        try:
            try:
                sw = await self._switch()
            except Exception as e:
                sw = await self._switch_after_orphan(e)
        except Exception as e:
            self._record("switch", "failed", str(e), started)
            raise DeviceFailed(f"switch: {e}") from None
        if sw.already:
            self._record("skip", "ok", f"already on {self.version}", started)
            return f"already on {self.version}"
        self._record(
            "switch", "ok", f"{sw.previous or 'nothing'} → {self.version} ({sw.service})", started
        )
        if not sw.healthy:
            self._record("health", "failed", sw.health, started)
            rb = sw.rolled_back
            if rb is not None:
                self._record(
                    "rollback",
                    "ok",
                    f"back on {rb.to_version or 'nothing'}: {rb.reason}; {rb.outcome}",
                    started,
                )
                reply(AckReply, await self._call("app_ack", {"name": self.name, "ids": [rb.id]}))
            raise DeviceFailed(
                f"health check failed, rolled back to {sw.previous or 'nothing'}: {sw.health}"
            )
        self._record("health", "ok", sw.health, started)
        started = time.monotonic()
        try:
            done = reply(
                CommitReply,
                await self._call(
                    "app_commit", {"name": self.name, "version": self.version, "token": sw.token}
                ),
            )
        except Exception as e:
            self._record("commit", "failed", str(e), started)
            raise DeviceFailed(f"commit: {e}") from None
        pruned = f"; removed {', '.join(done.pruned)}" if done.pruned else ""
        self._record(
            "commit", "ok", f"on {self.version}; kept {', '.join(done.kept)}{pruned}", started
        )
        return f"on {self.version}"
