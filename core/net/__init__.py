"""Reaching a Pi: host specs, routes and jump hosts, SSH with pinned keys, the connection pool."""
