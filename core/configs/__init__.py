"""Versioned config files pushed to devices (issue 13, "Config sync").

template.py  the template language (`${device.hostname}`), rendered per device
variables.py what a template may name, from a device, its tags, rack, room and site
book.py      `config_files` (one row per config), `config_versions`, `config_pushes`
targets.py   `--to FILTER`: the fleet filter over the stored devices
desired.py   the file each device should have (rendered), ready to push
diff.py      three-way: desired, last pushed, on the device now
record.py    what each device was given, from the `config_push` operations (core/ops/config_kind.py)
reports.py   rollbacks a Pi did by itself: recorded as events once, acknowledged
"""
