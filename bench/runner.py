"""``compoundeye bench NAME``: run one benchmark and print its figures.

Each benchmark is a module ``bench.<name>`` with ``measure(quick: bool) -> BenchResult``.
It measures its own baseline in the same run, so the ratio compares like with like.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

BENCHMARKS = ("decode", "motion", "bus", "export", "search", "ops", "live", "record",
              "scale")


@dataclass
class BenchResult:
    """One benchmark's outcome; ``ratio`` above 1 always means better than the baseline."""

    name: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    ratio: float
    target: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_value": self.baseline_value,
            "ratio": self.ratio,
            "target_ratio": self.target,
            "meets_target": None if self.target is None else self.ratio >= self.target,
        }
        out.update(self.extra)
        return out


def run(args: argparse.Namespace) -> int:
    """Run the named benchmark; with ``--json`` the last line is one JSON object."""
    if args.name not in BENCHMARKS:
        sys.stderr.write(f"unknown benchmark {args.name!r}; choose from {', '.join(BENCHMARKS)}\n")
        return 2
    module = importlib.import_module(f"bench.{args.name}")
    result: BenchResult = module.measure(quick=args.quick)
    summary = result.as_dict()
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        sys.stdout.write(f"{key:<{width}}  {value}\n")
    if args.json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    return 0
