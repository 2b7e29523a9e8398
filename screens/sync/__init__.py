"""Sharing the fleet database: `:sync` (sync.py) previews and merges a peer file or host,
shows what changed (sync_report.py) and resolves conflicts (sync_keep.py)."""
