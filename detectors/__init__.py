"""Detection logic with no I/O: pure, stateful objects that take frames or events.

This package imports nothing from the rest of compoundeye; it gets plain data.
"""
