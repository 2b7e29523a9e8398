"""The demo's own parts of the app: only `fleet-tui demo` (fleet_tui/commands/demo.py) imports
them. The app, its backend and production core know nothing of the simulator; the demo hands
the pipeline its lab (core/fleet/lab.py) and registers its `:fault` command (fault_command)."""

DEMO_SUB_TITLE = "demo: simulated fleet"
DEMO_COMMUNITY_ENV = "FLEET_DEMO_SNMP_COMMUNITY"  # `demo --power`: its switch's community
