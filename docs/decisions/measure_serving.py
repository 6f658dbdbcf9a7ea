"""Measure three ways of letting readers read while writers write (decision 0001).

    python docs/decisions/measure_serving.py --warehouse PATH [--scratch DIR]
        [--ducklake-python PY] [--only a,b,c] [--scale 10]

Prints one JSON line per measurement. Works on copies of PATH in the scratch folder and
never writes PATH. Needs no network.

a  serving copy: publish the marts (or a small queue table, or the whole file) into a
   fresh read-only file and swap a pointer with os.replace; a reader in another process
   opens the current copy per query while the publisher publishes.
b  DuckLake (catalog in SQLite, data in Parquet): first whether the extension wheels load
   into this interpreter's duckdb; then, with --ducklake-python (an interpreter whose
   duckdb matches the wheels, e.g. duckdb==1.5.5 with duckdb-extension-ducklake and
   duckdb-extension-sqlite-scanner 1.5.5), a writer and a reader process and a rebuild.
c  one owner process: the warehouse open read-write once; dbt (in-process), an inserting
   thread and a reading thread share it; a second process tries to open it read-only.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import duckdb

READER_QUERY = "select count(*) from fct_inquiries"
TRANSFORMS = pathlib.Path(__file__).resolve().parents[2] / "transforms"


def say(record: object) -> None:
    """One JSON line on stdout: the script's output is its measurements."""
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


def emit(option: str, measure: str, **fields) -> None:
    say({"option": option, "measure": measure, **fields})


def percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"n": 0}
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "n": len(ordered),
        "p50_ms": round(pick(0.50) * 1000, 2),
        "p95_ms": round(pick(0.95) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def seconds(values: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(values), 3),
        "max_s": round(max(values), 3),
        "runs": len(values),
    }


# ---------------------------------------------------------------------------------- a


def serving_tables(connection: duckdb.DuckDBPyConnection) -> list[str]:
    names = [
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "and table_type = 'BASE TABLE' order by table_name"
        ).fetchall()
    ]
    return [
        n
        for n in names
        if n.startswith(("fct_", "dim_", "rpt_")) or n in ("lead_scores", "pipeline_runs")
    ]


class Publisher:
    """Writes generation N of the serving copy beside the pointer, then swaps the pointer."""

    KEEP = 3  # generations kept: a reader that has just read the pointer still finds its file

    def __init__(self, connection: duckdb.DuckDBPyConnection, folder: pathlib.Path):
        self.connection, self.folder, self.generation = connection, folder, 0
        folder.mkdir(parents=True, exist_ok=True)
        self.catalog = connection.execute("select current_database()").fetchone()[0]

    def swap(self, target: pathlib.Path) -> None:
        pointer = self.folder / "CURRENT"
        scratch = self.folder / "CURRENT.tmp"
        scratch.write_text(target.name)
        os.replace(scratch, pointer)
        old = sorted(self.folder.glob(f"{target.stem.rsplit('-', 1)[0]}-*.duckdb"))
        for stale in old[: -self.KEEP]:
            stale.unlink(missing_ok=True)

    def publish_tables(self, tables: list[str], prefix: str = "marts") -> pathlib.Path:
        self.generation += 1
        target = self.folder / f"{prefix}-{self.generation:06d}.duckdb"
        self.connection.execute(f"attach '{target}' as serving_new")
        try:
            for table in tables:
                self.connection.execute(
                    f'create table serving_new.main."{table}" as '
                    f'select * from "{self.catalog}".main."{table}"'
                )
        finally:
            self.connection.execute("detach serving_new")
        self.swap(target)
        return target

    def publish_query(self, name: str, sql: str) -> pathlib.Path:
        self.generation += 1
        target = self.folder / f"{name}-{self.generation:06d}.duckdb"
        self.connection.execute(f"attach '{target}' as serving_new")
        try:
            self.connection.execute(f"create table serving_new.main.{name} as {sql}")
        finally:
            self.connection.execute("detach serving_new")
        self.swap(target)
        return target


def queue_sql(rows: int) -> str:
    """The open leads with their scores, repeated (ids suffixed) to reach `rows` rows."""
    return f"""
        with q as (
            select i.inquiry_id, i.customer_id, i.submitted_at, i.channel, i.company,
                   i.country, i.product_category, i.rep_id, i.distributor_id,
                   s.probability, s.score, s.tier, s.reasons, s.scored_at
            from fct_inquiries i join lead_scores s using (inquiry_id)
            where i.is_open)
        select q.* replace (q.inquiry_id || '~' || k::varchar as inquiry_id)
        from q, range(0, 1 + {rows} // greatest(1, (select count(*) from q))) r(k)
        limit {rows}"""


