"""The local fleet database: one SQLite file per technician, and everything in it."""
