"""Quality gates: run a table's expectation suite through a Great Expectations checkpoint.

Great Expectations over SQLAlchemy on DuckDB is unreliable, so a gate reads the columns
its suite needs into pandas and validates that batch in an ephemeral (in-memory) context
that writes no files, shows no progress bars and has no actions that could reach a network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import great_expectations as gx
import numpy as np
import pandas as pd
from great_expectations.core import ExpectationValidationResult
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.expectations.row_conditions import (
    AndCondition,
    ComparisonCondition,
    NullityCondition,
    OrCondition,
)

from ingestion.vocabularies import Vocabularies, load_vocabularies
from leadflow.errors import LeadflowError
from quality.errors import QualityGateFailed
from quality.suites import fct_inquiries, raw_events, stg_leadflow__rejected_values

__all__ = ["GateResult", "QualityGateFailed", "check_tables", "raise_on_failure", "run_gate"]

EXAMPLES_SHOWN = 5
VALUES_LISTED = 10
# Columns validated as text; DuckDB's JSON type reaches pandas as its serialised string anyway.
_TEXT_COLUMNS = frozenset({"payload"})
# Expectation arguments that name the data validated rather than what is expected of it.
_DOMAIN_KWARGS = frozenset(
    {
        "batch_id",
        "column",
        "column_A",
        "column_B",
        "column_list",
        "row_condition",
        "condition_parser",
        "result_format",
        "catch_exceptions",
        "meta",
        "notes",
    }
)


@dataclass(frozen=True)
class TableSuite:
    """How to gate one table.

    build_suite: returns the table's expectation suite, named after the table; given the
      facts `measure` returned, it leaves out what the data cannot support yet and names
      it in the suite's `meta["not_measured"]`.
    key_column: the column that names a row in failure reports, e.g. `event_id`.
    measure: what the data can support, from the warehouse and the rows read, if the
      suite depends on it.
    """

    build_suite: Callable[..., gx.ExpectationSuite]
    key_column: str
    measure: Callable[[duckdb.DuckDBPyConnection, pd.DataFrame], dict[str, int]] | None = None


SUITES: dict[str, TableSuite] = {
    raw_events.TABLE: TableSuite(raw_events.build_suite, raw_events.KEY_COLUMN),
    fct_inquiries.TABLE: TableSuite(
        fct_inquiries.build_suite, fct_inquiries.KEY_COLUMN, fct_inquiries.measure
    ),
    stg_leadflow__rejected_values.TABLE: TableSuite(
        stg_leadflow__rejected_values.build_suite, stg_leadflow__rejected_values.KEY_COLUMN
    ),
}


class UnknownTableError(LeadflowError, ValueError):
    """A gate was asked for a table that has no suite, or that is not in the warehouse."""


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold: what it checks, where, and a few offending rows.

    expectation_type: e.g. `expect_column_values_to_be_in_set`.
    column: the column(s) it validates, or None for table-level expectations.
    unexpected_count: rows that broke a row-wise expectation; None for aggregate ones.
    unexpected_values: a few distinct offending values (None stands for null).
    unexpected_rows: the key of a few offending rows, e.g. `{"inquiry_id": "inq-7"}`.
    observed_value: what an aggregate expectation measured, e.g. a conversion rate.
    expected: the expectation's arguments, e.g. `min_value=0.01, max_value=0.6`.
    error: why the expectation could not be evaluated at all, if it could not.
    value_counts: for a value set, every value outside it with its rows, most first (up
        to VALUES_LISTED): what to add to a vocabulary, not only the first rows' values.
    """

    expectation_type: str
    column: str | None
    unexpected_count: int | None = None
    unexpected_values: tuple[Any, ...] = ()
    unexpected_rows: tuple[Mapping[str, Any], ...] = ()
    observed_value: Any = None
    expected: str = ""
    error: str | None = None
    value_counts: tuple[tuple[Any, int], ...] = ()
    more_values: int = 0

    def describe(self, table: str) -> str:
        """One line naming the table, the expectation, its column and example bad values."""
        subject = f"{table}: {self.expectation_type}"
        if self.column is not None:
            subject += f"({self.column})"
        if self.error is not None:
            return f"{subject} could not be evaluated: {self.error}"
        if self.unexpected_count is not None:
            rows = "row" if self.unexpected_count == 1 else "rows"
            text = f"{subject} failed on {self.unexpected_count} {rows}"
            if self.value_counts:
                listed = ", ".join(f"{_show(v)} ({n})" for v, n in self.value_counts)
                more = f" and {self.more_values} more" if self.more_values else ""
                text += f", values outside the set: {listed}{more}"
            elif self.unexpected_values:
                text += ", e.g. " + ", ".join(_show(v) for v in self.unexpected_values)
            if self.unexpected_rows:
                text += f" ({_show_rows(self.unexpected_rows)})"
            return text
        text = f"{subject} failed: observed {_show(self.observed_value)}"
        return f"{text}, expected {self.expected}" if self.expected else text


