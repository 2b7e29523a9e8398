"""The fleet overview (fleet.py): its rows, columns, filter and sort (fleet_model.py, no
Textual), its table, and `:fleet` / `:device` (navigation.py)."""
