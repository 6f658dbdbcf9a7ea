"""Training: time split, label delay, metrics against truth and baseline, cold start."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pytest

from models.errors import NotEnoughLabelsError
from models.registry import CARD_FILE, CHAMPION_FILE, METRICS_FILE, MODEL_FILE, load_version
from models.synthetic import write_tables
from models.train import (
    TrainReport,
    expected_calibration_error,
    load_labelled,
    split_by_time,
    train,
)


def test_time_split_puts_every_evaluation_inquiry_after_every_training_inquiry(trained):
    warehouse, _, _ = trained
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        labelled = load_labelled(connection)

    earlier, later = split_by_time(labelled, eval_fraction=0.25)

    assert earlier["submitted_at"].max() < later["submitted_at"].min()
    assert len(earlier) + len(later) == len(labelled)


def test_training_writes_a_version_named_by_the_hash_with_metrics_and_a_model_card(trained):
    _, registry, report = trained
    version_dir = registry / report.version

    assert (registry / CHAMPION_FILE).read_text().strip() == report.version
    assert (version_dir / MODEL_FILE).exists() and (version_dir / METRICS_FILE).exists()
    card = (version_dir / CARD_FILE).read_text()
    for heading in ("## What the score means", "## How it was tested", "## Known limits"):
        assert heading in card
    metrics = json.loads((version_dir / METRICS_FILE).read_text())
    assert metrics["data_window"]["train_to"] < metrics["data_window"]["eval_from"]
    assert set(metrics["features"]["categorical"]) >= {"channel", "handler_id", "sku"}


def test_train_reports_every_acceptance_figure_against_truth_and_baseline(trained):
    _, _, report = trained
    summary = report.summary()

    for key in ("auc", "best_achievable_auc", "auc_ratio", "baseline_auc", "ece",
                "top_decile_lift", "pr_auc", "brier"):  # fmt: skip
        assert isinstance(summary[key], float), key
    assert set(summary["truth"]) == set(summary["baseline"]) == {
        "auc", "pr_auc", "brier", "ece", "top_decile_lift"
    }  # fmt: skip
    # everything that drives conversion is observable in the synthetic data, so the model
    # gets close to the truth, well above the two-feature baseline, and is calibrated
    assert summary["auc_ratio"] >= 0.95
    assert summary["auc"] > summary["baseline_auc"] + 0.02
    assert summary["ece"] <= 0.04
    assert summary["top_decile_lift"] > 2.0


def test_expected_calibration_error_is_zero_for_honest_and_large_for_overconfident_scores():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    y = (rng.random(p.size) < p).astype(int)

    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p * 1.6, 0, 1)) > 0.1


def test_young_open_inquiries_are_never_used_as_negatives(trained):
    warehouse, _, report = trained
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        labelled = set(load_labelled(connection)["inquiry_id"])
        young_open = {
            row[0]
            for row in connection.execute(
                "select inquiry_id from fct_inquiries where is_open and not is_label_mature"
            ).fetchall()
        }

    assert young_open and not (young_open & labelled)
    assert report.n_train + report.n_eval + report.metrics["n_set_aside"] == len(labelled)


def test_inquiries_that_resolved_before_their_window_ended_are_set_aside(trained):
    # among inquiries younger than the window only the early-resolved ones have a label, and
    # they convert more often than their cohort: evaluating on them would flatter nobody
    warehouse, _, report = trained
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        labelled = load_labelled(connection)
    young = labelled[~labelled["is_window_over"]]

    assert len(young) == report.metrics["n_set_aside"] > 0
    assert report.metrics["data_window"]["eval_to"] < young["submitted_at"].min().isoformat()


def test_cold_start_refuses_to_train_and_says_why(warehouse_of, tmp_path: Path):
    warehouse = warehouse_of(250)

    with (
        duckdb.connect(str(warehouse)) as connection,
        pytest.raises(NotEnoughLabelsError, match="at least 300 labelled") as refused,
    ):
        train(connection, tmp_path / "registry")

    assert "scorecard" in str(refused.value)
    assert not (tmp_path / "registry" / CHAMPION_FILE).exists()


def test_the_cold_start_thresholds_are_configurable(warehouse_of, tmp_path: Path):
    warehouse = warehouse_of(2000)

    with (
        duckdb.connect(str(warehouse)) as connection,
        pytest.raises(NotEnoughLabelsError, match="5000 conversions"),
    ):
        train(connection, tmp_path / "registry", min_conversions=5000)


# --- honest probabilities on data the simulator does not make ----------------------------


def _train_world(
    tmp_path: Path, shift: Callable[[np.ndarray], np.ndarray], *, inquiries: int, days: int = 720
) -> TrainReport:
    with duckdb.connect(str(tmp_path / "world.duckdb")) as connection:
        write_tables(
            connection,
            inquiries=inquiries,
            days=days,
            open_share=0.03,
            seed=0,
            base_rate_shift=shift,
        )
        return train(connection, tmp_path / "registry")


def test_in_a_market_whose_base_rate_drifts_the_shipped_model_stays_calibrated(tmp_path: Path):
    # what a real export showed: 7 % converted while fitting, 13 % while validating, 9 %
    # when evaluated; calibrating the held-out model and carrying that onto the refitted one
    # had an evaluation ECE of 0.14 there (0.05-0.07 on this world)
    def drift(months: np.ndarray) -> np.ndarray:
        return np.select([months < 12.4, months < 15.5], [-1.18, -0.45], -0.82)

    report = _train_world(tmp_path, drift, inquiries=20_000)
    summary = report.summary()

    assert summary["ece"] <= 0.03
    assert summary["ece"] <= summary["baseline"]["ece"]
    assert summary["calibration_method"] == "platt" and report.metrics["calibration_blocks"] >= 3
    assert len(summary["reliability"]) == 10
    assert (
        abs(sum(c["n"] * (c["predicted"] - c["converted"]) for c in summary["reliability"]))
        / sum(c["n"] for c in summary["reliability"])
        < 0.01
    )  # no systematic over-prediction


def test_a_model_whose_probabilities_are_off_stays_challenger_and_its_card_says_so(
    tmp_path: Path,
):
    # the market turns: three times the conversions after the training period
    report = _train_world(
        tmp_path, lambda months: np.where(months < 15.5, -1.5, 0.6), inquiries=6000
    )
    card = (tmp_path / "registry" / report.version / CARD_FILE).read_text()

    assert report.metrics["ece"] > 0.05
    assert not report.promoted and "ECE" in report.promotion_reason
    assert "`leadflow model promote`" in report.promotion_reason
    assert not (tmp_path / "registry" / CHAMPION_FILE).exists()
    assert report.champion is None and report.summary()["champion"] is None
    assert "**The probabilities are not calibrated on the test period**" in card


def test_the_card_calls_probabilities_calibrated_only_when_they_are(trained):
    _, registry, report = trained
    card = (registry / report.version / CARD_FILE).read_text()

    assert report.metrics["ece"] <= 0.03
    assert "The probabilities are calibrated (expected calibration error" in card
    assert "Reliability on the test period" in card


def test_a_month_seen_in_one_year_only_teaches_no_seasonal_effect(tmp_path: Path):
    # two years of exports, of which training sees January 2024 to March 2025: July to
    # December only in 2024, a half-year in which few converted (the export missed most
    # wins), and March, which converts more, in both years
    def coverage(months: np.ndarray) -> np.ndarray:
        month_of_year = np.floor(months).astype(int) % 12
        one_year_gap = np.where((months >= 6) & (months < 12), -1.5, 0.0)
        return one_year_gap + np.where(month_of_year == 2, 1.0, 0.0)

    report = _train_world(tmp_path, coverage, inquiries=10_000, days=720)
    model = load_version(tmp_path / "registry", report.version).model
    months = model.levels["submitted_month"].tolist()

    assert not {"7", "8", "9", "10", "11", "12"} & set(months)
    assert "3" in months  # seen in both years: March keeps its effect
    ordinary = model.reference_features()
    logit = {
        month: float(model.logits(ordinary.assign(submitted_month=month))[0])
        for month in ("8", "11", "99", "3")
    }
    assert logit["8"] == logit["11"] == logit["99"]  # no effect: what an unseen month gets
    assert logit["3"] > logit["8"] + 0.3
    assert report.n_train > 0
