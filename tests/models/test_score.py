"""Scoring: tiers, faithful reasons, the cold-start scorecard, batch scores and history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from models.batch import score_open_inquiries
from models.features import FACTOR_OF, FACTORS, FEATURES, build_features
from models.moments import facts_at
from models.reasons import factor_texts, reasons_json
from models.registry import load_champion
from models.scorecard import Scorecard
from models.scorer import ModelScorer, current_scorer, score_features, score_row
from models.tiers import tier_for, tiers_for

SCORED_AT = dt.datetime(2025, 6, 30, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("probability", "tier"),
    [(1.0, "A"), (0.40, "A"), (0.3999, "B"), (0.20, "B"), (0.1999, "C"), (0.10, "C"),
     (0.0999, "D"), (0.0, "D")],
)  # fmt: skip
def test_tiers_have_fixed_thresholds(probability: float, tier: str):
    assert tier_for(probability) == tier
    assert tiers_for(np.array([probability]))[0] == tier


def _open_features(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        ids = connection.execute("select inquiry_id from fct_inquiries where is_open").df()
        return build_features(
            facts_at(
                connection,
                pd.DataFrame(
                    {"inquiry_id": ids["inquiry_id"], "as_of": SCORED_AT.replace(tzinfo=None)}
                ),
            )
        )


def _scorer(trained, kind: str) -> ModelScorer | Scorecard:  # noqa: ANN001
    """The trained champion, or the cold-start scorecard."""
    if kind == "scorecard":
        return Scorecard()
    champion = load_champion(trained[1])
    return ModelScorer(champion.version, champion.model)


@pytest.mark.parametrize("scorer_kind", ["model", "scorecard"])
def test_neutralising_a_stated_reason_moves_the_score_the_stated_way(trained, scorer_kind):
    scorer = _scorer(trained, scorer_kind)
    features = _open_features(trained[0])
    reference = scorer.references
    scores = score_features(scorer, features)
    checked = 0
    for row in range(min(len(features), 60)):
        for reason in scores.reasons(features, row):
            if abs(reason["points"]) < 0.5:
                continue
            neutral = features.iloc[[row]].copy()
            for name in FEATURES:
                if FACTOR_OF[name] == reason["factor"] and name in reference:
                    neutral[name] = reference[name]
            moved = float(score_features(scorer, neutral).probability[0]) - scores.probability[row]
            # the stated direction: removing a factor that raises the score lowers it
            assert np.sign(moved) == -np.sign(reason["points"]), (row, reason)
            if scorer_kind == "model":  # exact for the additive model
                assert -100 * moved == pytest.approx(reason["points"], abs=0.06)
            checked += 1
    assert checked > 50


def test_every_score_carries_three_reasons_in_sales_terms(trained):
    warehouse, registry, _ = trained
    champion = load_champion(registry)
    features = _open_features(warehouse)
    scores = score_features(ModelScorer(champion.version, champion.model), features)

    reasons = scores.reasons(features, 0)

    assert len(reasons) == 3
    assert {r["factor"] for r in reasons} <= {f.name for f in FACTORS}
    assert all(r["direction"] in ("raises", "lowers") and r["text"] for r in reasons)
    assert abs(reasons[0]["points"]) >= abs(reasons[1]["points"]) >= abs(reasons[2]["points"])


@pytest.mark.parametrize("scorer_kind", ["model", "scorecard"])
def test_the_batch_writes_the_same_reasons_the_api_gives(trained, scorer_kind):
    scorer = _scorer(trained, scorer_kind)
    features = _open_features(trained[0])
    scores = score_features(scorer, features)

    batch = [json.loads(text) for text in reasons_json(scores, features)]

    assert len(batch) == len(features) > 50
    assert batch == [scores.reasons(features, row) for row in range(len(features))]
    assert len({reason["factor"] for reasons in batch for reason in reasons}) >= 4


def test_every_factor_is_phrased_for_sales_the_same_one_by_one_and_in_bulk(trained):
    warehouse, _, _ = trained
    features = _open_features(warehouse).iloc[:40]

    for factor in FACTORS:
        bulk = factor_texts(factor.name, features)
        one_by_one = [factor_texts(factor.name, features.iloc[[row]])[0] for row in range(40)]
        assert bulk == one_by_one
        assert all(text and "nan" not in text for text in bulk), factor.name


def test_batch_scoring_writes_every_open_inquiry_and_rescores_only_changed_ones(
    synthetic_warehouse: Path, trained
):
    scorer = current_scorer(trained[1])
    with duckdb.connect(str(synthetic_warehouse)) as connection:
        first = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        again = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        changed = connection.execute(
            "update int_inquiry_milestones_pivoted set last_ingested_at = $t "
            "where inquiry_id in (select inquiry_id from fct_inquiries where is_open limit 7)",
            {"t": dt.datetime(2030, 1, 1)},
        )
        third = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        closed = connection.execute(
            "update fct_inquiries set is_open = false "
            "where inquiry_id in (select inquiry_id from fct_inquiries where is_open limit 3)"
        )
        fourth = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        open_count = connection.execute(
            "select count(*) from fct_inquiries where is_open"
        ).fetchone()[0]
        rows = connection.execute(
            "select count(*), count(distinct inquiry_id), min(score), max(score) from lead_scores"
        ).fetchone()
        history = connection.execute("select count(*) from lead_score_history").fetchone()[0]
        reasons = json.loads(
            connection.execute("select reasons from lead_scores limit 1").fetchone()[0]
        )
    del changed, closed

    assert first.scored == open_count + 3 and first.scorer == "model"
    assert again.scored == 0 and again.unchanged == first.scored
    assert third.scored == 7
    assert fourth.removed == 3 and fourth.scored == 0
    assert rows[0] == rows[1] == open_count and 0 <= rows[2] <= rows[3] <= 100
    assert history == first.scored + 7
    assert len(reasons) == 3


def test_leads_that_arrived_before_scoring_began_get_their_arrival_score_once(
    synthetic_warehouse: Path, trained
):
    # the Team page's win rate by tier needs the tier each lead had on arrival
    scorer = current_scorer(trained[1])
    with duckdb.connect(str(synthetic_warehouse)) as connection:
        first = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        again = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        expected = connection.execute(
            "select count(*) from fct_inquiries where not is_open and submitted_at >= "
            "(select max(submitted_at) from fct_inquiries) - interval 400 days"
        ).fetchone()[0]
        arrivals = connection.execute(
            "select a.inquiry_id, a.as_of, f.submitted_at, a.probability, a.tier "
            "from lead_arrival_scores as a join fct_inquiries as f using (inquiry_id)"
        ).df()
        both = connection.execute(
            "select count(*) from lead_arrival_scores "
            "where inquiry_id in (select inquiry_id from lead_score_history)"
        ).fetchone()[0]
        one = arrivals.iloc[len(arrivals) // 2]
        facts = facts_at(
            connection, pd.DataFrame({"inquiry_id": [one["inquiry_id"]], "as_of": [one["as_of"]]})
        )
    alone = score_features(scorer, build_features(facts))

    assert first.arrivals_backfilled == len(arrivals) == expected > 0
    assert again.arrivals_backfilled == 0 and both == 0
    assert (arrivals["as_of"] - arrivals["submitted_at"] == pd.Timedelta(seconds=1)).all()
    assert alone.probability[0] == pytest.approx(one["probability"])
    assert set(arrivals["tier"]) <= {"A", "B", "C", "D"}


def test_without_a_model_scores_come_from_the_flagged_scorecard(
    synthetic_warehouse: Path, tmp_path: Path
):
    scorer = current_scorer(tmp_path / "empty-registry")
    with duckdb.connect(str(synthetic_warehouse)) as connection:
        result = score_open_inquiries(connection, scorer, scored_at=SCORED_AT)
        flags = connection.execute(
            "select distinct scorer, model_version from lead_scores"
        ).fetchall()

    assert result.scorer == "scorecard" and result.scored > 0
    assert flags == [("scorecard", "scorecard-v1")]


@pytest.mark.parametrize("scorer_kind", ["model", "scorecard"])
def test_one_inquiry_scores_the_same_alone_as_in_a_batch(trained, scorer_kind):
    # the API scores one row without a DataFrame (score_row); batches score frames
    scorer = _scorer(trained, scorer_kind)
    features = _open_features(trained[0])
    batch = score_features(scorer, features)

    for index, row in enumerate(features.to_dict("records")):
        alone = score_row(scorer, row)
        assert alone.probability == pytest.approx(batch.probability[index], abs=1e-12)
        assert (alone.score, alone.tier) == (batch.score[index], batch.tier[index])
        assert alone.reasons(row) == batch.reasons(features, index)