def reader_role(folder: str, queries: int, interval: float) -> None:
    """Another process: per query, read the pointer, open that copy read-only, count."""
    pointer = pathlib.Path(folder) / "CURRENT"
    latencies, failures, errors, seen, stamps = [], 0, [], set(), []
    for _ in range(queries):
        start = time.perf_counter()
        try:
            name = pointer.read_text()
            with contextlib.closing(
                duckdb.connect(str(pointer.parent / name), read_only=True)
            ) as db:
                db.execute(READER_QUERY).fetchone()
            latencies.append(time.perf_counter() - start)
            seen.add(name)
            stamps.append(time.time())
        except Exception as error:  # noqa: BLE001 - every failure is counted and named
            failures += 1
            errors.append(f"{type(error).__name__}: {error}"[:300])
        time.sleep(max(0.0, interval - (time.perf_counter() - start)))
    say(
        {
            "latencies": latencies,
            "failures": failures,
            "errors": errors[:3],
            "generations_seen": len(seen),
            "stamps": stamps,
        }
    )


def scale_up(connection: duckdb.DuckDBPyConnection, tables: list[str], factor: int) -> dict:
    """Make raw_events and the serving tables `factor` times larger (ids suffixed)."""
    keys = {
        row[0]: row[1]
        for row in connection.execute(
            "select table_name, constraint_column_names from duckdb_constraints() "
            "where constraint_type = 'PRIMARY KEY'"
        ).fetchall()
    }
    counts = {}
    for table in ["raw_events", *tables]:
        if table == "pipeline_runs":
            continue
        columns = keys.get(table, [])
        replace = ", ".join(f'"{c}" || \'~\' || k::varchar as "{c}"' for c in columns)
        select = f"t.* replace ({replace})" if replace else "t.*"
        connection.execute(
            f'insert into "{table}" select {select} from "{table}" t, range(1, {factor}) r(k)'
        )
        counts[table] = connection.execute(f'select count(*) from "{table}"').fetchone()[0]
    connection.execute("checkpoint")
    return counts


def measure_publishing(
    connection, folder: pathlib.Path, warehouse: pathlib.Path, label: str, repeats: int
) -> None:
    publisher = Publisher(connection, folder)
    tables = serving_tables(connection)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        target = publisher.publish_tables(tables)
        times.append(time.perf_counter() - start)
    emit(
        "a",
        "publish_marts",
        warehouse=label,
        tables=len(tables),
        rows=sum(connection.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables),
        bytes=target.stat().st_size,
        **seconds(times),
    )

    times, sizes = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        connection.execute("checkpoint")
        copy = folder / f"whole-{len(times):06d}.duckdb"
        shutil.copy(warehouse, copy)
        os.replace(copy, folder / "whole-current.duckdb")  # the swap, same folder
        times.append(time.perf_counter() - start)
        sizes.append((folder / "whole-current.duckdb").stat().st_size)
    emit(
        "a",
        "publish_whole_file",
        warehouse=label,
        bytes=sizes[-1],
        how="CHECKPOINT then shutil.copy then os.replace",
        **seconds(times),
    )


