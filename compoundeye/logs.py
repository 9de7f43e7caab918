"""Logging set-up shared by every process: one line per record, UTC timestamps, and
every secret masked (:func:`compoundeye.redact.redact_text` over the whole line, traceback
included), whichever library wrote the record."""

from __future__ import annotations

import logging
import time

from compoundeye.redact import redact_text


class _UTCFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))

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
