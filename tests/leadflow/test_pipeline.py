"""The pipeline hands the settings to dbt: the business time zone decides every period."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from leadflow.pipeline import run_dbt
from leadflow.settings import Settings
from tests.transforms.conftest import CST, StoryWriter, encoded, landed_warehouse_of

pytestmark = pytest.mark.integration

# dim_periods and the staging models it reads, with only the tests that check those alone
PERIODS_AND_WHAT_THEY_READ = ("--select", "+dim_periods", "--indirect-selection", "cautious")


@pytest.fixture
def two_years_from_new_years_night(tmp_path: Path) -> Path:
    """A warehouse whose log starts at 00:30 on 1 January 2024 in Beijing (still 2023 in
    UTC) and runs to 2 January 2026: a visitor browses on the first night and again on the
    last day."""
    story = StoryWriter(dt.datetime(2024, 1, 1, 0, 30, tzinfo=CST))
    story.browse("anon-first-night")
    story.now = dt.datetime(2026, 1, 2, 9, 0, tzinfo=CST)
    story.browse("anon-last-day")
    return landed_warehouse_of(tmp_path / "warehouse.duckdb", encoded(story.events))


def years(warehouse: Path) -> list[tuple[object, ...]]:
    """Each year of dim_periods: label, is_partial, has_comparable_year_ago_period."""
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as connection:
        return connection.execute(
            "select period_label, is_partial, has_comparable_year_ago_period from dim_periods"
            " where period_grain = 'year' order by period_start"
        ).fetchall()


def test_periods_are_cut_in_the_configured_time_zone_and_a_stub_year_is_never_compared(
    two_years_from_new_years_night: Path, tmp_path: Path
) -> None:
    warehouse = two_years_from_new_years_night
    in_beijing = Settings(home=tmp_path / "beijing")
    in_utc = Settings(home=tmp_path / "utc", business_timezone="UTC")

    run_dbt(in_beijing, "build", PERIODS_AND_WHAT_THEY_READ, warehouse=warehouse)
    beijing_years = years(warehouse)
    run_dbt(in_utc, "build", PERIODS_AND_WHAT_THEY_READ, warehouse=warehouse)
    utc_years = years(warehouse)

    # in Beijing the log starts on 1 January: 2024 and 2025 are whole, and compared
    assert beijing_years == [("2024", False, False), ("2025", False, True), ("2026", True, False)]
    # in UTC its first half hour is a stub 2023, which 2024 is not compared with
    assert utc_years == [
        ("2023", True, False),
        ("2024", False, False),
        ("2025", False, True),
        ("2026", True, False),
    ]