def option_a(warehouse: pathlib.Path, scratch: pathlib.Path, factor: int) -> None:
    work = scratch / "a"
    work.mkdir(parents=True, exist_ok=True)
    copy = work / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    folder = work / "serving"
    with contextlib.closing(duckdb.connect(str(copy))) as connection:
        measure_publishing(connection, folder, copy, "demo (copy of --warehouse)", repeats=5)

        publisher = Publisher(connection, folder)
        for rows in (1_000, 50_000):
            times = []
            for _ in range(5):
                start = time.perf_counter()
                target = publisher.publish_query("queue", queue_sql(rows))
                times.append(time.perf_counter() - start)
            emit(
                "a",
                "publish_queue",
                rows=rows,
                bytes=target.stat().st_size,
                how="open leads joined to lead_scores, ids suffixed to reach the row count",
                **seconds(times),
            )

        # a reader in another process while the publisher publishes the marts 20 times
        tables = serving_tables(connection)
        publisher.publish_tables(tables)
        reader = subprocess.Popen(
            [sys.executable, __file__, "--role", "a-reader", "--folder", str(folder)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        publish_times, window_start = [], time.time()
        for _ in range(20):
            start = time.perf_counter()
            publisher.publish_tables(tables)
            publish_times.append(time.perf_counter() - start)
        window_end = time.time()
        result = json.loads(reader.communicate()[0])
        during = sum(window_start <= s <= window_end for s in result["stamps"])
        emit(
            "a",
            "reader_during_publishes",
            publishes=20,
            reads=len(result["latencies"]),
            reads_during_publishing=during,
            failures=result["failures"],
            errors=result["errors"],
            generations_seen=result["generations_seen"],
            reader="another process; per read: read pointer, connect read_only, "
            f"{READER_QUERY}, close; 20 reads/s",
            **percentiles(result["latencies"]),
            publish=seconds(publish_times),
        )

        if factor > 1:
            big = work / f"warehouse-x{factor}.duckdb"
            connection.close()
            shutil.copy(copy, big)
            with contextlib.closing(duckdb.connect(str(big))) as large:
                start = time.perf_counter()
                counts = scale_up(large, serving_tables(large), factor)
                made = time.perf_counter() - start
                emit(
                    "a",
                    "made_larger_warehouse",
                    factor=factor,
                    seconds=round(made, 1),
                    raw_events=counts["raw_events"],
                    fct_inquiries=counts["fct_inquiries"],
                    bytes=big.stat().st_size,
                    how=f"insert into t select t.* (PK ids suffixed) from t, range(1,{factor})",
                )
                measure_publishing(
                    large,
                    work / "serving-large",
                    big,
                    f"x{factor} (raw_events and marts replicated)",
                    repeats=3,
                )


# ---------------------------------------------------------------------------------- b


def extension_files() -> list[pathlib.Path]:
    files = []
    for module in ("duckdb_extension_ducklake", "duckdb_extension_sqlite_scanner"):
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            continue
        for location in found.submodule_search_locations:
            files.extend(sorted(pathlib.Path(location).rglob("*.duckdb_extension")))
    return files


def load_extensions(connection, extra: list[str]) -> None:
    files = extension_files() + [pathlib.Path(p) for p in extra]
    names = {f.name for f in files}
    if not {"ducklake.duckdb_extension", "sqlite_scanner.duckdb_extension"} <= names:
        raise RuntimeError(f"extension files not found (found {sorted(names)})")
    for file in files:
        connection.execute(f"load '{file}'")


def attach_lake(connection, lake: pathlib.Path, read_only: bool = False) -> None:
    mode = ", READ_ONLY" if read_only else ""
    connection.execute(
        f"attach 'ducklake:sqlite:{lake}/catalog.sqlite' as lake (DATA_PATH '{lake}/data/'{mode})"
    )


def lake_writer_role(lake: str, source: str, seconds_: float, batch: int) -> None:
    connection = duckdb.connect()
    load_extensions(connection, [])
    attach_lake(connection, pathlib.Path(lake))
    connection.execute(f"create table src as select * from read_parquet('{source}')")
    total = connection.execute("select count(*) from src").fetchone()[0]
    latencies, failures, errors, rows, k = [], 0, [], 0, 0
    end = time.perf_counter() + seconds_
    while time.perf_counter() < end:
        start = time.perf_counter()
        offset = (k * batch) % max(1, total - batch)
        try:
            connection.execute(
                f"insert into lake.stream select * replace (event_id || '~{k}' as event_id) "
                f"from src limit {batch} offset {offset}"
            )
            latencies.append(time.perf_counter() - start)
            rows += batch
        except Exception as error:  # noqa: BLE001
            failures += 1
            errors.append(f"{type(error).__name__}: {error}"[:300])
        k += 1
        time.sleep(max(0.0, 0.1 - (time.perf_counter() - start)))
    say(
        {
            "latencies": latencies,
            "failures": failures,
            "errors": errors[:3],
            "rows": rows,
            "batches": k,
        }
    )


def lake_reader_role(lake: str, stop_file: str, interval: float) -> None:
    connection = duckdb.connect()
    load_extensions(connection, [])
    attach_lake(connection, pathlib.Path(lake), read_only=True)
    queries = {
        "count": "select count(*) from lake.stream",
        "filtered": "select count(*), max(occurred_at) from lake.stream "
        "where event_type = 'inquiry_submitted' and inquiry_id like 'INQ0001%'",
    }
    latencies = {name: [] for name in queries}
    failures, errors, last = 0, [], 0
    while not os.path.exists(stop_file):
        start = time.perf_counter()
        for name, sql in queries.items():
            began = time.perf_counter()
            try:
                value = connection.execute(sql).fetchone()[0]
                latencies[name].append(time.perf_counter() - began)
                if name == "count":
                    last = value
            except Exception as error:  # noqa: BLE001
                failures += 1
                errors.append(f"{type(error).__name__}: {error}"[:300])
        time.sleep(max(0.0, interval - (time.perf_counter() - start)))
    say({"latencies": latencies, "failures": failures, "errors": errors[:3], "last_count": last})


REBUILD_SQL = """
    select inquiry_id,
           min(occurred_at) filter (where event_type = 'inquiry_submitted') as submitted_at,
           min(occurred_at) filter (where event_type = 'lead_assigned') as assigned_at,
           min(occurred_at) filter (where event_type = 'lead_contacted') as first_contacted_at,
           count(*) filter (where event_type = 'lead_contacted') as contact_count,
           count(*) filter (where event_type = 'quote_sent') as quote_count,
           max(occurred_at) filter (where event_type = 'inquiry_closed') as closed_at,
           any_value(payload ->> 'outcome') filter (where event_type = 'inquiry_closed')
               as outcome,
           count(*) as events
    from {source} where inquiry_id is not null group by inquiry_id"""


def lake_concurrency(lake: pathlib.Path, source: str, duration: float, journal: str) -> None:
    """A writer process and a reader process on one lake for `duration` seconds."""
    lake.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    load_extensions(connection, [])
    attach_lake(connection, lake)
    connection.execute(
        f"create table lake.stream as select * from read_parquet('{source}') limit 0"
    )
    connection.close()
    if journal == "wal":  # persistent in the SQLite file: readers stop blocking the writer
        import sqlite3

        with contextlib.closing(sqlite3.connect(lake / "catalog.sqlite")) as catalog:
            catalog.execute("pragma journal_mode=wal")

    stop = lake / "STOP"
    reader = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "b-reader",
            "--lake",
            str(lake),
            "--stop-file",
            str(stop),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    writer = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "b-writer",
            "--lake",
            str(lake),
            "--source",
            source,
            "--seconds",
            str(duration),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    written = json.loads(writer.communicate()[0])
    stop.write_text("stop")
    read = json.loads(reader.communicate()[0])
    parquet = list((lake / "data").rglob("*.parquet"))
    emit(
        "b",
        "writer",
        catalog_journal=journal,
        seconds=duration,
        batches=written["batches"],
        batches_planned=int(duration * 10),
        rows=written["rows"],
        rows_per_s=round(written["rows"] / duration),
        failures=written["failures"],
        errors=written["errors"],
        insert=percentiles(written["latencies"]),
        parquet_files=len(parquet),
        parquet_bytes=sum(p.stat().st_size for p in parquet),
        catalog_bytes=(lake / "catalog.sqlite").stat().st_size,
        how="500 rows every 100 ms, one transaction each, another process",
    )
    emit(
        "b",
        "reader_during_writes",
        catalog_journal=journal,
        ticks_planned=int(duration * 20),
        failures=read["failures"],
        errors=read["errors"],
        last_count=read["last_count"],
        count=percentiles(read["latencies"]["count"]),
        filtered=percentiles(read["latencies"]["filtered"]),
        reader="another process, one attached connection (READ_ONLY), 20 ticks/s, "
        "count(*) then a filtered count each tick",
    )


def lake_measure_role(lake_dir: str, source: str, duration: float) -> None:
    """Runs under the DuckLake interpreter: writer + reader processes, files, rebuild."""
    emit(
        "b",
        "ducklake_loaded",
        duckdb=duckdb.__version__,
        extensions=[str(f) for f in extension_files()],
    )
    root = pathlib.Path(lake_dir)
    lake_concurrency(root / "lake-default", source, duration, "delete")
    lake = root / "lake-wal"
    lake_concurrency(lake, source, duration, "wal")

    connection = duckdb.connect()
    load_extensions(connection, [])
    attach_lake(connection, lake)
    start = time.perf_counter()
    connection.execute("call ducklake_merge_adjacent_files('lake')")
    connection.execute("call ducklake_expire_snapshots('lake', older_than => now())")
    connection.execute("call ducklake_cleanup_old_files('lake', cleanup_all => true)")
    compacted = time.perf_counter() - start
    parquet = list((lake / "data").rglob("*.parquet"))
    emit(
        "b",
        "compaction",
        seconds=round(compacted, 2),
        parquet_files_after=len(parquet),
        parquet_bytes_after=sum(p.stat().st_size for p in parquet),
        how="merge_adjacent_files + expire_snapshots + cleanup_old_files, after the run",
    )

    # a dbt-style full rebuild of a ~14k-row table from the ~180k-row event table
    start = time.perf_counter()
    connection.execute(f"create table lake.raw_events as select * from read_parquet('{source}')")
    loaded = time.perf_counter() - start
    native_path = lake.parent / "native.duckdb"
    native_path.unlink(missing_ok=True)
    connection.execute(f"attach '{native_path}' as native")
    connection.execute(f"create table native.raw_events as select * from read_parquet('{source}')")
    for where in ("lake", "native"):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            connection.execute(
                f"create or replace table {where}.fct_rebuilt as "
                + REBUILD_SQL.format(source=f"{where}.raw_events")
            )
            if where == "native":
                connection.execute("checkpoint native")
            times.append(time.perf_counter() - start)
        rows = connection.execute(f"select count(*) from {where}.fct_rebuilt").fetchone()[0]
        source_rows = connection.execute(f"select count(*) from {where}.raw_events").fetchone()[0]
        emit(
            "b",
            f"full_rebuild_{where}",
            rows=rows,
            source_rows=source_rows,
            **({"bulk_load_s": round(loaded, 2)} if where == "lake" else {}),
            how="create or replace table ... as select ... group by inquiry_id",
            **seconds(times),
        )


def option_b(
    warehouse: pathlib.Path, scratch: pathlib.Path, python: str | None, duration: float
) -> None:
    # the wheels' files, from this interpreter or else from the DuckLake one, loaded here
    extra: list[str] = []
    if not extension_files() and python:
        listed = subprocess.run(
            [python, __file__, "--role", "b-list"], capture_output=True, text=True
        )
        extra = json.loads(listed.stdout or "[]")
    connection = duckdb.connect()
    try:
        load_extensions(connection, extra)
        emit("b", "loads_here", duckdb=duckdb.__version__, ok=True)
    except Exception as error:  # noqa: BLE001
        emit(
            "b",
            "loads_here",
            duckdb=duckdb.__version__,
            ok=False,
            files=extra,
            error=f"{type(error).__name__}: {error}",
        )
    if not python:
        emit("b", "skipped", why="no --ducklake-python given")
        return
    work = scratch / "b"
    work.mkdir(parents=True, exist_ok=True)
    source = work / "raw_events.parquet"
    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as db:
        db.execute(f"copy raw_events to '{source}' (format parquet)")
    # the child's own lines are measurements too: pass them through
    subprocess.run(
        [
            python,
            __file__,
            "--role",
            "b-measure",
            "--lake",
            str(work / "lake"),
            "--source",
            str(source),
            "--seconds",
            str(duration),
        ],
        check=True,
    )


# ---------------------------------------------------------------------------------- c


def option_c(warehouse: pathlib.Path, scratch: pathlib.Path) -> None:
    work = scratch / "c"
    work.mkdir(parents=True, exist_ok=True)
    copy = (work / "warehouse.duckdb").resolve()
    shutil.copy(warehouse, copy)
    os.environ["LEADFLOW_WAREHOUSE"] = str(copy)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    from dbt.cli.main import dbtRunner

    owner = duckdb.connect(str(copy))
    owner.execute("create table bench_landing as select * from raw_events limit 0")
    stop = threading.Event()
    reads, read_failures, read_errors = [], [0], []
    inserted, insert_failures, insert_errors, insert_times = [0], [0], [], []

    def insert_loop() -> None:
        cursor, k = owner.cursor(), 0
        while not stop.is_set():
            start = time.perf_counter()
            try:
                cursor.execute(
                    "insert into bench_landing select * replace "
                    f"(event_id || '~{k}' as event_id) from raw_events "
                    f"limit 500 offset {(k * 500) % 180_000}"
                )
                inserted[0] += 500
                insert_times.append(time.perf_counter() - start)
            except Exception as error:  # noqa: BLE001
                insert_failures[0] += 1
                insert_errors.append(f"{type(error).__name__}: {error}"[:300])
            k += 1
            stop.wait(max(0.0, 0.1 - (time.perf_counter() - start)))

    def read_loop() -> None:
        cursor = owner.cursor()
        while not stop.is_set():
            start = time.perf_counter()
            try:
                cursor.execute(READER_QUERY).fetchone()
                reads.append(time.perf_counter() - start)
            except Exception as error:  # noqa: BLE001
                read_failures[0] += 1
                read_errors.append(f"{type(error).__name__}: {error}"[:300])
            stop.wait(max(0.0, 0.05 - (time.perf_counter() - start)))

    def second_process() -> None:
        time.sleep(5)
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; "
                f"duckdb.connect({str(copy)!r}, read_only=True); print('opened')",
            ],
            capture_output=True,
            text=True,
        )
        lines = [line for line in (probe.stdout + probe.stderr).splitlines() if line.strip()]
        emit(
            "c",
            "second_process_read_only",
            exit_code=probe.returncode,
            said=lines[-1] if lines else "",
        )

    def dbt(*args: str) -> tuple[float, bool]:
        start = time.perf_counter()
        result = dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(TRANSFORMS),
                "--profiles-dir",
                str(TRANSFORMS),
                "--target-path",
                str(work / "target"),
                "--log-path",
                str(work / "logs"),
                "--quiet",
            ]
        )
        return time.perf_counter() - start, bool(result.success)

    threads = [
        threading.Thread(target=f, daemon=True) for f in (insert_loop, read_loop, second_process)
    ]
    for thread in threads:
        thread.start()
    build_s, build_ok = dbt("build")
    stop.set()
    for thread in threads:
        thread.join()
    emit(
        "c",
        "dbt_build_in_process",
        seconds=round(build_s, 1),
        success=build_ok,
        reads=len(reads),
        read_failures=read_failures[0],
        read_errors=read_errors[:3],
        **percentiles(reads),
        rows_inserted=inserted[0],
        insert_rows_per_s=round(inserted[0] / build_s),
        insert_failures=insert_failures[0],
        insert_errors=insert_errors[:3],
        insert=percentiles(insert_times),
        how="one process; dbt build (dbtRunner, same DuckDB instance), a thread inserting "
        "500 rows/100 ms into bench_landing, a thread reading 20/s on owner cursors",
    )

    stop.clear()
    reads.clear()
    threads = [threading.Thread(target=f, daemon=True) for f in (insert_loop, read_loop)]
    for thread in threads:
        thread.start()
    run_s, run_ok = dbt("run", "--select", "staging")
    stop.set()
    for thread in threads:
        thread.join()
    emit(
        "c",
        "dbt_run_staging_warm",
        seconds=round(run_s, 1),
        success=run_ok,
        reads=len(reads),
        read_failures=read_failures[0],
        **percentiles(reads),
        how="second invoke in the same process: dbt run --select staging (incremental)",
    )
    owner.close()


