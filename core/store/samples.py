"""Health samples: gated recording, batch imports, and reading them back (a service over the
Store; the blocks they are packed in: core/store/sample_blocks.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleet_tui.core.records import SampleRecord
from fleet_tui.core.store import compaction, sample_blocks
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.sample_gate import SampleGate, sample_values
from fleet_tui.core.store.schema import DAILY_ROLLUP, ROLLUP, SAMPLE_METRICS


class SampleLog:
    """The health samples of the fleet store, and the gate that decides which readings are
    kept. The gate is in-memory state of this instance: a writer that records again and
    again (the fleet service, a poll) keeps one SampleLog for as long as it runs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gate = SampleGate()  # which health readings `record` keeps

    def record(self, serial: str, sample: Mapping[str, object]) -> bool:
        """Append one health sample (the agent's health JSON) if the gate keeps it.

        The poller calls this every ~2 s per device; at most one sample per device per minute
        is kept, plus every reading whose throttle flags changed or whose temperature moved
        more than 2 °C (core/store/sample_gate.py). Returns whether it was kept.

        Two SampleLogs (two Stores, two processes) polling the same device each keep their
        own one-a-minute samples (more rows, never a lost or colliding one)."""
        row = sample_values(serial, sample)
        if not self.gate.keep(row):
            return False
        self._insert([row])
        return True

    def record_many(self, items: Sequence[tuple[str, Mapping[str, object]]]) -> None:
        """Append every given sample in one transaction, ungated (imports, backfills)."""
        self._insert([sample_values(serial, s) for serial, s in items])

    def _insert(self, rows: list[tuple[object, ...]]) -> None:
        store = self.store
        with store.write() as c:
            numbered = [(store.next_seq("samples"), r) for r in rows]
            if compaction.append(c, store.origin, store.write_version, numbered):  # some late
                store.hold_seq_floor(c, "samples", numbered[-1][0])
            store.samples_appended(len(rows))

    def recent(self, serial: str, since: float) -> list[SampleRecord]:
        """Raw samples, plus compacted hours and days (count > 1, time = the middle)."""
        metrics = [c.name for c in SAMPLE_METRICS]
        out: list[SampleRecord] = []
        with self.store.locked() as conn:
            raw = list(
                sample_blocks.samples(
                    conn,
                    "serial = ? AND bucket + ? > ?",
                    (serial, sample_blocks.BUCKET_S, since),
                )
            )
            rollups = []
            for table in (ROLLUP.name, DAILY_ROLLUP.name):
                cur = conn.execute(
                    f"SELECT serial, bucket + bucket_s / 2.0, {', '.join(metrics)}, n FROM "
                    f"{table} WHERE serial = ? AND bucket + bucket_s > ?",
                    (serial, since),
                )
                rollups += cur.fetchall()
        for s in raw:
            t = s["time"]
            if isinstance(t, int | float) and t >= since:
                out.append(
                    SampleRecord.model_validate({k: s[k] for k in ("serial", "time", *metrics)})
                )
        for r in rollups:
            out.append(
                SampleRecord(
                    serial=r[0], time=r[1], count=r[-1], **dict(zip(metrics, r[2:-1], strict=True))
                )
            )
        out.sort(key=lambda x: x.time)
        return out

    def latest(self) -> dict[str, SampleRecord]:
        """The newest raw sample of every device: from each device's newest hour of blocks
        (found in the primary key's index), the record with the greatest time."""
        metrics = [c.name for c in SAMPLE_METRICS]
        with self.store.locked() as conn:
            newest = list(
                sample_blocks.samples(
                    conn,
                    "(serial, bucket) IN (SELECT serial, max(bucket) FROM "
                    f"{sample_blocks.NAME} GROUP BY serial)",
                )
            )
        best: dict[str, dict[str, object]] = {}
        for s in newest:
            serial, t = str(s["serial"]), s["time"]
            have = best.get(serial)
            if isinstance(t, int | float) and (have is None or t >= have["time"]):  # type: ignore[operator]
                best[serial] = s
        return {
            k: SampleRecord.model_validate({f: s[f] for f in ("serial", "time", *metrics)})
            for k, s in best.items()
        }
