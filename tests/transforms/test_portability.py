"""The dbt project is portable: built on PostgreSQL from the same raw events, its marts
agree with DuckDB's (DESIGN.md §8: the warehouse moves by changing the dbt target).

A throwaway PostgreSQL cluster (the Debian package `postgresql`, installed here when
absent) gets a row-for-row copy of the DuckDB warehouse's source tables; the real
`dbt build --target postgres` must pass, and every mart must hold the same rows on both.

raw_events.payload becomes `json`, not `jsonb`: DuckDB's JSON is the text as landed and
`json` keeps that text byte for byte, so the copy is provably the same event log; the
models only read keys (`->>`) and array lengths, which `json` serves as well as `jsonb`,
and they never index, compare or group a payload, where `jsonb` would help.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import difflib
import io
import json
import math
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pytest
from dbt.cli.main import dbtRunnerResult

from tests.transforms.conftest import invoke_dbt

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

# Tables the warehouse holds before dbt runs and the project reads as sources, copied from
# DuckDB as they are: the event log, and Splink's contact matches, which dbt computes in a
# Python model on DuckDB only (the source identity.int_contact_records_matched elsewhere).
COPIED_TABLES = ("raw_events", "int_contact_records_matched")

# Compared besides every mart: the identity graph the marts are keyed on, so that a
# difference in who is one customer shows where it starts.
COMPARED_MODELS_OUTSIDE_MARTS = ("int_customers_resolved",)

# numeric on one side and double precision on the other differ in the last bits, not more
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12  # for values that should be 0 and come out as rounding dust

# The sources are in schema main (_leadflow__sources.yml), as on DuckDB, and so are the models.
POSTGRES_SCHEMA = "main"
POSTGRES_USER = "leadflow"
POSTGRES_DATABASE = "leadflow"
POSTGRES_PACKAGE = "postgresql"  # Debian 12: PostgreSQL 15
POSTGRES_SYSTEM_USER = "postgres"  # created by the Debian package; PostgreSQL will not run as root

# DuckDB column type -> PostgreSQL column type, for the tables copied; DECIMAL is handled apart.
POSTGRES_TYPES = {
    "VARCHAR": "varchar",
    "BOOLEAN": "boolean",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BLOB": "bytea",
    "UUID": "uuid",
    "JSON": "json",  # the text as landed; see the module docstring
}

SESSION_TIME_ZONE = "Asia/Shanghai"  # where the buyers and the sales team are
APT_TIMEOUT_SECONDS = 900  # enough for a slow mirror; ends a wait on another dpkg lock
COPY_BATCH_ROWS = 10_000
DIFFERENCES_SHOWN = 12  # rows per relation in a failure message


# --- PostgreSQL: find or install the server, run a throwaway cluster ------------------------


def installed_postgres_bin_dir() -> Path | None:
    """The bin directory of the newest PostgreSQL server installed from Debian packages."""
    versions = [
        initdb.parent
        for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if initdb.parent.joinpath("pg_ctl").exists() and initdb.parts[-3].isdigit()
    ]
    return max(versions, key=lambda bin_dir: int(bin_dir.parts[-2]), default=None)


def install_postgres() -> str:
    """Install the Debian package `postgresql` with apt-get; what went wrong, or ''."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        return "not root and sudo is not available"
    install = [*sudo, "apt-get", "install", "-y", "-q", POSTGRES_PACKAGE]
    update = [*sudo, "apt-get", "update", "-q"]
    try:
        # as .ci/run does: the package lists may be stale or missing in a fresh image
        if apt_get(install).returncode == 0:
            return ""
        apt_get(update)
        completed = apt_get(install)
    except subprocess.TimeoutExpired as timeout:
        return f"`{shlex.join(timeout.cmd)}` did not finish in {timeout.timeout:.0f} s"
    if completed.returncode != 0:
        return f"`{shlex.join(install)}` failed: {completed.stderr.strip()[-2000:]}"
    return ""


