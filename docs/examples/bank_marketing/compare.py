"""leadflow's model against a plain logistic regression on the same columns, same periods.

    python docs/examples/bank_marketing/compare.py WAREHOUSE METRICS_JSON

METRICS_JSON is the trained version's `metrics.json` in the registry
($LEADFLOW_HOME/registry/<version>/metrics.json). The baseline is what an
analyst would fit first: one-hot channel and campaign (and with the month of submission),
scikit-learn's LogisticRegression with its defaults, on every settled inquiry submitted before the
evaluation period; both are measured on the inquiries of that period (AUC, and ECE with
the ten equal-width bins leadflow reports).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from models.train import expected_calibration_error

COLUMNS = ["channel", "campaign", "month"]
BASELINES = (COLUMNS[:2], COLUMNS)  # without the month, and with it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("metrics", type=Path)
    args = parser.parse_args()
    report = json.loads(args.metrics.read_text())
    eval_from = report["data_window"]["eval_from"]
    with duckdb.connect(str(args.warehouse), read_only=True) as connection:
        settled = connection.execute(
            "select channel, coalesce(campaign, 'none') as campaign,"
            " monthname(submitted_at) as month, submitted_at >= $eval_from as is_eval,"
            " is_converted::int as converted"
            " from fct_inquiries where is_label_mature and window_ends_at <= label_as_of",
            {"eval_from": eval_from},
        ).df()
    training, evaluation = settled[~settled["is_eval"]], settled[settled["is_eval"]]
    y = evaluation["converted"].to_numpy()
    rows = {"leadflow": (report["auc"], report["ece"])}
    for columns in BASELINES:
        baseline = Pipeline(
            [
                (
                    "onehot",
                    ColumnTransformer([("c", OneHotEncoder(handle_unknown="ignore"), columns)]),
                ),
                ("logistic", LogisticRegression(max_iter=1000)),
            ]
        ).fit(training[columns], training["converted"])
        p = baseline.predict_proba(evaluation[columns])[:, 1]
        name = "logistic regression (" + ", ".join(columns) + ")"
        rows[name] = float(roc_auc_score(y, p)), expected_calibration_error(y, p)
    print(f"evaluation period: {eval_from} to {report['data_window']['eval_to']}, "
          f"{len(evaluation)} leads, {y.mean():.1%} converted "
          f"(training: {len(training)} leads, {training['converted'].mean():.1%})")  # fmt: skip
    print(f"{'model':<48} {'AUC':>6} {'ECE':>6}")
    for name, (auc, ece) in rows.items():
        print(f"{name:<48} {auc:>6.3f} {ece:>6.3f}")
    print(json.dumps({name: {"auc": auc, "ece": ece} for name, (auc, ece) in rows.items()}))
    if len(evaluation) != report["n_eval"]:
        raise SystemExit(
            f"error: {len(evaluation)} evaluation leads here, {report['n_eval']} in the "
            "metrics: is this the warehouse that version was trained on?"
        )


if __name__ == "__main__":
    main()
