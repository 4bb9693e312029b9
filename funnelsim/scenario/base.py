"""Shared pieces of the scenario spec: the strict frozen base model and common types."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Probability = float
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SEGMENTS = ("smb", "mid_market", "enterprise")
Routing = Literal["round_robin", "least_loaded", "by_segment", "pooled"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
