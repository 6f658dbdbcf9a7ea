"""The dbt project (dbt-duckdb). Its vars in dbt_project.yml are business definitions the
data team owns; every stage reads them from there, so each has one source."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).parent


@functools.cache
def project_vars() -> dict[str, Any]:
    """The vars of dbt_project.yml."""
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project["vars"])


CONVERSION_WINDOW_DAYS: int = int(project_vars()["conversion_window_days"])
"""An inquiry converts when a linked order is placed, or it is won, within this many days."""
