"""Scoring: fixed tiers, and a `lead_scores` row for every open inquiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest

from models.features import load_inquiries
from models.registry import load_champion
from models.score import score_inquiries, score_open_inquiries, tier_for, tiers_for

CLOSE_TEN_OPEN_INQUIRIES = """
update fct_inquiries set is_open = false
where inquiry_id in (select inquiry_id from fct_inquiries where is_open limit 10)
"""


@pytest.mark.parametrize(
    ("probability", "tier"),
    [(1.0, "A"), (0.40, "A"), (0.3999, "B"), (0.20, "B"), (0.1999, "C"), (0.10, "C"),
     (0.0999, "D"), (0.0, "D")],
)  # fmt: skip
def test_tiers_have_fixed_thresholds(probability: float, tier: str):
    assert tier_for(probability) == tier
    assert tiers_for(np.array([probability]))[0] == tier


def test_scoring_writes_one_row_per_open_inquiry_with_tiers_a_to_d(
    synthetic_warehouse: Path, trained
):
    model = load_champion(trained[1])
    scored_at = dt.datetime(2025, 1, 2, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

    with duckdb.connect(str(synthetic_warehouse)) as connection:
        count = score_open_inquiries(connection, model, scored_at=scored_at)
        open_ids = {
            row[0]
            for row in connection.sql(
                "select inquiry_id from fct_inquiries where is_open"
            ).fetchall()
        }
        rows = connection.sql(
            "select inquiry_id, probability, tier, model_version, scored_at from lead_scores"
        ).fetchall()

    assert count == len(open_ids) == len(rows) > 0
    assert {row[0] for row in rows} == open_ids
    assert all(0.0 <= row[1] <= 1.0 for row in rows)
    assert {row[2] for row in rows} <= {"A", "B", "C", "D"}
    assert {row[3] for row in rows} == {model.version}
    assert {row[4] for row in rows} == {dt.datetime(2025, 1, 2, 1, 0)}  # stored as UTC


def test_rescoring_replaces_the_previous_scores(synthetic_warehouse: Path, trained):
    model = load_champion(trained[1])

    with duckdb.connect(str(synthetic_warehouse)) as connection:
        first = score_open_inquiries(connection, model, scored_at=dt.datetime(2025, 1, 1))
        connection.execute(CLOSE_TEN_OPEN_INQUIRIES)
        second = score_open_inquiries(connection, model, scored_at=dt.datetime(2025, 1, 2))
        stored = connection.sql("select count(*), min(scored_at) from lead_scores").fetchone()

    assert second == first - 10
    assert stored == (second, dt.datetime(2025, 1, 2))


def test_batch_scores_equal_scoring_the_same_rows_one_by_one(synthetic_warehouse: Path, trained):
    model = load_champion(trained[1])

    with duckdb.connect(str(synthetic_warehouse)) as connection:
        score_open_inquiries(connection, model, scored_at=dt.datetime(2025, 1, 1))
        open_inquiries = load_inquiries(connection, rows="open").head(5)
        stored = dict(connection.sql("select inquiry_id, probability from lead_scores").fetchall())

    one_by_one = [score_inquiries(model, open_inquiries.iloc[[i]])[0] for i in range(5)]
    assert one_by_one == pytest.approx([stored[i] for i in open_inquiries["inquiry_id"]])
