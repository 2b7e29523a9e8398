"""One device's detail (device.py): facts, live health, tabs, editing, identify and reboot,
`x` export. Opened from the fleet overview, the rack screen and `:device`."""