def apt_get(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run one apt-get command without a terminal to ask questions on."""
    return subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        timeout=APT_TIMEOUT_SECONDS,
    )


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL cluster that trusts connections from localhost."""

    host: str
    port: int
    user: str
    database: str

    def connect(self) -> psycopg2.extensions.connection:
        """A new connection to the database; json values come back as their text."""
        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, dbname=self.database
        )
        # DuckDB returns JSON as text; so must PostgreSQL, for the rows to compare
        psycopg2.extras.register_default_json(connection, loads=lambda text: text)
        psycopg2.extras.register_default_jsonb(connection, loads=lambda text: text)
        return connection

    def dbt_environment(self) -> dict[str, str]:
        """The LEADFLOW_PG_* variables that point the `postgres` dbt target here."""
        return {
            "LEADFLOW_PG_HOST": self.host,
            "LEADFLOW_PG_PORT": str(self.port),
            "LEADFLOW_PG_USER": self.user,
            "LEADFLOW_PG_PASSWORD": "",
            "LEADFLOW_PG_DATABASE": self.database,
            "LEADFLOW_PG_SCHEMA": POSTGRES_SCHEMA,
            "LEADFLOW_PG_SSLMODE": "disable",  # a throwaway server has no certificate
        }


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def throwaway_postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    """A new PostgreSQL cluster in a temporary directory, stopped and deleted on exit."""
    as_owner: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(POSTGRES_SYSTEM_USER)
        except KeyError:
            pytest.fail(
                f"PostgreSQL refuses to run as root and there is no '{POSTGRES_SYSTEM_USER}' "
                f"user to run it as: install the Debian package `{POSTGRES_PACKAGE}` "
                "(it creates that user) or run the tests as another user"
            )
        as_owner = ["runuser", "-u", POSTGRES_SYSTEM_USER, "--"]
    # Not under pytest's tmp_path: as root that is a 0700 directory the cluster's owner
    # cannot enter.
    cluster_dir = Path(tempfile.mkdtemp(prefix="leadflow-postgres-"))
    if owner is not None:
        os.chown(cluster_dir, owner.pw_uid, owner.pw_gid)
    data_dir, log_file = cluster_dir / "data", cluster_dir / "server.log"
    pg_ctl = [*as_owner, str(bin_dir / "pg_ctl"), "--pgdata", str(data_dir)]
    try:
        run_or_fail(
            [
                *as_owner,
                str(bin_dir / "initdb"),
                "--pgdata",
                str(data_dir),
                "--username",
                POSTGRES_USER,
                "--auth",
                "trust",  # the default pg_hba.conf trusts local sockets and 127.0.0.1/::1 only
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            cwd=cluster_dir,
        )
        started = False
        for _ in range(3):  # another process may take the free port before the server does
            port = free_port()
            options = (
                f"-p {port} -k {shlex.quote(str(cluster_dir))} -c listen_addresses=127.0.0.1"
                # durability buys nothing in a cluster deleted at the end of the module
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                # Timestamps are naive UTC on both sides; a session zone far from UTC makes
                # any model that leans on it (a date promoted to timestamptz) show up.
                f" -c timezone={SESSION_TIME_ZONE}"
            )
            start = [*pg_ctl, "--log", str(log_file), "--wait", "--timeout", "60"]
            completed = subprocess.run(
                [*start, "--options", options, "start"],
                cwd=cluster_dir,
                capture_output=True,
                text=True,
            )
            if completed.returncode == 0:
                started = True
                break
        if not started:
            log = log_file.read_text(errors="replace") if log_file.exists() else ""
            pytest.fail(f"PostgreSQL did not start: {completed.stderr}\n{log[-2000:]}")
        server = PostgresServer("127.0.0.1", port, POSTGRES_USER, POSTGRES_DATABASE)
        create_database(replace(server, database="postgres"), POSTGRES_DATABASE)
        yield server
    finally:
        # also a server that pg_ctl gave up waiting for: its pid file says it may be running
        if (data_dir / "postmaster.pid").exists():
            subprocess.run([*pg_ctl, "--mode", "fast", "--wait", "stop"], capture_output=True)
        shutil.rmtree(cluster_dir, ignore_errors=True)


def create_database(maintenance: PostgresServer, database: str) -> None:
    """Create `database` with byte-order collation, and schema main in it."""
    connection = maintenance.connect()
    connection.autocommit = True  # create database cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            # The models break ties by comparing text (row_number() ... order by
            # identifier_value); DuckDB compares bytes, so PostgreSQL must collate "C" for
            # the same row to win, and with it the same customer_id.
            cursor.execute(
                f"create database {database} template template0 encoding 'UTF8' "
                "lc_collate 'C' lc_ctype 'C.UTF-8'"
            )
    finally:
        connection.close()
    created = replace(maintenance, database=database)
    with contextlib.closing(created.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f"create schema {POSTGRES_SCHEMA}")
        connection.commit()


def run_or_fail(command: Sequence[str], cwd: Path) -> None:
    """Run a command; fail the test with its output when it does not succeed."""
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if completed.returncode != 0:
        pytest.fail(f"`{shlex.join(command)}` failed:\n{completed.stdout}\n{completed.stderr}")


# --- copying source tables from DuckDB -------------------------------------------------------


def postgres_column_type(duckdb_type: str) -> str:
    """The PostgreSQL type that holds the values of a DuckDB column type unchanged."""
    decimal_type = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type)
    if decimal_type:
        return f"numeric({decimal_type[1]},{decimal_type[2]})"
    if duckdb_type not in POSTGRES_TYPES:
        pytest.fail(f"no PostgreSQL type for DuckDB's {duckdb_type}: add it to POSTGRES_TYPES")
    return POSTGRES_TYPES[duckdb_type]


