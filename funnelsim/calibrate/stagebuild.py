"""The fitted sales stages written into the calibrated scenario's ``sales.stages``.

Per stage and segment: the chance of moving on and the days in the stage, the segment's
own fit where it saw at least ``MIN_SEGMENT`` deals leave the stage, else the pooled one
(said in the comment); no stalls (the fitted days include them); and the CRM's weight,
the pooled chance of winning from the stage.
"""

from __future__ import annotations

from typing import Any

from funnelsim.calibrate.fitdist import _round
from funnelsim.calibrate.fitting import MIN_SEGMENT, Fitted
from funnelsim.calibrate.salesfit import SalesStageFit

INSTANT = {"dist": "fixed", "value": 0.0}


def write_stages(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> None:
    """``sales.stages`` from the fitted stages (nothing when the export has none)."""
    sales = fitted.sales
    if sales is None:
        return
    stages: dict[str, Any] = {}
    for k, name in enumerate(sales.names):
        pooled = sales.pooled[k]
        path = f"sales.stages.{name}"
        advance, days = {}, {}
        for segment in data["segments"]:
            own = sales.by_segment.get(segment, [None] * len(sales.names))[k]
            chance = own if own is not None and own.exits >= MIN_SEGMENT else pooled
            timed = own if chance is own and own.time is not None else pooled
            advance[segment] = _round(chance.conversion) if chance.exits else 0.0
            days[segment] = timed.time.spec if timed.time is not None else INSTANT
            prov[f"{path}.advance.{segment}"] = _advance_note(chance, segment)
            prov[f"{path}.days.{segment}"] = _days_note(timed, segment)
        weight = sales.weights[k]
        stages[name] = {
            "advance": advance,
            "days": days,
            "stall": {"prob": 0.0},
            "weight": _round(weight) if weight == weight else None,
        }
        prov[f"{path}.stall"] = "none: the fitted days in the stage include any stall"
        prov[f"{path}.weight"] = (
            "fitted: the chance of winning from this stage (product of the pooled chances "
            "of moving on from it), the CRM stage weight"
        )
    data["sales"]["stages"] = stages
    prov["sales.win_rate"] = prov.get("sales.win_rate", "") + "; not used: sales.stages decide"
    prov["sales.cycle_days"] = prov.get("sales.cycle_days", "") + "; not used: sales.stages decide"


def _where(fit: SalesStageFit, segment: str) -> str:
    return "" if fit.segment == segment else f" (pooled: fewer than {MIN_SEGMENT} left it here)"


def _advance_note(fit: SalesStageFit, segment: str) -> str:
    low, high = fit.ci
    return (
        f"{segment}: fitted{_where(fit, segment)}: {fit.moved_on} moved on / {fit.lost} lost, "
        f"{fit.still_open} still in it; {fit.conversion:.3f} (95% Wilson {low:.3f}-{high:.3f})"
    )


def _days_note(fit: SalesStageFit, segment: str) -> str:
    if fit.time is None:
        return "no deal has left this stage yet: instant (not estimable)"
    how = fit.time.note or f"{fit.time.family} by AIC"
    low, high = fit.median_ci
    return (
        f"{segment}: fitted{_where(fit, segment)}: days in stage of {fit.exits} that left it, "
        f"{fit.still_open} still in it censored; {how}; Kaplan-Meier median "
        f"{fit.median_days:.1f} days (95% CI {low:.1f}-{high:.1f})"
    )
