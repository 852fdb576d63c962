"""What results look like when written: JSON-ready values and the store's rows.

Kept apart from the code that runs things so that every writer (the CLI, the
reports, the sweep's store) writes the same shapes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from twin.experiment.runs import RunOutcome
from twin.metrics import KPI_NAMES

__all__ = ["json_safe", "run_row"]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def run_row(outcome: RunOutcome) -> dict[str, Any]:
    """One run as a row of the result store: its id, its columns (variant,
    factors, ...), the policy, every KPI (NaN where a run has none, so every row
    has the same columns), digests and where and how long it ran."""
    spec = outcome.spec
    return {
        "run_id": spec.run_id,
        **spec.columns,
        "policy": spec.policy.name,
        "policy_label": spec.policy.key,
        "params": json.dumps(dict(spec.policy.params), sort_keys=True),
        "replication": spec.replication,
        **{k: outcome.kpis.get(k, math.nan) for k in KPI_NAMES},
        **{k: v for k, v in sorted(outcome.kpis.items()) if k not in KPI_NAMES},
        "event_log_digest": outcome.event_log_digest,
        "demand_digest": outcome.demand_digest,
        "wall_s": outcome.wall_s,
        "hostname": outcome.hostname,
        "pid": outcome.pid,
    }
