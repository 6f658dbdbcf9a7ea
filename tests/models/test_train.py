"""Training: a time split, a versioned skops artefact with its model card, clear refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from models.errors import ModelError, NotEnoughLabelsError
from models.registry import CHAMPION_FILE, METRICS_FILE, MODEL_FILE
from models.train import split_by_time, train


def test_time_split_puts_every_evaluation_inquiry_after_every_training_inquiry(synthetic):
    labelled = synthetic[0][lambda frame: frame["is_label_mature"]]

    training, evaluation = split_by_time(labelled, eval_fraction=0.25)

    assert training["submitted_at"].max() < evaluation["submitted_at"].min()
    assert set(training["inquiry_id"]).isdisjoint(evaluation["inquiry_id"])
    assert len(training) + len(evaluation) == len(labelled)
    assert len(evaluation) == pytest.approx(0.25 * len(labelled), rel=0.02)


def test_training_writes_a_version_directory_named_by_the_hash_of_its_skops_file(trained):
    _, registry, report = trained

    model_bytes = (registry / report.version / MODEL_FILE).read_bytes()

    assert hashlib.sha256(model_bytes).hexdigest()[:12] == report.version
    assert (registry / CHAMPION_FILE).read_text().strip() == report.version
    assert sorted(p.name for p in (registry / report.version).iterdir()) == sorted(
        [MODEL_FILE, METRICS_FILE]
    )
    assert not [p for p in registry.rglob("*") if p.suffix in {".pkl", ".pickle", ".joblib"}]


def test_model_card_records_the_evaluation_and_the_data_window(trained):
    _, registry, report = trained

    card = json.loads((registry / report.version / METRICS_FILE).read_text())

    assert card["version"] == report.version
    assert card["auc"] == report.auc
    assert card["n_train"] == report.n_train and card["n_eval"] == report.n_eval
    assert card["data_window"]["train_to"] < card["data_window"]["eval_from"]
    assert "channel" in card["features"]["categorical"]
    assert not {"outcome", "closed_at", "order_amount"} & set(
        card["features"]["categorical"] + card["features"]["numeric"]
    )
    assert 0 < card["positive_rate_eval"] < 1
    assert set(card["tiers_eval"]) == {"A", "B", "C", "D"}


def test_model_ranks_later_inquiries_well_and_near_the_best_achievable(trained):
    _, _, report = trained

    assert report.auc > 0.65
    assert report.best_achievable_auc is not None
    assert report.auc > report.best_achievable_auc - 0.08


def test_training_refuses_when_there_are_too_few_labelled_inquiries(
    tmp_path: Path, synthetic, warehouse_of
):
    warehouse = warehouse_of(synthetic[0].head(150))

    with (
        duckdb.connect(str(warehouse)) as connection,
        pytest.raises(NotEnoughLabelsError, match="leadflow train"),
    ):
        train(connection, tmp_path / "registry")
    assert not (tmp_path / "registry").exists()


def test_training_refuses_when_no_inquiry_converted(tmp_path: Path, synthetic, warehouse_of):
    warehouse = warehouse_of(synthetic[0].assign(is_converted=False))

    with (
        duckdb.connect(str(warehouse)) as connection,
        pytest.raises(NotEnoughLabelsError, match="0 converted"),
    ):
        train(connection, tmp_path / "registry")


def test_best_achievable_auc_is_measured_on_the_evaluation_inquiries(
    tmp_path: Path, trained, synthetic
):
    warehouse, _, report = trained
    truth = synthetic[1]
    oracle_path = tmp_path / "oracle.csv"
    truth.assign(true_probability=truth["converted"].astype(float)).to_csv(oracle_path, index=False)

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        oracle = train(connection, tmp_path / "registry", truth_path=oracle_path)

    # the simulator's own outcomes rank the warehouse labels of the evaluation rows perfectly
    assert oracle.best_achievable_auc == pytest.approx(1.0)
    assert oracle.n_eval == report.n_eval


def test_training_says_what_is_wrong_with_a_truth_file_of_another_simulation(
    tmp_path: Path, trained
):
    warehouse, _, _ = trained
    other = tmp_path / "other.csv"
    pd.DataFrame({"inquiry_id": ["x-1"], "true_probability": [0.5], "converted": [True]}).to_csv(
        other, index=False
    )

    with (
        duckdb.connect(str(warehouse), read_only=True) as connection,
        pytest.raises(ModelError, match="truth file of the simulation"),
    ):
        train(connection, tmp_path / "registry", truth_path=other)


def test_young_open_inquiries_are_never_used_as_negatives(synthetic, trained):
    frame = synthetic[0]
    young_open = frame[~frame["is_label_mature"]]
    _, _, report = trained

    # younger than the 90-day window, neither converted nor closed: they look like negatives
    assert len(young_open) > 50 and not young_open["is_converted"].any()
    assert young_open["is_open"].all()
    assert report.n_train + report.n_eval == int(frame["is_label_mature"].sum())
