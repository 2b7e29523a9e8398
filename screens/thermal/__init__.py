"""Heat and power at a glance: `:thermal` (thermal.py, drawn by thermal_render.py), `:power`
(power.py: draw against each rack's budget) and `:policies` (policies.py). The `P` power menu
starts operations: operations/power_menu.py."""
