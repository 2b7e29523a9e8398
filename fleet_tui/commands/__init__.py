"""Subcommands of `fleet-tui`: each module here defines `register(subparsers)`.

The CLI discovers the modules by name so that each area (hosts, store, deploy, …) owns its
own file and nobody edits a central list.
"""