@dataclass(frozen=True)
class GateResult:
    """The outcome of one table's gate.

    table: the table gated.
    success: every critical expectation of its suite held.
    rows_checked: rows read from the table and validated.
    failures: the critical expectations that did not hold, in suite order.
    warnings: the expectations of severity `warning` that did not hold: reported, and
      what depends on the table still runs.
    not_measured: what the suite left out because the data cannot support it yet, e.g.
      the conversion band before enough labels matured.
    """

    table: str
    success: bool
    rows_checked: int
    failures: tuple[FailedExpectation, ...] = ()
    warnings: tuple[FailedExpectation, ...] = ()
    not_measured: tuple[str, ...] = ()

    def describe(self) -> str:
        """A line per failed expectation and warning, or, when the gate passed, one line
        saying so and a line per check not measured yet."""
        lines = [failure.describe(self.table) for failure in self.failures]
        lines += [f"warning: {warning.describe(self.table)}" for warning in self.warnings]
        if not self.success:
            return "\n".join(lines)
        if not self.warnings:
            lines = [f"{self.table}: passed on {self.rows_checked} rows"]
        lines += [f"not measured yet: {self.table}: {what}" for what in self.not_measured]
        return "\n".join(lines)


def run_gate(
    connection: duckdb.DuckDBPyConnection, table: str, vocabularies: Vocabularies | None = None
) -> GateResult:
    """Validate `table` against its suite through a checkpoint and report what failed.
    Values outside `vocabularies` (default: the shipped ones) are warnings."""
    table_suite = _table_suite(table)
    vocabularies = vocabularies or load_vocabularies()
    suite = table_suite.build_suite(vocabularies)
    needed = _columns_of(suite) | {table_suite.key_column}
    existing = _table_columns(connection, table)
    missing = sorted(needed - existing)
    if missing:
        failures = tuple(
            FailedExpectation("expect_column_to_exist", column, error="column is missing")
            for column in missing
        )
        return GateResult(table, success=False, rows_checked=0, failures=failures)

    frame = _read_table(connection, table, sorted(needed))
    if table_suite.measure is not None:
        suite = table_suite.build_suite(vocabularies, table_suite.measure(connection, frame))
    not_measured = tuple((suite.meta or {}).get("not_measured", ()))
    checkpoint = _checkpoint(table, suite, key_column=table_suite.key_column)
    checkpoint_result = checkpoint.run(batch_parameters={"dataframe": frame})
    failed = [
        result
        for validation in checkpoint_result.run_results.values()
        for result in validation.results
        if not result.success
    ]
    failures = tuple(
        _failed_expectation(result, key_column=table_suite.key_column, frame=frame)
        for result in failed
        if not _is_warning(result)
    )
    warnings = tuple(
        _failed_expectation(result, key_column=table_suite.key_column, frame=frame)
        for result in failed
        if _is_warning(result)
    )
    return GateResult(
        table,
        success=not failures,
        rows_checked=len(frame),
        failures=failures,
        warnings=warnings,
        not_measured=not_measured,
    )


def _is_warning(result: ExpectationValidationResult) -> bool:
    config = result.expectation_config
    return config is not None and str(getattr(config, "severity", "")).lower().endswith("warning")


def check_tables(
    connection: duckdb.DuckDBPyConnection,
    tables: Iterable[str],
    vocabularies: Vocabularies | None = None,
) -> list[GateResult]:
    """Run the gate of every table in `tables`, in order, failing or not."""
    return [run_gate(connection, table, vocabularies) for table in tables]


def raise_on_failure(results: Iterable[GateResult]) -> None:
    """Raise QualityGateFailed if any gate failed, so what depends on it does not run."""
    results = list(results)
    if not all(result.success for result in results):
        raise QualityGateFailed(results)


# --- reading the table -----------------------------------------------------------------


def _table_suite(table: str) -> TableSuite:
    try:
        return SUITES[table]
    except KeyError:
        raise UnknownTableError(
            f"no quality suite for table {table!r}; known tables: {', '.join(sorted(SUITES))}"
        ) from None


