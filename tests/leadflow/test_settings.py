"""The settings: business time and currency, validated when leadflow starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from leadflow.settings import Settings


def test_the_company_lives_in_beijing_time_and_counts_in_yuan_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEADFLOW_BUSINESS_TIMEZONE", raising=False)
    monkeypatch.delenv("LEADFLOW_CURRENCY", raising=False)

    settings = Settings()

    assert settings.dbt_vars == {"business_timezone": "Asia/Shanghai", "currency": "CNY"}


def test_the_time_zone_and_currency_come_from_the_environment_and_reach_dbt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADFLOW_BUSINESS_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("LEADFLOW_CURRENCY", "EUR")

    settings = Settings()

    assert settings.dbt_vars == {"business_timezone": "Europe/Berlin", "currency": "EUR"}


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia/Beijing", "+08:00", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused_naming_it(zone: str) -> None:
    with pytest.raises(ValidationError, match="is not a time zone"):
        Settings(business_timezone=zone)


@pytest.mark.parametrize("currency", ["cny", "RMB¥", "US", "'; drop table x; --"])
def test_a_currency_that_is_not_an_iso_code_is_refused(currency: str) -> None:
    with pytest.raises(ValidationError, match="a currency is its ISO 4217 code"):
        Settings(currency=currency)


def test_the_cli_says_in_one_line_which_setting_is_wrong_and_stops() -> None:
    env = {**os.environ, "LEADFLOW_BUSINESS_TIMEZONE": "Asia/Beijing"}

    done = subprocess.run(
        [sys.executable, "-m", "leadflow", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: LEADFLOW_BUSINESS_TIMEZONE: 'Asia/Beijing' is not a time zone; give an IANA "
        "name such as Asia/Shanghai or UTC"
    ]