def postgres_ddl(source: duckdb.DuckDBPyConnection, table: str) -> str:
    """`create table` for PostgreSQL with the columns, nullability and primary key of a
    DuckDB table (for raw_events: the DDL of ingestion/warehouse.py)."""
    columns = source.execute(
        """
        select column_name, data_type, is_nullable
        from information_schema.columns
        where table_schema = 'main' and table_name = ?
        order by ordinal_position
        """,
        [table],
    ).fetchall()
    primary_keys = source.execute(
        """
        select constraint_column_names from duckdb_constraints()
        where schema_name = 'main' and table_name = ? and constraint_type = 'PRIMARY KEY'
        """,
        [table],
    ).fetchall()
    definitions = [
        f'"{name}" {postgres_column_type(data_type)}{" not null" if nullable == "NO" else ""}'
        for name, data_type, nullable in columns
    ]
    definitions += [
        "primary key (" + ", ".join(f'"{column}"' for column in key) + ")"
        for (key,) in primary_keys
    ]
    return f"create table {POSTGRES_SCHEMA}.{table} (\n    " + ",\n    ".join(definitions) + "\n)"


def copy_text_field(value: object) -> str:
    """One value in the text format of PostgreSQL's COPY."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):
        return r"\\x" + value.hex()
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_table(
    source: duckdb.DuckDBPyConnection, target: psycopg2.extensions.connection, table: str
) -> None:
    """Create `table` in PostgreSQL and COPY every row of the DuckDB table into it."""
    with target, target.cursor() as cursor:
        cursor.execute(postgres_ddl(source, table))
        result = source.execute(f"select * from main.{table}")
        while batch := result.fetchmany(COPY_BATCH_ROWS):
            lines = ("\t".join(copy_text_field(value) for value in row) + "\n" for row in batch)
            cursor.copy_expert(
                f"copy {POSTGRES_SCHEMA}.{table} from stdin", io.StringIO("".join(lines))
            )
        cursor.execute(f"analyze {POSTGRES_SCHEMA}.{table}")


# --- dbt ------------------------------------------------------------------------------------


def run_dbt(
    target: str, work_dir: Path, environment: dict[str, str], *args: str
) -> dbtRunnerResult:
    """Run one dbt command of the real project in process, against one target."""
    return invoke_dbt(work_dir, environment, *args, "--target", target)


@dataclass(frozen=True)
class Build:
    """One `dbt build` of the project: what dbt reported and the manifest it wrote."""

    result: dbtRunnerResult
    target_dir: Path

    def failures(self) -> list[str]:
        """The models, seeds and tests that did not pass, with dbt's message, and how many
        were skipped because of them."""
        nodes = getattr(self.result.result, "results", None) or []
        failed = [
            f"{node.node.name}: {node.message}"
            for node in nodes
            if str(node.status) in {"error", "fail"}
        ]
        skipped = sum(str(node.status) == "skipped" for node in nodes)
        if skipped:
            failed.append(f"... and {skipped} nodes skipped because of these")
        return failed or ([str(self.result.exception)] if self.result.exception else [])

    def relations(self, names: Sequence[str] = ()) -> dict[str, str]:
        """Model name -> `schema.table` of every materialised model under marts/, and of `names`."""
        manifest = json.loads((self.target_dir / "manifest.json").read_text())
        return {
            node["name"]: f'"{node["schema"]}"."{node["alias"]}"'
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model"
            and node["config"]["materialized"] != "ephemeral"
            and (node["original_file_path"].startswith("marts/") or node["name"] in names)
        }


# --- comparing rows across databases --------------------------------------------------------


@dataclass(frozen=True)
class Rows:
    """The rows of one relation, with its column names, in a comparable form."""

    columns: tuple[str, ...]
    rows: list[tuple[object, ...]]

    @classmethod
    def of(cls, description: Sequence[Sequence[object]], rows: Sequence[Sequence[object]]) -> Rows:
        """Normalise a query result and sort it on every column."""
        normalised = [tuple(normalised_value(value) for value in row) for row in rows]
        return cls(
            tuple(str(column[0]) for column in description),
            sorted(normalised, key=lambda row: tuple(sort_key(value) for value in row)),
        )


def duckdb_rows(connection: duckdb.DuckDBPyConnection, relation: str) -> Rows:
    """Every row of a DuckDB relation."""
    result = connection.execute(f"select * from {relation}")
    return Rows.of(result.description, result.fetchall())


def postgres_rows(connection: psycopg2.extensions.connection, relation: str) -> Rows:
    """Every row of a PostgreSQL relation."""
    with connection.cursor() as cursor:
        cursor.execute(f"select * from {relation}")
        return Rows.of(cursor.description, cursor.fetchall())


def normalised_value(value: object) -> object:
    """A value as both databases' drivers can agree on it: numbers as int or float,
    timestamps as naive UTC, UUIDs and bytes in one form; booleans, text, dates and NULLs
    as they are."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def sort_key(value: object) -> tuple[int, object]:
    """Orders values of any type; numbers at 9 significant digits, so that two values equal
    within the tolerance sort alike."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, float):
        return (2, float(f"{value:.9g}"))
    if isinstance(value, int):
        return (2, value)
    if isinstance(value, dt.datetime):
        return (3, value)
    if isinstance(value, dt.date):
        return (4, value)
    if isinstance(value, str):
        return (5, value)
    if isinstance(value, bytes):
        return (6, value)
    return (7, repr(value))


def same_value(expected: object, actual: object) -> bool:
    """Whether two normalised values agree: numbers within the tolerance, the rest exactly
    and of the same kind (a boolean is not a number, a date is not a timestamp)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int) and isinstance(actual, int):
        return expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return math.isclose(
            expected, actual, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE
        )
    return type(expected) is type(actual) and expected == actual


