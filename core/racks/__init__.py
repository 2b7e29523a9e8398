"""Racks: sites, rooms, racks of units, Pi trays of slots, other equipment, and where each
device is (core/racks/book.py writes, core/racks/layout.py is the read model screens use,
core/racks/layout_csv.py the spreadsheet a customer keeps)."""
