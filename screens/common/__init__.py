"""What every screen builds on: the `:` command table (registry.py), what a screen may ask
of the app (context.py), news from background work (messages.py), table cells (format.py), the
keyed table, dialogs, `x` export, sparklines and a line-by-line text widget. Imports no other
package of screens."""
