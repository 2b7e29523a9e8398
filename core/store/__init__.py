"""The local fleet database: one SQLite file per technician, and everything in it.

`Store` (database.py) is the file: transactions, clocks, sequence numbers, upkeep and the
generic table API. Services over it, one per domain: `DeviceBook` (devices.py), `EventLog`
(events.py), `SampleLog` (samples.py); more live beside their domain (core/net/, core/sync/).
"""