def shown(value: object) -> str:
    """A value as the comparison sees it: numbers at 9 significant digits."""
    return f"{value:.9g}" if isinstance(value, float) else repr(value)


def shown_row(columns: Sequence[str], row: Sequence[object]) -> str:
    """A row as `column=value` pairs."""
    return ", ".join(f"{column}={shown(value)}" for column, value in zip(columns, row, strict=True))


def changed_columns(
    columns: Sequence[str], expected: Sequence[object], actual: Sequence[object]
) -> str:
    """The row's first column, then each column in which the two rows differ."""
    changes = [
        f"{column}: DuckDB {shown(duckdb_value)}, PostgreSQL {shown(postgres_value)}"
        for column, duckdb_value, postgres_value in zip(columns, expected, actual, strict=True)
        if not same_value(duckdb_value, postgres_value)
    ]
    return f"{columns[0]}={shown(expected[0])}: " + "; ".join(changes)


def disagreement(name: str, duckdb_side: Rows, postgres_side: Rows) -> str | None:
    """How a relation differs between DuckDB and PostgreSQL (its first differing rows), or
    None when it agrees."""
    columns, expected, actual = duckdb_side.columns, duckdb_side.rows, postgres_side.rows
    if columns != postgres_side.columns:
        return f"{name}: columns differ: DuckDB {columns}, PostgreSQL {postgres_side.columns}"
    if len(expected) == len(actual) and all(
        all(map(same_value, duckdb_row, postgres_row))
        for duckdb_row, postgres_row in zip(expected, actual, strict=True)
    ):
        return None
    # Align the sorted rows like a diff, so that one missing row does not shift every
    # row after it into a difference.
    matcher = difflib.SequenceMatcher(
        None,
        [shown_row(columns, row) for row in expected],
        [shown_row(columns, row) for row in actual],
    )
    lines = []
    for tag, duckdb_start, duckdb_end, postgres_start, postgres_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = min(duckdb_end - duckdb_start, postgres_end - postgres_start)
        for offset in range(paired):
            duckdb_row, postgres_row = (
                expected[duckdb_start + offset],
                actual[postgres_start + offset],
            )
            lines.append(f"  differs  {changed_columns(columns, duckdb_row, postgres_row)}")
        lines += [
            f"  only on DuckDB      {shown_row(columns, row)}"
            for row in expected[duckdb_start + paired : duckdb_end]
        ]
        lines += [
            f"  only on PostgreSQL  {shown_row(columns, row)}"
            for row in actual[postgres_start + paired : postgres_end]
        ]
    if not lines:  # alike at the shown precision, apart beyond the tolerance
        lines = [
            f"  differs  {changed_columns(columns, duckdb_row, postgres_row)}"
            for duckdb_row, postgres_row in zip(expected, actual, strict=True)
            if not all(map(same_value, duckdb_row, postgres_row))
        ]
    header = (
        f"{name}: {len(expected)} rows on DuckDB, {len(actual)} on PostgreSQL; first differences:"
    )
    return "\n".join([header, *lines[:DIFFERENCES_SHOWN]])


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_bin_dir() -> Path:
    """PostgreSQL's server binaries, installed from Debian packages when absent."""
    bin_dir = installed_postgres_bin_dir()
    if bin_dir is None:
        problem = install_postgres()
        bin_dir = installed_postgres_bin_dir()
        if bin_dir is None:
            pytest.fail(
                "PostgreSQL's server binaries (/usr/lib/postgresql/<version>/bin/initdb and "
                f"pg_ctl) are missing and could not be installed ({problem or 'no binaries'}). "
                f"Install the Debian package `{POSTGRES_PACKAGE}`: "
                f"`sudo apt-get install -y {POSTGRES_PACKAGE}`."
            )
    return bin_dir


