"""Which events become alerts: a table of small rules, and the engine that runs it.

One module per family (:mod:`~alerts.rules.doors`, :mod:`~alerts.rules.cameras`,
:mod:`~alerts.rules.motion`, :mod:`~alerts.rules.activity`), the list of rules in
:mod:`~alerts.rules.table`, the rule shape in :mod:`~alerts.rules.base`, and the
:class:`RuleEngine` that feeds them and turns what they find into intents.
"""

from alerts.rules.base import AlertRule, AlertSpec, Cause, RuleContext
from alerts.rules.doors import DOOR_KINDS
from alerts.rules.engine import RuleEngine
from alerts.rules.table import RULES

__all__ = ["DOOR_KINDS", "RULES", "AlertRule", "AlertSpec", "Cause", "RuleContext",
           "RuleEngine"]
