"""The event simulator: a seeded, realistic log of inquiries and what follows (DESIGN.md §6)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from ingestion.simulation.clock import DAY, day_start
from ingestion.simulation.company import Company
from ingestion.simulation.log import EventLog
from ingestion.simulation.market import PRE_INQUIRY_DAYS, Market
from ingestion.simulation.randomness import Draws, Ids
from ingestion.simulation.world import CAMPAIGNS, build_world

# Measured at the demo scale; used only to size progress bars.
EVENTS_PER_INQUIRY = 12.7


@dataclass(frozen=True)
class SimulationReport:
    """What a simulation wrote."""

    events_written: int  # lines written to the events file, including duplicates and malformed
    valid_events: int  # distinct valid events
    duplicates: int  # extra copies of valid events (same event_id, same content)
    malformed: int  # lines that break the contract on purpose
    inquiries: int
    customers: int
    best_achievable_auc: float  # AUC of true_probability vs the simulated outcome (converted)


def estimate_events(years: float, inquiries_per_year: int) -> int:
    """Approximate number of lines `simulate` writes, to size a progress bar."""
    ad_spend = len(CAMPAIGNS) * 365
    return round(years * (inquiries_per_year * EVENTS_PER_INQUIRY + ad_spend))


def simulate(
    out: Path,
    truth_out: Path,
    *,
    seed: int = 7,
    years: float = 2.0,
    inquiries_per_year: int = 7000,
    start: dt.date = dt.date(2024, 1, 1),
    progress: Callable[[int], None] | None = None,
) -> SimulationReport:
    """Write `years` of events from `start` to `out` and the inquiries' truth to `truth_out`."""
    # `out` gets JSON Lines in arrival order (a few late, duplicated and malformed lines);
    # `truth_out` gets each inquiry's true probability and outcome, never put in an event.
    if years <= 0 or inquiries_per_year <= 0:
        raise ValueError("years and inquiries_per_year must be positive")
    event_rng, id_rng = np.random.default_rng(seed).spawn(2)
    draws, ids = Draws(event_rng), Ids(id_rng)
    days = max(1, round(years * 365))
    horizon = day_start(start + dt.timedelta(days=days))
    with out.open("wb") as events, truth_out.open("w", encoding="utf-8", newline="") as truth:
        log = EventLog(events, draws, ids, horizon=horizon, progress=progress)
        company = Company(log=log, draws=draws, ids=ids, world=build_world())
        market = Market(
            company, truth, first_day=start, days=days, inquiries_per_year=inquiries_per_year
        )
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            # Nothing emitted from today on can predate today's earliest pre-inquiry browsing.
            log.release(before=day_start(day) - (PRE_INQUIRY_DAYS + 1) * DAY)
            market.run_day(day)
        log.release()
    return SimulationReport(
        events_written=log.written,
        valid_events=log.valid,
        duplicates=log.duplicates,
        malformed=log.malformed,
        inquiries=len(market.outcomes),
        customers=company.count("customer"),
        best_achievable_auc=roc_auc(market.probabilities, market.outcomes),
    )


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve by the rank-sum formula (ties share their mean rank)."""
    values = np.asarray(scores, dtype=float)
    positive = np.asarray(labels, dtype=bool)
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        return float("nan")
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)
    mean_rank = last_rank - (counts - 1) / 2.0
    rank_sum = float(mean_rank[inverse][positive].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2.0) / (n_positive * n_negative)
