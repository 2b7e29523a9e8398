"""Store: health samples (gated recording, batch imports) and reading them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from core.records import SampleRecord
from core.samples import SAMPLE_COLUMNS, sample_values
from core.schema import SAMPLE_METRICS
from core.store_maintenance import POKE_EVERY
from core.store_upkeep import StoreUpkeep


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
        sql = (
            f"INSERT INTO samples (origin, seq, {', '.join(SAMPLE_COLUMNS)}, _ver) "
            f"VALUES ({', '.join('?' for _ in range(len(SAMPLE_COLUMNS) + 3))})"
        )
        with self._write() as c:
            c.executemany(
                sql, [(self.origin, self._next_seq("samples"), *r, self._ver) for r in rows]
            )
            self._unpoked += len(rows)
            if self._unpoked >= POKE_EVERY:
                self._poke()

    def recent_samples(self, serial: str, since: float) -> list[SampleRecord]:
        """Raw samples, plus compacted buckets (count > 1, time = the bucket's middle)."""
        metrics = ", ".join(c.name for c in SAMPLE_METRICS)
        with self._lock:
            cur = self._conn.execute(
                f"SELECT serial, time, {metrics}, 1 AS count FROM samples "
                "WHERE serial = ?1 AND time >= ?2 "
                f"UNION ALL SELECT serial, bucket + bucket_s / 2.0, {metrics}, n FROM "
                "sample_rollups WHERE serial = ?1 AND bucket + bucket_s > ?2 ORDER BY 2",
                (serial, since),
            )
            names = [d[0] for d in cur.description]
            return [SampleRecord(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]
