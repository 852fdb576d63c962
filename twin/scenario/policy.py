"""Settings of the dispatch policy and of where a run writes its outputs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from twin.scenario._base import Positive, SettingsModel

__all__ = ["OutputSettings", "PolicySettings"]


class PolicySettings(SettingsModel):
    """Dispatch policy by name, with its own parameters.

    Planning stops on its work budget (the policy's ``params``: ``solution_limit``
    for OR-Tools, ``iterations`` for PyVRP), so results never depend on the
    machine. ``time_limit_s`` is only a safety net against a runaway solve; if it
    fires, the run's warnings say so (``twin run --strict`` then exits 3).
    """

    name: str = "static"
    #: Wall-clock safety cap per solve, in seconds (default 600: far above what the
    #: shipped scenarios' budgets need on a 2-core laptop, loaded or not).
    time_limit_s: Positive = 600.0
    params: dict[str, Any] = Field(default_factory=dict)


class OutputSettings(SettingsModel):
    dir: str = "out"
    event_log_format: Literal["parquet", "csv"] = "parquet"