# -------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=pathlib.Path)
    parser.add_argument("--scratch", type=pathlib.Path)
    parser.add_argument("--ducklake-python", help="interpreter whose duckdb loads DuckLake")
    parser.add_argument("--only", default="a,b,c")
    parser.add_argument("--scale", type=int, default=10, help="a larger warehouse for a (1: none)")
    parser.add_argument("--seconds", type=float, default=30.0, help="DuckLake writer duration")
    # internal: the child processes
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--stop-file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "a-reader":
        return reader_role(args.folder, queries=200, interval=0.05)
    if args.role == "b-writer":
        return lake_writer_role(args.lake, args.source, args.seconds, batch=500)
    if args.role == "b-reader":
        return lake_reader_role(args.lake, args.stop_file, interval=0.05)
    if args.role == "b-list":
        return say([str(f) for f in extension_files()])
    if args.role == "b-measure":
        return lake_measure_role(args.lake, args.source, args.seconds)

    if args.warehouse is None or not args.warehouse.is_file():
        parser.error("--warehouse PATH: a built leadflow warehouse (it is copied, never written)")
    scratch = args.scratch or pathlib.Path(tempfile.mkdtemp(prefix="measure-serving-"))
    scratch.mkdir(parents=True, exist_ok=True)
    emit(
        "-",
        "machine",
        cpus=os.cpu_count(),
        duckdb=duckdb.__version__,
        python=sys.version.split()[0],
        warehouse=str(args.warehouse),
        warehouse_bytes=args.warehouse.stat().st_size,
        scratch=str(scratch),
    )
    started = time.perf_counter()
    chosen = set(args.only.split(","))
    if "a" in chosen:
        option_a(args.warehouse, scratch, args.scale)
    if "b" in chosen:
        option_b(args.warehouse, scratch, args.ducklake_python, args.seconds)
    if "c" in chosen:
        option_c(args.warehouse, scratch)
    emit("-", "total", seconds=round(time.perf_counter() - started, 1))


if __name__ == "__main__":
    main()
