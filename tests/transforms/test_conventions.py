"""The dbt project's house rules: SQLFluff passes, every model has its own YAML that
documents it and its columns, and names fit every warehouse the project builds on."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from ingestion.contracts import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
TRANSFORMS_DIR = REPO / "transforms"
MODEL_DIRS = ("staging", "intermediate", "marts")
POSTGRES_MAX_IDENTIFIER = 63  # longer relation names are cut short, and unit tests fail


def models() -> list[Path]:
    """Every model file (SQL or Python) of the project."""
    return sorted(
        path
        for directory in MODEL_DIRS
        for path in (TRANSFORMS_DIR / directory).rglob("*")
        if path.suffix in {".sql", ".py"} and path.name != "__init__.py"
    )


def properties() -> list[dict[str, object]]:
    """The parsed content of every YAML file of the project's model directories."""
    return [
        yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for directory in MODEL_DIRS
        for path in (TRANSFORMS_DIR / directory).rglob("*.yml")
    ]


def test_every_model_has_a_same_named_yaml_describing_and_testing_it() -> None:
    undocumented = []
    for model in models():
        yml = model.with_suffix(".yml")
        if not yml.exists():
            undocumented.append(f"{model.relative_to(REPO)}: no {yml.name}")
            continue
        entries = {m["name"]: m for m in yaml.safe_load(yml.read_text()).get("models", [])}
        entry = entries.get(model.stem)
        if entry is None or not str(entry.get("description", "")).strip():
            undocumented.append(f"{yml.relative_to(REPO)}: no description of {model.stem}")
            continue
        columns = entry.get("columns") or []
        if not columns:
            undocumented.append(f"{yml.relative_to(REPO)}: no columns of {model.stem}")
        tests = len(entry.get("data_tests") or []) + sum(
            len(column.get("data_tests") or []) for column in columns
        )
        if tests == 0:
            undocumented.append(f"{yml.relative_to(REPO)}: no data test of {model.stem}")
        undocumented += [
            f"{yml.relative_to(REPO)}: {model.stem}.{column['name']} has no description"
            for column in columns
            if not str(column.get("description", "")).strip()
        ]

    assert len(models()) > 30  # the walk found the project
    assert undocumented == []


def test_unit_test_names_fit_a_postgresql_identifier() -> None:
    names = [
        unit_test["name"]
        for document in properties()
        for unit_test in document.get("unit_tests", []) or []  # type: ignore[union-attr]
    ]

    assert len(names) >= 5
    assert [name for name in names if len(name) > POSTGRES_MAX_IDENTIFIER] == []


@pytest.mark.integration
def test_sqlfluff_passes_on_every_model(tmp_path: Path) -> None:
    env = {
        **os.environ,
        # the dbt templater renders each model against a scratch warehouse
        "LEADFLOW_WAREHOUSE": str(tmp_path / "lint.duckdb"),
        # dbt's saved parse of an older checkout can miss macros added since
        "DBT_PARTIAL_PARSE": "false",
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("sqlfluff")), "lint", "transforms"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def _typed_fields_in_staging() -> dict[str, dict[str, str]]:
    """typed_payload_fields() of macros/payload_fields.sql, rendered with plain Jinja."""
    returned: dict[str, Any] = {}

    def give_back(value: Any) -> str:
        returned["value"] = value
        return ""

    source = (TRANSFORMS_DIR / "macros" / "payload_fields.sql").read_text(encoding="utf-8")
    jinja2.Environment().from_string(source + "{{ typed_payload_fields() }}").render(
        **{"return": give_back}
    )
    return returned["value"]  # type: ignore[no-any-return]


def _typed_fields_in_the_contract() -> dict[str, dict[str, str]]:
    """Every payload field of ingestion/contracts.py that is a number, a flag or a date."""
    kinds = {int: "int", float: "numeric", bool: "boolean", dt.date: "date"}
    typed: dict[str, dict[str, str]] = {}
    for (event_type, _), model in CATALOGUE.items():
        payload = model.model_fields["payload"].annotation
        for name, field in payload.model_fields.items():  # type: ignore[union-attr]
            members = typing.get_args(field.annotation) or (field.annotation,)
            for member in members:
                base = typing.get_args(member)[0] if hasattr(member, "__metadata__") else member
                if base in kinds:
                    typed.setdefault(event_type, {})[name] = kinds[base]
    return typed


def test_staging_casts_exactly_the_typed_payload_fields_of_the_contract() -> None:
    assert _typed_fields_in_staging() == _typed_fields_in_the_contract()


# a period macro's date argument, e.g. period_start_for('grains.period_grain', 'x.submitted_on')
PERIOD_MACRO_CALL = re.compile(r"period_start(?:_for)?\(\s*'[^']*',\s*'([^']+)'")
# a timestamp cast to a date, e.g. cast(delivered_at as date)
TIMESTAMP_CAST_TO_DATE = re.compile(r"cast\(\s*[\w.]*_at\s+as\s+date\s*\)", re.IGNORECASE)


def test_periods_and_dates_are_cut_in_business_time_never_from_a_utc_timestamp() -> None:
    cut_in_utc = []
    calls = 0
    for model in models():
        sql = model.read_text(encoding="utf-8")
        for argument in PERIOD_MACRO_CALL.findall(sql):
            calls += 1
            if argument.endswith("_at"):  # timestamps are UTC: business_date(...) first
                cut_in_utc.append(f"{model.relative_to(REPO)}: period of {argument}")
        cut_in_utc += [
            f"{model.relative_to(REPO)}: {cast}" for cast in TIMESTAMP_CAST_TO_DATE.findall(sql)
        ]

    assert calls >= 10  # the leadership marts' calls were found
    assert cut_in_utc == []
