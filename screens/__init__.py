"""The Textual screens, grouped by job (each package's docstring says what lives in it).

common/ is what every screen builds on and imports no other package of screens; the `:`
command table is common/registry.py, and `registry.load_all()` imports every module of every
package here so that each screen registers its commands.
"""
