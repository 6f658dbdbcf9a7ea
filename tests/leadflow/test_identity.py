"""`leadflow identity train | evaluate`, run as the data team runs them (the CLI, a child
process, a real warehouse and the real dbt project)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.transforms.conftest import (
    buyer_stories,
    encoded,
    identity_stories,
    landed_warehouse_of,
    simulated_lines,
)


def leadflow(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a CLI verb with LEADFLOW_HOME=home."""
    env = {**os.environ, "LEADFLOW_HOME": str(home)}
    env.pop("LEADFLOW_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.integration
def test_identity_train_fits_a_model_on_the_warehouse_contacts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    lines = simulated_lines(tmp_path) + encoded(buyer_stories() + identity_stories())
    landed_warehouse_of(home / "warehouse.duckdb", lines)
    model_path = tmp_path / "model.json"

    done = leadflow(home, "identity", "train", "--out", str(model_path))

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    model = json.loads(model_path.read_text())
    assert report["model"] == str(model_path)
    assert report["records"] == model["leadflow"]["trained_on_records"] > 300
    # agreeing on a key is evidence for, disagreeing evidence against, never a veto
    for comparison in ("email", "phone"):
        weights = list(report["match_weights"][comparison].values())
        assert weights[0] > 5 and -10 < weights[-1] < 0, (comparison, weights)


def test_identity_train_without_a_warehouse_says_what_to_do(tmp_path: Path) -> None:
    done = leadflow(tmp_path, "identity", "train")

    assert done.returncode == 1
    assert "no warehouse" in done.stderr and "leadflow demo" in done.stderr


def test_identity_evaluate_scores_resolved_customers_against_the_true_buyers(
    tmp_path: Path,
) -> None:
    # b1's three inquiries: two under c1, one split off to c2; b2's inquiry merged into c1
    with contextlib.closing(duckdb.connect(str(tmp_path / "warehouse.duckdb"))) as db:
        db.execute("create table fct_inquiries (inquiry_id varchar, customer_id varchar)")
        db.execute(
            "insert into fct_inquiries values"
            " ('i1', 'c1'), ('i2', 'c1'), ('i3', 'c2'), ('i4', 'c1'), ('i5', 'c3')"
        )
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "inquiry_id,true_probability,converted,buyer_id\n"
        "i1,0.5,1,b1\ni2,0.5,0,b1\ni3,0.5,0,b1\ni4,0.5,0,b2\ni5,0.5,0,b3\n"
    )

    done = leadflow(tmp_path, "identity", "evaluate")

    assert done.returncode == 0, done.stderr[-3000:]
    # pairs under one customer: (i1,i2) (i1,i4) (i2,i4), of which (i1,i2) is one buyer;
    # pairs of one buyer: (i1,i2) (i1,i3) (i2,i3)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "inquiries": 5,
        "buyers": 3,
        "customers": 3,
        "precision": round(1 / 3, 4),
        "recall": round(1 / 3, 4),
        "split_buyers": 1,
        "merged_customers": 1,
    }


def test_identity_evaluate_refuses_a_file_that_is_not_a_truth_file(tmp_path: Path) -> None:
    (tmp_path / "warehouse.duckdb").touch()
    other = tmp_path / "other.csv"
    other.write_text("inquiry_id,score\ni1,0.3\n")

    done = leadflow(tmp_path, "identity", "evaluate", "--truth", str(other))

    assert done.returncode == 1
    assert "no inquiry_id and buyer_id columns" in done.stderr
