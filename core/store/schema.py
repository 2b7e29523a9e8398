"""The whole product's data model, declared once; DDL, migrations and merge SQL come from it.

Two kinds of replicated table (see DESIGN.md, "The store and its merge"):
- LWW tables: one TEXT primary key; every mutable column `c` has a clock column `c__clk`
  (an integer HLC stamp, 0 when never written); `deleted` is an LWW tombstone like any other
  column. Rowid tables: their rows are too wide for WITHOUT ROWID (overflow pages).
- Append-only tables: primary key (origin, seq) = (writer's site id as a 60-bit integer,
  writer's counter).
Both carry `_ver`: the local database version at which this replica last changed the row. It is
never merged; it is the cursor for incremental sync ("rows changed since version N").

Rules borrowed from cr-sqlite: non-null primary keys, no unique index besides them, no
AUTOINCREMENT, every column nullable or defaulted, so that a merge never violates a constraint.
Migrations are additive only: new tables and new columns, added by `ensure_schema`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

APPLICATION_ID = 0x464C5454  # "FLTT"
# 2: integer clocks, LWW tables with rowid (v1 lived one afternoon); 3: samples packed into
# hourly blocks (core/store/sample_blocks.py; v2's row-per-sample table is converted on open)
SCHEMA_VERSION = 3
CLK = "__clk"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "TEXT"  # TEXT | INTEGER | REAL
    default: str | None = None  # SQL literal for NOT NULL DEFAULT columns
    time: bool = False  # a moment (REAL, seconds since the epoch): shown to people as ISO-8601

    def ddl(self) -> str:
        if self.default is None:
            return f"{self.name} {self.type}"
        return f"{self.name} {self.type} NOT NULL DEFAULT {self.default}"


def _cols(spec: str) -> tuple[Column, ...]:
    """'name:TYPE name2 ...' -> Columns (TEXT when no type given; TIME is a REAL moment)."""
    out = []
    for item in spec.split():
        name, _, typ = item.partition(":")
        if typ == "TIME":
            out.append(Column(name, "REAL", time=True))
        else:
            out.append(Column(name, typ or "TEXT"))
    return tuple(out)


def _keyed_ddl(name: str, columns: list[Column], key: tuple[str, ...], without_rowid: bool) -> str:
    """CREATE TABLE with a composite primary key whose columns are NOT NULL."""
    body = ", ".join(f"{c.name} {c.type} NOT NULL" if c.name in key else c.ddl() for c in columns)
    tail = " WITHOUT ROWID" if without_rowid else ""
    return f"CREATE TABLE IF NOT EXISTS {name} ({body}, PRIMARY KEY ({', '.join(key)})){tail}"


@dataclass(frozen=True)
class LwwTable:
    name: str
    key: str
    columns: tuple[Column, ...]  # mutable, each with a clock; `deleted` is appended

    @property
    def value_columns(self) -> tuple[Column, ...]:
        return (*self.columns, Column("deleted", "INTEGER", "0"))

    def all_columns(self) -> list[Column]:
        cols = [Column(self.key, "TEXT")]
        for c in self.value_columns:
            cols += [c, Column(c.name + CLK, "INTEGER", "0")]
        return [*cols, Column("_ver", "INTEGER", "0")]

    def ddl(self) -> str:
        body = ", ".join(
            f"{self.key} TEXT PRIMARY KEY NOT NULL" if c.name == self.key else c.ddl()
            for c in self.all_columns()
        )
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({body})"


@dataclass(frozen=True)
class AppendTable:
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[str, ...] = ()  # column lists, e.g. "serial, time"

    def all_columns(self) -> list[Column]:
        return [
            Column("origin", "INTEGER"),
            Column("seq", "INTEGER"),
            *self.columns,
            Column("_ver", "INTEGER", "0"),
        ]

    def ddl(self) -> str:
        body = ", ".join(
            f"{c.name} {c.type} NOT NULL" if c.name in ("origin", "seq") else c.ddl()
            for c in self.all_columns()
        )
        return (
            f"CREATE TABLE IF NOT EXISTS {self.name} ({body}, PRIMARY KEY (origin, seq))"
            " WITHOUT ROWID"
        )


# clock_skew_s: the Pi's clock minus ours at its last contact (core/clock.py)
DEVICE_FIELDS = _cols(
    "hostname address port:INTEGER user model revision os_name kernel arch agent_version "
    "last_seen:TIME label notes tags mac clock_skew_s:REAL"
)

LWW_TABLES: tuple[LwwTable, ...] = (
    LwwTable("sites", "id", _cols("name address contact notes")),
    LwwTable("rooms", "id", _cols("site_id name notes")),
    # numbering: "bottom-up" (U1 at the bottom, the default) or "top-down"
    LwwTable(
        "racks",
        "id",
        _cols("room_id site_id name height_u:INTEGER power_budget_w:REAL notes numbering"),
    ),
    # A placement row is written once and only ever tombstoned: moving a device is delete +
    # new row, so concurrent moves never mix one side's rack with the other's unit. Two live
    # rows for one slot, or for one serial, are conflicts reported after a merge.
    # slot: 1..N in a tray unit, NULL for a device that takes the unit full-width; face:
    # "front" (NULL means front: rows written before faces existed) or "rear".
    LwwTable("placements", "id", _cols("serial rack_id unit:INTEGER slot:INTEGER notes face")),
    # A unit declared as a tray of `slots` Pi slots (1-16). id "<rack id>/<unit>": two
    # technicians declaring the same unit edit one row.
    LwwTable("rack_trays", "id", _cols("rack_id unit:INTEGER slots:INTEGER notes")),
    # Equipment that is not a Pi but takes rack units (switch, poe-switch, pdu, shelf, other):
    # `unit` is its lowest unit, `height_u` how many it covers.
    LwwTable("rack_items", "id", _cols("rack_id unit:INTEGER height_u:INTEGER kind label notes")),
    # A power source of one device: a PoE switch port, a PDU outlet, a relay channel on a
    # controller Pi. `item_id` is the rack item (switch or PDU) it belongs to, when placed;
    # `serial` the device it powers. Secrets are never stored: `community_env` names the
    # environment variable that holds an SNMP community. `host` is "address[:udp port]" of the
    # switch or PDU; pse_group the PoE port's PSE group (RFC 3621, 1 when unset); vendor the
    # PDU's OID table row (core/power/oids.py, "apc" when unset). SNMP v3 (snmp_version "3"):
    # the USM user and protocols, and the names of the variables holding its keys (never keys).
    LwwTable(
        "outlets",
        "id",
        _cols(
            "name kind host port:INTEGER outlet:INTEGER pin:INTEGER controller item_id serial "
            "community_env notes pse_group:INTEGER vendor snmp_version snmp_user auth_proto "
            "auth_key_env priv_proto priv_key_env state state_at:TIME"
        ),
    ),
    # A rack walkthrough (core/racks/): its answers are `audits` rows with session = id.
    LwwTable("walkthroughs", "id", _cols("rack_id who status started:TIME finished:TIME notes")),
    LwwTable("devices", "serial", DEVICE_FIELDS),
    LwwTable("host_keys", "endpoint", _cols("key serial pinned_at:TIME")),
    LwwTable("policies", "id", _cols("kind name body enabled:INTEGER")),
    # Releases (core/deploy/): id "name@version"; sha256 is the digest of its file list, the
    # files themselves live content-addressed in the `releases/` folder beside the database.
    LwwTable(
        "releases",
        "id",
        _cols("name version manifest sha256 created:TIME files:INTEGER size:INTEGER who"),
    ),
    # A rollout in waves (core/deploy/): `params` the plan (targets, waves, thresholds);
    # `control` a pause/abort asked by another process; `pid`/`pid_start`/`site` who runs it.
    LwwTable(
        "deployments",
        "id",
        _cols(
            "release_id status params created:TIME kind who site pid:INTEGER pid_start "
            "finished:TIME wave:INTEGER control message"
        ),
    ),
    # A config file pushed to devices (core/configs/): id is its name; `head` the key
    # ("origin:seq") of its current `config_versions` row; `validator` a command with `%s`
    # for the file to check, `restart` a systemd unit or a command, `mode` octal text,
    # `template` the file it was added from (for people), `keep` the backups kept on each Pi.
    LwwTable(
        "config_files",
        "id",
        _cols("path target validator head notes mode owner restart template keep:INTEGER"),
    ),
    # Every long or physical action (core/ops/): one row per operation, one per device step
    # (id "<operation id>/<serial>", so an operation's steps are one primary-key range).
    # `site`, `pid` and `pid_start` say which process runs it: one that died leaves its
    # operation "interrupted" (core/ops/journal.py), never re-run by itself.
    LwwTable(
        "operations",
        "id",
        _cols(
            "kind title params status who site pid:INTEGER pid_start created:TIME "
            "finished:TIME total:INTEGER attempt:INTEGER cancel_requested:INTEGER"
        ),
    ),
    LwwTable(
        "operation_steps",
        "id",
        _cols(
            "operation_id serial hostname status message started:TIME finished:TIME attempt:INTEGER"
        ),
    ),
)

SAMPLE_METRICS = _cols(
    "temperature_c:REAL cpu_percent:REAL throttled:INTEGER load1:REAL mem_percent:REAL "
    "disk_percent:REAL core_volts:REAL power_w:REAL fan_rpm:REAL"
)

# One sample record inside a block: the writer's sequence number, the time, the metrics.
SAMPLE_RECORD = ("seq", "time", *(c.name for c in SAMPLE_METRICS))
STRIDE = len(SAMPLE_RECORD)


@dataclass(frozen=True)
class SampleBlockTable:
    """Health samples, packed: one row per (serial, hour bucket, origin) whose `data` is a
    flat JSON array of `n` records of STRIDE values each (SAMPLE_RECORD), in write order.

    Append-only per sample, grow-only per block: only the origin writes a block, always by
    appending records, and never again once it has folded the block's hour (a late sample goes
    straight into the hour's row), so any two versions of one block are a prefix of each other
    and the merge keeps the longer one; two versions neither of which is a prefix of the other
    are reported as corruption. Why blocks: a merge moves a few thousand rows instead of one row
    per sample (SQLite inserts at most ~0.8M rows/s here; the target is 1M samples/s), and a
    year of samples is compacted block by block (core/store/compaction.py). Every sample keeps its
    own (origin, seq) identity inside its block. A rowid table: blocks run to kilobytes.
    """

    name: str = "sample_blocks"
    # `part`: a busy hour (ungated imports, flapping throttle flags) spills into further parts,
    # so no block grows past MAX_RECORDS and an append never rewrites more than a few pages
    key: tuple[str, ...] = ("serial", "bucket", "origin", "part")

    def all_columns(self) -> list[Column]:
        return [
            Column("serial", "TEXT"),
            Column("bucket", "INTEGER"),
            Column("origin", "INTEGER"),
            Column("part", "INTEGER"),
            Column("n", "INTEGER", "0"),
            Column("seq_hi", "INTEGER", "0"),  # the block's highest sequence number
            Column("data", "TEXT", "'[]'"),
            Column("_ver", "INTEGER", "0"),
        ]

    def ddl(self) -> str:
        return _keyed_ddl(self.name, self.all_columns(), self.key, without_rowid=False)

    # by age (compaction), and by origin (the next sequence number of ours)
    indexes: tuple[str, ...] = ("bucket", "origin, seq_hi")


SAMPLE_BLOCKS = SampleBlockTable()


def samples_view_ddl() -> str:
    """A read-only view with one row per sample, as schema v2 stored them: for people with
    `sqlite3 fleet.db` and for tests. The code reads blocks (core/store/sample_blocks.py)."""
    fields = ", ".join(
        f"json_extract(b.data, '$[' || (j.key + {i}) || ']') AS {name}"
        for i, name in enumerate(SAMPLE_RECORD)
        if i > 0
    )
    return (
        "CREATE VIEW IF NOT EXISTS samples AS SELECT b.origin AS origin, j.value AS seq, "
        f"b.serial AS serial, {fields}, b._ver AS _ver FROM {SAMPLE_BLOCKS.name} b, "
        f"json_each(b.data) j WHERE j.key % {STRIDE} = 0"
    )


# The row-per-sample table of schema v2: converted into blocks when a v2 file is opened, and
# when a v2 peer is merged (core/store/sample_blocks.py).
LEGACY_SAMPLES = AppendTable(
    "samples",
    (Column("serial"), Column("time", "REAL", time=True), *SAMPLE_METRICS),
    ("serial, time",),
)

APPEND_TABLES: tuple[AppendTable, ...] = (
    AppendTable("events", _cols("serial time:TIME kind message"), ("time", "serial, time")),
    # Ambient sensors (core/store/ambient.py): one row per kept reading of a named sensor
    # (hwmon temperature/humidity besides the SoC, 1-wire DS18B20) wired to the Pi `serial`.
    # `sensor` is the name the Pi reports (untrusted text); kind: temp (°C) | humidity (%RH).
    AppendTable(
        "ambient", _cols("serial time:TIME sensor kind value:REAL"), ("serial, time", "time")
    ),
    AppendTable(
        "host_key_history", _cols("endpoint serial key reason time:TIME"), ("endpoint", "serial")
    ),
    AppendTable(
        "audits",
        # who: the technician; expected/found: serials ("" for an empty slot or nothing
        # expected); scanned: the code typed or scanned, literally; face: front/rear
        _cols(
            "session rack_id unit:INTEGER slot:INTEGER expected scanned result time:TIME "
            "who found face"
        ),
        ("rack_id",),
    ),
    AppendTable(
        "deployment_steps",
        # step: preflight, send, switch, health, commit, rollback, skip; duration in seconds
        _cols("deployment_id serial step status message time:TIME duration:REAL wave:INTEGER"),
        ("deployment_id",),
    ),
    AppendTable(
        "config_versions",
        _cols("config_id content sha256 author message time:TIME"),
        ("config_id",),
    ),
    # One per device per config push or rollback (core/configs/): `version` the key of the
    # config_versions row, `content` the file as rendered for that device, `status` written /
    # unchanged / failed, `operation_id` the operation that pushed it.
    AppendTable(
        "config_pushes",
        _cols("config_id serial version sha256 content status message operation_id who time:TIME"),
        ("config_id, serial",),
    ),
)


@dataclass(frozen=True)
class RollupTable:
    """Compacted metric buckets: one row per (serial, bucket, origin of the raw samples).

    Two replicas may compact different subsets of the same origin's samples, each all of its
    samples of the bucket up to some sequence number (the digest's hi): the row covering more
    samples wins whole (ties: digest, then values), a join that every replica computes alike,
    and blocks folded into a row add only their records above its hi. See
    core/store/compaction.py.
    """

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    indexes: tuple[str, ...] = ("bucket",)  # compaction finds the oldest row by it

    def all_columns(self) -> list[Column]:
        return [
            Column("serial", "TEXT"),
            Column("bucket", "INTEGER"),
            Column("origin", "INTEGER"),
            *self.columns,
            Column("_ver", "INTEGER", "0"),
        ]

    def ddl(self) -> str:
        return _keyed_ddl(self.name, self.all_columns(), self.key, without_rowid=True)


def _rollup(name: str, bucket_s: int) -> RollupTable:
    return RollupTable(
        name,
        ("serial", "bucket", "origin"),
        (
            Column("bucket_s", "INTEGER", str(bucket_s)),
            Column("n", "INTEGER", "0"),
            Column("digest", "TEXT", "''"),
            *SAMPLE_METRICS,
        ),
    )


# Two tiers (core/store/compaction.py): hours older than two days, days older than thirty.
ROLLUP = _rollup("sample_rollups", 3600)
DAILY_ROLLUP = _rollup("sample_rollups_daily", 86400)

# Local-only tables: never merged, never sent to a peer.
LOCAL_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID",
    # One row per sync partner: our version the last upload ran up to, and the version our
    # merge of its files wrote (left out of the next upload: no echo).
    "CREATE TABLE IF NOT EXISTS sync_peers (target TEXT PRIMARY KEY NOT NULL, sent_ver INTEGER"
    " NOT NULL DEFAULT 0, echo_ver INTEGER, last_sync REAL) WITHOUT ROWID",
    # Per partner and per writing site: the highest change-set cursor already merged.
    "CREATE TABLE IF NOT EXISTS sync_seen (target TEXT NOT NULL, site TEXT NOT NULL, cursor"
    " INTEGER NOT NULL, PRIMARY KEY (target, site)) WITHOUT ROWID",
    # Per protective policy and device, where its hysteresis stands (core/policies/engine.py):
    # clear | pending (since = first reading over the threshold) | firing (since = fired).
    # Local: each laptop evaluates what it polls; its firings are merged as events.
    "CREATE TABLE IF NOT EXISTS policy_state (policy TEXT NOT NULL, serial TEXT NOT NULL,"
    " state TEXT NOT NULL, since REAL, value REAL, PRIMARY KEY (policy, serial)) WITHOUT ROWID",
)

# ---- hosts and jump hosts (discovery and connections, core/net/hosts.py) --------------------------
# Candidates that are not (yet) devices: manual adds, imports, mDNS / neighbour / jump-host
# discovery. Keyed by the canonical target "host[:port][ via jump]"; `serial` is a claim until
# an agent has answered. `site_jumps`: per site, the jump host its Pis are reached through.
HOST_TABLES: tuple[LwwTable, ...] = (
    LwwTable(
        "hosts", "id", _cols("host port:INTEGER user name jump site serial mac source added:TIME")
    ),
    LwwTable("site_jumps", "site", _cols("jump")),
)

Table = LwwTable | AppendTable | RollupTable | SampleBlockTable
IndexedTable = AppendTable | SampleBlockTable | RollupTable
_ALL_TABLES: tuple[Table, ...] = (
    *LWW_TABLES,
    *HOST_TABLES,
    *APPEND_TABLES,
    SAMPLE_BLOCKS,
    ROLLUP,
    DAILY_ROLLUP,
)
TABLES: dict[str, Table] = {t.name: t for t in _ALL_TABLES}
# (table, column) of every moment a replicated table keeps: what a report shows as a time
_KEPT: tuple[LwwTable | AppendTable, ...] = (*LWW_TABLES, *HOST_TABLES, *APPEND_TABLES)
TIME_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    (t.name, c.name) for t in _KEPT for c in t.columns if c.time
)


def schema_names(conn: sqlite3.Connection, kind: str) -> set[str]:
    """The names of every `kind` ('table', 'index', 'view') in the main schema."""
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = ?", (kind,))}


def table_columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def ensure_schema(conn: sqlite3.Connection) -> bool:
    """Create missing tables, columns and indexes. Returns True if anything changed.

    Called inside a write transaction; writes nothing when the file is already current, so
    opening an up-to-date store leaves its bytes untouched.
    """
    changed = False
    existing = schema_names(conn, "table")
    for ddl in LOCAL_DDL:
        name = ddl.split()[5]
        if name not in existing:
            conn.execute(ddl)
            changed = True
    for t in TABLES.values():
        if t.name not in existing:
            conn.execute(t.ddl())
            changed = True
            continue
        have = set(table_columns(conn, t.name))
        for c in t.all_columns():
            if c.name not in have:  # additive migration: a column added in a later version
                conn.execute(f"ALTER TABLE {t.name} ADD COLUMN {c.ddl()}")
                changed = True
    indexes = schema_names(conn, "index")
    indexed: tuple[IndexedTable, ...] = (*APPEND_TABLES, SAMPLE_BLOCKS, ROLLUP, DAILY_ROLLUP)
    for it in indexed:
        for name, ddl in index_ddl(it):
            if name not in indexes:
                conn.execute(ddl)
                changed = True
    views = schema_names(conn, "view")
    if "samples" not in views and "samples" not in existing:  # a v2 table: see migrate_v2
        conn.execute(samples_view_ddl())
        changed = True
    return changed


def index_ddl(t: IndexedTable, schema: str = "main") -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) for each secondary index of an append-only table."""
    out = []
    for cols in t.indexes:
        name = f"ix_{t.name}_{cols.replace(', ', '_')}"
        out.append((name, f"CREATE INDEX {schema}.{name} ON {t.name} ({cols})"))
    return out


def migrate_v1(conn: sqlite3.Connection) -> None:
    """v1 (text clocks and origins, WITHOUT ROWID LWW tables) -> v2: rebuild the tables."""
    from fleet_tui.core.store.hlc import Stamp

    def clk(text: object) -> int:
        if not text:
            return 0
        wall, counter, site = str(text).split("-", 2)
        return Stamp(int(wall, 16), int(counter, 16), int(site[-4:], 16) & 0x3FF).encode()

    conn.create_function("clk_v1", 1, clk, deterministic=True)
    conn.create_function("origin_v1", 1, lambda o: int(str(o)[:15], 16), deterministic=True)
    existing = schema_names(conn, "table")
    rebuilt: tuple[LwwTable | AppendTable, ...] = (*LWW_TABLES, *APPEND_TABLES, LEGACY_SAMPLES)
    for t in rebuilt:
        if t.name not in existing:
            continue
        have = set(table_columns(conn, t.name))
        conn.execute(f"ALTER TABLE {t.name} RENAME TO {t.name}_v1")
        conn.execute(t.ddl())
        cols = [c.name for c in t.all_columns() if c.name in have]
        sel = [
            f"clk_v1({c})" if c.endswith(CLK) else "origin_v1(origin)" if c == "origin" else c
            for c in cols
        ]
        conn.execute(
            f"INSERT INTO {t.name} ({', '.join(cols)}) SELECT {', '.join(sel)} FROM {t.name}_v1"
        )
        conn.execute(f"DROP TABLE {t.name}_v1")  # its indexes go with it
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_schema WHERE type='index' AND name LIKE 'ix_%'"
    ).fetchall():
        conn.execute(f"DROP INDEX {name}")  # recreated by ensure_schema
    hlc = conn.execute("SELECT value FROM meta WHERE key = 'hlc'").fetchone()
    if hlc and isinstance(hlc[0], str):
        conn.execute("UPDATE meta SET value = ? WHERE key = 'hlc'", (clk(hlc[0]),))
