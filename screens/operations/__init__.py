"""Starting and following operations: identify and reboot (actions.py), the `P` power menu
(power_menu.py), the progress lines under a table (operations_bar.py), what the app tells
when one ends (operation_news.py) and `:ops` (operations.py)."""
