"""compoundeye: surveillance-camera and door-access event pipeline (shared kernel)."""

__version__ = "0.1.0"
