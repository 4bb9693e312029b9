"""The marketing phase in bulk: segments, fit, scoring, nurture, products and deal values."""

from __future__ import annotations

import numpy as np
from scipy import special

from funnelsim.engine.fates import Fate
from funnelsim.engine.ledger import (
    LOST_AT_SEAM,
    NOT_A_FIT,
    REASON_CODE,
    floor32,
)
from funnelsim.scenario.models import Scenario

HOURS_PER_DAY = 24.0
# The fate columns marketing needs for every lead; the rest are drawn for MQLs only.
MARKETING_FATES = (
    Fate.SEGMENT,
    Fate.FIT,
    Fate.SCORE_NOISE,
    Fate.QUALIFY,
    Fate.RESURFACE,
    Fate.RESURFACE_DELAY,
    Fate.DEAL_VALUE,
)


def run_marketing(
    scenario: Scenario,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    perfect: frozenset[int],
    rows: slice = slice(None),
) -> None:
    """Segments, fit, scoring, nurture and the deal value of the leads at ``rows`` (all
    by default; ``fates`` aligned with them), in bulk."""
    source = columns["source"][rows]
    created = columns["created"][rows]
    segment = segments_of(scenario, source, fates[Fate.SEGMENT])
    columns["segment"][rows] = segment
    fit = np.empty(len(source))
    for index, spec in enumerate(scenario.sources.values()):
        mask = source == index
        fit[mask] = np.clip(spec.fit.ppf(fates[Fate.FIT][mask]), 0.0, 1.0)
    scoring = scenario.marketing.scoring
    score = fit + scoring.noise_sd * special.ndtri(fates[Fate.SCORE_NOISE])
    is_fit = fates[Fate.QUALIFY] < fit
    mql = score >= scoring.mql_threshold
    if 1 in perfect:
        mql |= is_fit
    nurture = scenario.marketing.nurture
    resurfaced = ~mql & (fates[Fate.RESURFACE] < nurture.resurface_prob)
    resurface_time = (
        created + nurture.resurface_after_days.ppf(fates[Fate.RESURFACE_DELAY]) * HOURS_PER_DAY
    )
    mql_time = np.where(mql, created, np.where(resurfaced, resurface_time, np.nan))
    columns["mql_time"][rows] = mql_time
    columns["fit"][rows] = fit
    columns["score"][rows] = score
    columns["is_fit"][rows] = is_fit
    columns["nurtured"][rows] = ~mql
    columns["mql"][rows] = mql_time < scenario.horizon_hours
    columns["resurfaced"][rows] = resurfaced
    columns["deal_value"][rows] = by_segment(
        scenario, segment, fates[Fate.DEAL_VALUE], lambda s: s.deal_value
    )
    never_mql = ~mql & ~resurfaced
    columns["outcome"][rows][never_mql & ~is_fit] = NOT_A_FIT
    scored_out = never_mql & is_fit
    columns["outcome"][rows][scored_out] = LOST_AT_SEAM
    columns["seam"][rows][scored_out] = 1
    columns["loss_reason"][rows][scored_out] = REASON_CODE["scored_out"]
    columns["loss_time"][rows][never_mql] = floor32(created[never_mql])


def draw_products(
    scenario: Scenario,
    u: np.ndarray,
    deal_u: np.ndarray,
    columns: dict[str, np.ndarray],
    rows: slice = slice(None),
) -> np.ndarray:
    """The product and, where the product sets one, the deal value of the leads at
    ``rows``; returns their product-churn uniforms.

    ``u`` (2 x rows) are the rows' uniforms of the product stream (keyed by source and
    rank like the fates), so a scenario without products meets exactly the draws it met
    before products existed. A product's deal value is drawn at the lead's own
    deal-value uniform ``deal_u``.
    """
    product = pick_products(scenario, columns["segment"][rows], u[0])
    columns["product"][rows] = product
    deal_value = columns["deal_value"][rows]
    product_deal_values(scenario, product, deal_u, deal_value)
    return u[1]


def pick_products(scenario: Scenario, segment: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each record's product code, read off its uniform against its segment's shares."""
    products = list(scenario.products or {})
    specs = list((scenario.products or {}).values())
    order = canonical_order(products)
    shares = np.array([[specs[i].share_in(seg) for i in order] for seg in scenario.segments])
    cumulative = np.cumsum(shares, axis=1)
    cumulative /= cumulative[:, -1:]
    picked = np.empty(len(segment), dtype=np.int32)
    for code in range(len(scenario.segments)):
        mask = segment == code
        picked[mask] = np.searchsorted(cumulative[code], u[mask], side="right")
    return order[np.minimum(picked, len(products) - 1)]


def product_deal_values(
    scenario: Scenario, product: np.ndarray, deal_u: np.ndarray, deal_value: np.ndarray
) -> None:
    """Where a product sets its own deal value, draw it at the record's deal-value uniform."""
    for code, spec in enumerate((scenario.products or {}).values()):
        mask = product == code
        if spec.deal_value is not None and mask.any():
            deal_value[mask] = spec.deal_value.ppf(deal_u[mask])


def segments_of(scenario: Scenario, source: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each lead's segment code, from its source's segment mix or the global shares.

    The uniform is read against the segments in sorted name order, so the order a file
    lists them in changes no lead's segment (codes stay the listed positions).
    """
    names = list(scenario.segments)
    order = canonical_order(names)
    default = np.cumsum([scenario.segments[names[i]].share for i in order])
    segment = np.empty(len(source), dtype=np.int32)
    for index, spec in enumerate(scenario.sources.values()):
        mask = source == index
        if spec.segment_mix is None:
            cumulative = default
        else:
            cumulative = np.cumsum([spec.segment_mix.get(names[i], 0.0) for i in order])
        picked = np.searchsorted(cumulative / cumulative[-1], u[mask], side="right")
        segment[mask] = order[np.minimum(picked, len(names) - 1)]
    return segment


def canonical_order(names: list[str]) -> np.ndarray:
    """Listed positions of ``names`` in sorted order: draws by name, not by file order."""
    return np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.int32)


def by_segment(scenario: Scenario, segment: np.ndarray, u: np.ndarray, pick) -> np.ndarray:
    """Draw a per-segment distribution at uniforms ``u`` (one value per lead)."""
    out = np.zeros(len(segment))
    for code, spec in enumerate(scenario.segments.values()):
        mask = segment == code
        if mask.any():
            out[mask] = pick(spec).ppf(u[mask])
    return out


def per_segment_value(scenario: Scenario, mapping: dict, segment: np.ndarray) -> np.ndarray:
    table = np.array([mapping[name] for name in scenario.segments], dtype=float)
    return table[segment]