def _table_columns(connection: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = connection.execute(
        "select column_name from duckdb_columns() "
        "where table_name = ? and schema_name = current_schema() "
        "and database_name = current_database()",
        [table],
    ).fetchall()
    if not rows:
        raise UnknownTableError(f"table {table!r} is not in the warehouse")
    return {name for (name,) in rows}


def _read_table(
    connection: duckdb.DuckDBPyConnection, table: str, columns: list[str]
) -> pd.DataFrame:
    selected = ", ".join(
        f"{_quoted(c)}::varchar as {_quoted(c)}" if c in _TEXT_COLUMNS else _quoted(c)
        for c in columns
    )
    return connection.execute(f"select {selected} from {_quoted(table)}").df()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _columns_of(suite: gx.ExpectationSuite) -> set[str]:
    """Every column an expectation of `suite` validates or filters its rows on."""
    columns: set[str] = set()
    for expectation in suite.expectations:
        for attribute in ("column", "column_A", "column_B"):
            name = getattr(expectation, attribute, None)
            if name:
                columns.add(name)
        columns.update(getattr(expectation, "column_list", None) or ())
        columns.update(_condition_columns(getattr(expectation, "row_condition", None)))
    return columns


def _condition_columns(condition: Any) -> set[str]:
    if isinstance(condition, ComparisonCondition | NullityCondition):
        return {condition.column.name}
    if isinstance(condition, AndCondition | OrCondition):
        return set().union(*(_condition_columns(c) for c in condition.conditions))
    return set()


# --- running the checkpoint ------------------------------------------------------------


def _checkpoint(table: str, suite: gx.ExpectationSuite, *, key_column: str) -> gx.Checkpoint:
    """A checkpoint validating a whole pandas dataframe against `suite`, with no actions."""
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    batch_definition = (
        context.data_sources.add_pandas(name="warehouse")
        .add_dataframe_asset(name=table)
        .add_batch_definition_whole_dataframe(name=table)
    )
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=table, data=batch_definition, suite=context.suites.add(suite))
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=f"{table}_gate",
            validation_definitions=[validation],
            actions=[],
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": EXAMPLES_SHOWN,
                "unexpected_index_column_names": [key_column],
            },
        )
    )


def _failed_expectation(
    result: ExpectationValidationResult, *, key_column: str, frame: pd.DataFrame | None = None
) -> FailedExpectation:
    """The report of one failed ExpectationValidationResult."""
    config = result.expectation_config
    if config is None:  # a validator always attaches it; only hand-built results lack it
        return FailedExpectation("unknown_expectation", None, error=str(result.result))
    kwargs: Mapping[str, Any] = config.kwargs
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    columns += list(kwargs.get("column_list") or ())
    column = ", ".join(columns) or None
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        return FailedExpectation(config.type, column, error=str(exception["exception_message"]))

    details: Mapping[str, Any] = result.result or {}
    expected = ", ".join(
        f"{name}={_show(value)}"
        for name, value in kwargs.items()
        if name not in _DOMAIN_KWARGS and value is not None
    )
    condition = kwargs.get("row_condition")
    if condition:
        expected += f" where {_describe_condition(condition)}"
    if "unexpected_count" not in details:
        return FailedExpectation(
            config.type,
            column,
            observed_value=_plain(details.get("observed_value")),
            expected=expected,
        )
    values = _distinct(_plain(v) for v in details.get("partial_unexpected_list") or ())
    rows = _distinct(
        {key_column: _plain(index.get(key_column))}
        if isinstance(index, Mapping)
        else {"row": index}
        for index in details.get("partial_unexpected_index_list") or ()
    )
    value_counts: tuple[tuple[Any, int], ...] = ()
    more_values = 0
    if (
        config.type == "expect_column_values_to_be_in_set"
        and frame is not None
        and column in frame.columns
        and not condition
    ):
        present = frame[column].dropna()
        outside = present[~present.isin(list(kwargs.get("value_set") or ()))].value_counts()
        value_counts = tuple((_plain(v), int(n)) for v, n in outside.head(VALUES_LISTED).items())
        more_values = max(len(outside) - VALUES_LISTED, 0)
        values = tuple(value for value, _ in value_counts) or values
    return FailedExpectation(
        config.type,
        column,
        unexpected_count=int(details["unexpected_count"]),
        unexpected_values=values,
        unexpected_rows=rows,
        expected=expected,
        value_counts=value_counts,
        more_values=more_values,
    )


def _describe_condition(condition: Any) -> str:
    if isinstance(condition, Mapping):
        column = condition.get("column", {}).get("name", "?")
        return f"{column} {condition.get('operator', '')} {condition.get('parameter', '')}"
    return repr(condition)


# --- showing values --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A plain Python value for pandas/numpy scalars, and None for every kind of null."""
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value)  # .item() would give integer nanoseconds
    if isinstance(value, np.generic):
        return value.item()
    return value


def _distinct(values: Iterable[Any]) -> tuple[Any, ...]:
    seen: list[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return tuple(seen)


def _show_rows(rows: tuple[Mapping[str, Any], ...]) -> str:
    """`inquiry_id 'i1', 'i2'`: the key column once, then each failing row's key."""
    keys = ", ".join(_show(value) for row in rows for value in row.values())
    return f"{', '.join(rows[0])} {keys}"


def _show(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return str(round(value, 4))
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)