@pytest.fixture(scope="module")
def postgres(postgres_bin_dir: Path) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for this module."""
    with throwaway_postgres(postgres_bin_dir) as server:
        yield server


@pytest.fixture(scope="module")
def duckdb_build(landed_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The real `dbt build` on the DuckDB warehouse of the landed events."""
    work_dir = tmp_path_factory.mktemp("dbt-duckdb")
    environment = {"LEADFLOW_WAREHOUSE": str(landed_warehouse.resolve())}
    return Build(run_dbt("duckdb", work_dir, environment, "build"), work_dir / "target")


@pytest.fixture(scope="module")
def postgres_build(
    landed_warehouse: Path,
    duckdb_build: Build,
    postgres: PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Build:
    """The same events (and the DuckDB build's Splink matches) copied into PostgreSQL, then
    the real `dbt build --target postgres`."""
    assert duckdb_build.result.success, "the DuckDB build failed: nothing to copy matches from"
    # Not read_only: dbt-duckdb may hold the file open in this process, and DuckDB refuses
    # a second connection with another configuration.
    with (
        duckdb.connect(str(landed_warehouse)) as source,
        contextlib.closing(postgres.connect()) as target,
    ):
        for table in COPIED_TABLES:
            copy_table(source, target, table)
    work_dir = tmp_path_factory.mktemp("dbt-postgres")
    result = run_dbt("postgres", work_dir, postgres.dbt_environment(), "build")
    return Build(result, work_dir / "target")


# --- tests ----------------------------------------------------------------------------------


def test_the_source_tables_reach_postgres_row_for_row(
    landed_warehouse: Path, postgres: PostgresServer, postgres_build: Build
) -> None:
    with duckdb.connect(str(landed_warehouse)) as source:
        copied = {table: duckdb_rows(source, f"main.{table}") for table in COPIED_TABLES}
    with contextlib.closing(postgres.connect()) as target:
        landed = {table: postgres_rows(target, f"main.{table}") for table in COPIED_TABLES}

    assert len(copied["raw_events"].rows) > 5000  # the simulated quarter and the stories
    for table in COPIED_TABLES:
        assert landed[table].columns == copied[table].columns, table
        assert landed[table].rows == copied[table].rows, table  # exactly: nothing computed yet


def test_dbt_build_on_postgres_passes_every_model_seed_and_test(postgres_build: Build) -> None:
    assert postgres_build.result.success, "\n".join(postgres_build.failures())


def test_every_mart_agrees_with_duckdb(
    landed_warehouse: Path, duckdb_build: Build, postgres: PostgresServer, postgres_build: Build
) -> None:
    assert duckdb_build.result.success, "\n".join(duckdb_build.failures())
    assert postgres_build.result.success, "\n".join(postgres_build.failures())
    on_duckdb = duckdb_build.relations(COMPARED_MODELS_OUTSIDE_MARTS)
    on_postgres = postgres_build.relations(COMPARED_MODELS_OUTSIDE_MARTS)

    with duckdb.connect(str(landed_warehouse)) as warehouse:
        duckdb_side = {
            name: duckdb_rows(warehouse, relation) for name, relation in on_duckdb.items()
        }
    with contextlib.closing(postgres.connect()) as connection:
        postgres_side = {
            name: postgres_rows(connection, relation) for name, relation in on_postgres.items()
        }

    assert {"dim_customers", "fct_inquiries", *COMPARED_MODELS_OUTSIDE_MARTS} <= set(on_duckdb)
    assert set(on_postgres) == set(on_duckdb)
    assert duckdb_side["dim_customers"].rows and duckdb_side["fct_inquiries"].rows
    disagreements = [
        problem
        for name in sorted(on_duckdb)
        if (problem := disagreement(name, duckdb_side[name], postgres_side[name])) is not None
    ]
    assert not disagreements, "\n\n".join(disagreements)
