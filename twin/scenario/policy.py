"""Settings of the dispatch policy and of where a run writes its outputs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from twin.scenario._base import Positive, SettingsModel

__all__ = ["OutputSettings", "PolicySettings"]


class PolicySettings(SettingsModel):
    """Dispatch policy by name, with its own parameters."""

    name: str = "static"
    time_limit_s: Positive = 10.0
    params: dict[str, Any] = Field(default_factory=dict)


class OutputSettings(SettingsModel):
    dir: str = "out"
    event_log_format: Literal["parquet", "csv"] = "parquet"
