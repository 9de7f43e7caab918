"""Logging set-up shared by every process: one line per record, UTC timestamps."""

from __future__ import annotations

import logging
import time


class _UTCFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def setup_logging(level: str = "INFO") -> None:
    """Configure the root logger once for a process (idempotent)."""
    root = logging.getLogger()
    if getattr(root, "_compoundeye_configured", False):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler()
    handler.setFormatter(_UTCFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    root._compoundeye_configured = True  # type: ignore[attr-defined]
