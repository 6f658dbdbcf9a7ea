"""As-of time: a historical import is scored as of its own clock, and backtests score and
train at any moment of the log (issue 15, point 4)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from models.backtest import backtest_scorer, score_as_of
from models.batch import score_open_inquiries
from models.clock import LIVE_WITHIN, parse_moment, scoring_clock
from models.registry import alias
from models.scorecard import Scorecard
from models.scorer import ModelScorer
from models.synthetic import write_tables
from models.train import load_labelled, train
from transforms import CONVERSION_WINDOW_DAYS

# a two-year export that ended in 2019, scored on a day years later
HISTORY_START = dt.datetime(2018, 1, 1)
HISTORY_DAYS = 730
LOG_ENDS = HISTORY_START + dt.timedelta(days=HISTORY_DAYS)
TODAY = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
BACKTEST_AT = dt.datetime(2019, 6, 30)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        write_tables(connection, inquiries=5000, days=HISTORY_DAYS, open_share=0.05, seed=3,
                     start=HISTORY_START)  # fmt: skip
    return path


def own_copy(history: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(history, tmp_path / "warehouse.duckdb"))


def test_a_historical_import_is_scored_as_of_its_newest_event_not_today(
    history: Path, tmp_path: Path
) -> None:
    with duckdb.connect(str(own_copy(history, tmp_path))) as connection:
        clock = scoring_clock(connection, TODAY)
        result = score_open_inquiries(connection, Scorecard(), scored_at=TODAY, as_of=clock.as_of)
        rows = connection.execute("select as_of, scored_at, reasons from lead_scores").fetchall()

    assert (clock.source, clock.as_of) == ("log", LOG_ENDS)
    assert result.scored == len(rows) > 0
    assert {row[0] for row in rows} == {LOG_ENDS}
    assert {row[1] for row in rows} == {TODAY.replace(tzinfo=None)}
    # every hour count in a reason is within the conversion window, not years
    # (scored at today's date they read "no contact 61503 h after submission")
    hours = [
        int(found)
        for _, _, reasons in rows
        for reason in json.loads(reasons)
        for found in re.findall(r"(\d+) h after submission", reason["text"])
    ]
    assert hours and max(hours) <= CONVERSION_WINDOW_DAYS * 24


def test_a_live_log_is_scored_now_and_as_of_is_taken_as_given(history: Path) -> None:
    with duckdb.connect(str(history), read_only=True) as connection:
        live = scoring_clock(connection, LOG_ENDS + LIVE_WITHIN - dt.timedelta(hours=1))
        asked = scoring_clock(connection, TODAY, as_of=BACKTEST_AT)

    assert live.source == "wall"
    assert live.as_of == LOG_ENDS + LIVE_WITHIN - dt.timedelta(hours=1)
    assert (asked.source, asked.as_of, asked.newest_event_at) == ("as_of", BACKTEST_AT, LOG_ENDS)


def test_as_of_reads_dates_times_and_zones_and_refuses_anything_else() -> None:
    assert parse_moment("2019-06-30") == dt.datetime(2019, 6, 30)
    assert parse_moment("2019-06-30T18:00+08:00") == dt.datetime(2019, 6, 30, 10, 0)
    with pytest.raises(ValueError, match="2024-06-30"):
        parse_moment("last tuesday")


def test_training_as_of_a_moment_learns_only_outcomes_known_then_and_is_not_promoted(
    history: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    with duckdb.connect(str(own_copy(history, tmp_path))) as connection:
        known_then = load_labelled(connection, as_of=BACKTEST_AT)
        window_ends = connection.execute(
            "select max(window_ends_at) from fct_inquiries where inquiry_id in "
            "(select unnest($ids))",
            {"ids": known_then["inquiry_id"].tolist()},
        ).fetchone()[0]
        report = train(connection, registry, as_of=BACKTEST_AT)

    assert window_ends <= BACKTEST_AT
    assert report.n_train + report.n_eval == len(known_then)
    assert report.metrics["data_as_of"] == BACKTEST_AT.isoformat()
    assert report.metrics["backtest"] is True
    assert not report.promoted and alias(registry) is None
    assert "backtest" in report.promotion_reason


def test_a_backtest_scores_the_inquiries_open_then_and_leaves_the_queue_alone(
    history: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    with duckdb.connect(str(own_copy(history, tmp_path))) as connection:
        then = train(connection, registry, as_of=BACKTEST_AT)
        train(connection, registry)  # on everything: learned from after the backtest moment
        scorer, warning = backtest_scorer(registry, BACKTEST_AT)
        queue_before = connection.execute(
            "select count(*) from information_schema.tables where table_name = 'lead_scores'"
        ).fetchone()[0]
        result = score_as_of(connection, scorer, as_of=BACKTEST_AT, scored_at=TODAY)
        again = score_as_of(connection, scorer, as_of=BACKTEST_AT, scored_at=TODAY)
        stored = connection.execute(
            "select count(*), min(as_of), max(as_of) from lead_score_backtests"
        ).fetchone()
        # open then: submitted before, inside the window, no closure and no order yet
        expected = connection.execute(
            """
            select count(*) from fct_inquiries as f
            where f.submitted_at < $t and $t < f.window_ends_at
              and not exists (select 1 from stg_sales__inquiry_closures as c
                              where c.inquiry_id = f.inquiry_id and c.closed_at < $t)
              and not exists (select 1 from stg_sales__orders as o
                              where o.inquiry_id = f.inquiry_id and o.placed_at < $t)
            """,
            {"t": BACKTEST_AT},
        ).fetchone()[0]
        queue_after = connection.execute(
            "select count(*) from information_schema.tables where table_name = 'lead_scores'"
        ).fetchone()[0]

    assert isinstance(scorer, ModelScorer) and scorer.version == then.version
    assert warning is None
    assert result.scored == again.scored == expected > 0
    assert stored == (expected, BACKTEST_AT, BACKTEST_AT)  # a rerun replaced, not added
    assert queue_before == queue_after == 0
    # the outcomes the log holds now say how those scores fared
    assert result.outcomes_known == expected
    assert result.auc is not None and result.auc > 0.6
    assert sum(tier["scored"] for tier in result.summary()["by_tier"].values()) == expected


def test_a_backtest_before_any_model_could_have_learned_uses_the_scorecard_and_says_so(
    history: Path, tmp_path: Path
) -> None:
    scorer, warning = backtest_scorer(tmp_path / "empty-registry", BACKTEST_AT)

    assert isinstance(scorer, Scorecard)
    assert warning is not None and "leadflow train --as-of 2019-06-30" in warning
