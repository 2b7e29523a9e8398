"""How a technician finds and runs commands: the `:` prompt (command_line.py), the ctrl+p
palette (commands.py) and `?` help (help.py). The command table itself is common/registry.py."""
