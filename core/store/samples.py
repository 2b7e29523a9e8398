"""Store: health samples (gated recording, batch imports) and reading them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleet_tui.core.records import SampleRecord
from fleet_tui.core.samples import sample_values
from fleet_tui.core.store import compaction, sample_blocks
from fleet_tui.core.store.maintenance import POKE_EVERY
from fleet_tui.core.store.schema import DAILY_ROLLUP, ROLLUP, SAMPLE_METRICS
from fleet_tui.core.store.upkeep import StoreUpkeep


class StoreSamples(StoreUpkeep):
    def record_health(self, serial: str, sample: Mapping[str, object]) -> bool:
        """Append one health sample (the agent's health JSON) if the gate keeps it.

        The poller calls this every ~2 s per device; at most one sample per device per minute
        is kept, plus every reading whose throttle flags changed or whose temperature moved
        more than 2 °C (core/samples.py, `Store.gate`). Returns whether it was kept.

        The gate lives in memory, one per Store: two Stores polling the same device each
        keep their own one-a-minute samples (more rows, never a lost or colliding one)."""
        row = sample_values(serial, sample)
        if not self.gate.keep(row):
            return False
        self._insert_samples([row])
        return True

    def record_health_many(self, items: Sequence[tuple[str, Mapping[str, object]]]) -> None:
        """Append every given sample in one transaction, ungated (imports, backfills)."""
        self._insert_samples([sample_values(serial, s) for serial, s in items])

    def _insert_samples(self, rows: list[tuple[object, ...]]) -> None:
        with self._write() as c:
            numbered = [(self._next_seq("samples"), r) for r in rows]
            if compaction.append(c, self.origin, self._ver, numbered):  # some were late
                self._hold_seq_floor("samples", numbered[-1][0])
            self._unpoked += len(rows)
            if self._unpoked >= POKE_EVERY:
                self._poke()

    def recent_samples(self, serial: str, since: float) -> list[SampleRecord]:
        """Raw samples, plus compacted hours and days (count > 1, time = the middle)."""
        metrics = [c.name for c in SAMPLE_METRICS]
        out: list[SampleRecord] = []
        with self._lock:
            raw = list(
                sample_blocks.samples(
                    self._conn,
                    "serial = ? AND bucket + ? > ?",
                    (serial, sample_blocks.BUCKET_S, since),
                )
            )
            rollups = []
            for table in (ROLLUP.name, DAILY_ROLLUP.name):
                cur = self._conn.execute(
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

    def latest_samples(self) -> dict[str, SampleRecord]:
        """The newest raw sample of every device: from each device's newest hour of blocks
        (found in the primary key's index), the record with the greatest time."""
        metrics = [c.name for c in SAMPLE_METRICS]
        with self._lock:
            newest = list(
                sample_blocks.samples(
                    self._conn,
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
