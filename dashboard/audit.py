"""Recording who did what through the store's audit trail."""

from __future__ import annotations

import logging
from typing import Any

from dashboard.state import AppState

log = logging.getLogger(__name__)


def record_audit(state: AppState, actor: str, role: str, action: str, target: str,
                 details: dict[str, Any], ip: str | None) -> None:
    """Append one audit entry (raises if the store cannot take it: no silent loss)."""
    state.store.audit.record(actor=actor, role=role, action=action, target=target,
                             details=details, ip=ip)
