"""Racks: `:racks` (racks.py), one rack's elevation (`:rack NAME`, rack.py, drawn by
rack_view.py from rack_model.py), placing a device (rack_picker.py), its outlet
(outlet_dialog.py) and `:walk RACK` (walkthrough.py)."""
