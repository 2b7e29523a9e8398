"""Releases and deployments (issue 13): releases stored content-addressed beside the fleet
database, sent to Pis file by file (only what a Pi lacks), switched atomically under a dead-man
watchdog on the Pi, rolled out in waves through the operation runner."""
