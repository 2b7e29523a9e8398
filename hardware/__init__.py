"""The fleet-tui Pi agent: runs on the Pi, stdlib only, Python 3.9+.

Packed into a zipapp by ``core.agent_bundle`` and run as ``python3 agent-<hash>.pyz``.
"""

AGENT_VERSION = "0.1.0"
PROTOCOL_VERSION = 1
