"""`leadflow bench`: ingest throughput against a same-run baseline; transform build times."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.record import util as kafka_record_util
from rich.console import Console

from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.consumer import SOURCE_TOPICS, ingest
from ingestion.producer import iter_lines, produce_file, route
from ingestion.sink import LandingSink, Message
from ingestion.warehouse import create_landing_tables
from leadflow.pipeline import progress_bar, run_dbt
from leadflow.settings import Settings


@dataclass
class RateClock:
    """Events per second between the first and the last delivery, the first batch excluded.

    Both sides are timed the same way, so group joins and idle waits count for neither.
    """

    first_at: float | None = None
    last_at: float = 0.0
    after_first: int = 0
    batches: list[int] = field(default_factory=list)

    def tick(self, count: int) -> None:
        now = time.perf_counter()
        if self.first_at is None:
            self.first_at = now
        else:
            self.after_first += count
        self.last_at = now

    @property
    def events_per_s(self) -> float:
        if self.first_at is None or self.last_at <= self.first_at:
            return 0.0
        return self.after_first / (self.last_at - self.first_at)


def bare_consume(bootstrap: str, expected: int, timeout_s: float = 600) -> RateClock:
    """Read every source partition from the start with a bare kafka-python consumer."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    partitions = [
        TopicPartition(topic, p)
        for topic in SOURCE_TOPICS
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    clock, seen = RateClock(), 0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < expected and time.monotonic() < deadline:
            count = 0
            for records in consumer.poll(timeout_ms=500, max_records=5000).values():
                for record in records:  # a consumer of JSON events decodes them
                    with contextlib.suppress(orjson.JSONDecodeError):
                        orjson.loads(record.value)
                count += len(records)
            if count:
                seen += count
                clock.tick(count)
    finally:
        consumer.close()
    return clock


def bench_ingest(
    console: Console, events: int = 200_000, seed: int = 11, consumers: int = 1
) -> dict[str, Any]:
    """Stream `events` simulated events through a fresh broker; compare leadflow to bare."""
    from ingestion.simulator import estimate_events, simulate

    with tempfile.TemporaryDirectory(prefix="leadflow-bench-") as scratch:
        work = Path(scratch)
        per_year = math.ceil(7000 * events / estimate_events(2.0, 7000))
        console.log(f"simulating ≥{events:,} events")
        while True:  # the estimate is close, not exact: grow until there are enough
            simulated = simulate(
                work / "events.jsonl", work / "truth.csv", seed=seed, inquiries_per_year=per_year
            )
            if simulated.events_written >= events:
                break
            per_year = math.ceil(per_year * 1.02 * events / simulated.events_written)
        with EmbeddedBroker(log_path=work / "broker.log") as broker:
            ensure_topics(broker.bootstrap)
            produced = produce_file(broker.bootstrap, work / "events.jsonl")
            console.log(
                f"produced {produced.sent:,} events; bare kafka-python consumer reading them"
            )
            bare = bare_consume(broker.bootstrap, produced.sent)
            console.log("leadflow ingest landing them")
            landed = RateClock()
            with contextlib.closing(duckdb.connect(str(work / "warehouse.duckdb"))) as connection:
                create_landing_tables(connection)
                report = ingest(
                    broker.bootstrap,
                    connection,
                    group_id="leadflow-bench",
                    consumers=consumers,
                    until_idle=True,
                    idle_seconds=2.0,
                    progress=landed.tick,
                    archive_dir=work / "archive",
                )
    accounted = report.landed + report.quarantined + report.duplicates
    return {
        "benchmark": "ingest",
        "events": produced.sent,
        "simulated": simulated.events_written,
        "consumers": consumers,
        "bare_consume_eps": round(bare.events_per_s),
        "ingest_eps": round(landed.events_per_s),
        "ratio": round(landed.events_per_s / bare.events_per_s, 3) if bare.events_per_s else None,
        "all_accounted_for": accounted == produced.sent,
        # without the crc32c package kafka-python checks CRCs in pure Python, which
        # slows both sides ~4x and makes the ratio look better than it is
        "native_crc32c": kafka_record_util.crc32c_c is not None,
    }


# What `bench transform` times: dbt's seeds and models, not its tests. Tests check whole
# tables whatever the materialisation, so they would add the same seconds to both runs and
# hide what incremental models save; `leadflow transform` runs them, the bench does not.
MODELS_ONLY = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
INCREMENT_SHARE = 0.01
# The base's landing times, as if each event had landed when it arrived: at the newest
# occurred_at seen so far in arrival (landing) order, so a late event lands late.
AS_ARRIVED = """
update raw_events
set ingested_at = arrivals.arrived_at
from (
    select
        event_id,
        max(occurred_at) over (order by rowid rows unbounded preceding) as arrived_at
    from raw_events
) as arrivals
where raw_events.event_id = arrivals.event_id
"""
_SIZE_SUFFIXES = {"k": 1_000, "m": 1_000_000}


def parse_sizes(text: str) -> tuple[int, int]:
    """Two event counts from '1m,10m' or '100k,1m' (or plain numbers), smallest first."""
    sizes = []
    for part in text.lower().replace(" ", "").split(","):
        scale = _SIZE_SUFFIXES.get(part[-1:], 1)
        number = part[:-1] if scale > 1 else part
        try:
            sizes.append(round(float(number) * scale))
        except ValueError:
            raise ValueError(f"not an event count: {part!r} (try 100k, 1m or 10m)") from None
    if len(sizes) != 2 or min(sizes) <= 0 or sizes[0] == sizes[1]:
        raise ValueError(f"give two different positive sizes, e.g. 1m,10m (got {text!r})")
    small, large = sorted(sizes)
    return small, large


def size_label(size: int) -> str:
    """1_000_000 -> '1m', 100_000 -> '100k', 1234 -> '1234'."""
    for suffix, scale in sorted(_SIZE_SUFFIXES.items(), key=lambda item: -item[1]):
        if size % scale == 0:
            return f"{size // scale}{suffix}"
    return str(size)


@dataclass(frozen=True)
class LandedLog:
    """A warehouse of the first `lines` simulated lines, landed, and the lines that follow."""

    directory: Path
    lines: int
    events: int  # rows of raw_events: valid lines, duplicates absorbed
    increment_lines: int

    @property
    def warehouse(self) -> Path:
        """The landed warehouse (landing tables only; copy it before building)."""
        return self.directory / "landed.duckdb"

    @property
    def increment(self) -> Path:
        """The next INCREMENT_SHARE of simulated lines, in arrival order (JSON Lines)."""
        return self.directory / "increment.jsonl"


def land_lines(
    connection: duckdb.DuckDBPyConnection,
    lines: Iterable[bytes],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Land raw event lines through the real sink, as `leadflow ingest` would, without a broker."""
    sink = LandingSink(connection, group_id="leadflow-bench")
    offsets: dict[str, Iterator[int]] = {}
    for raw in lines:
        topic, key, _ = route(raw)
        offset = next(offsets.setdefault(topic, itertools.count()))
        sink.add(Message(topic=topic, partition=0, offset=offset, key=key, value=raw))
        if sink.pending >= 5000:
            sink.flush()
            if progress is not None:
                progress(5000)
    pending = sink.pending
    sink.flush()
    if progress is not None:
        progress(pending)


def landed_log(console: Console, cache_dir: Path, size: int, seed: int) -> LandedLog:
    """The cached landed warehouse of `size` simulated lines (and its increment), made if missing.

    Landing ten million events through the sink takes long, so the result is kept under
    `cache_dir`, keyed by size and seed. Its raw_events' ingested_at are then set to when
    each event arrived in simulated time (AS_ARRIVED): a real warehouse of that size
    landed over two years, not in the minutes the bench took, and incremental runs re-read
    the lookback before the newest landing, which must be an hour of arrivals, not all of
    them. The increment lands later, through the sink, with today's clock.
    """
    from ingestion.simulator import estimate_events, simulate

    directory = cache_dir / f"transform-{size_label(size)}-seed{seed}"
    done = directory / "landed.json"
    if done.exists():
        console.log(f"reusing the landed warehouse cached in {directory} (delete it to land again)")
        return LandedLog(directory=directory, **json.loads(done.read_text()))
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    increment_lines = math.ceil(size * INCREMENT_SHARE)
    wanted = size + increment_lines
    # ~3 % over the estimate, so that one simulation is almost always enough
    per_year = math.ceil(7000 * wanted * 1.03 / estimate_events(2.0, 7000))
    events_path, truth_path = directory / "events.jsonl", directory / "truth.csv"
    while True:  # the estimate is close, not exact: grow until there are enough
        console.log(f"simulating two years at {per_year:,} inquiries a year (≥{wanted:,} lines)")
        with progress_bar(console) as progress:
            task = progress.add_task("simulate", total=estimate_events(2.0, per_year))
            simulated = simulate(
                events_path,
                truth_path,
                seed=seed,
                inquiries_per_year=per_year,
                progress=functools.partial(progress.advance, task),
            )
        if simulated.events_written >= wanted:
            break
        per_year = math.ceil(per_year * 1.02 * wanted / simulated.events_written)

    console.log(
        f"landing {size:,} lines through the sink into {directory / 'landed.duckdb'} "
        f"(cached for the next run); keeping the next {increment_lines:,} as the increment"
    )
    lines = iter_lines(events_path)
    with (
        contextlib.closing(duckdb.connect(str(directory / "landed.duckdb"))) as connection,
        progress_bar(console) as progress,
    ):
        create_landing_tables(connection)
        task = progress.add_task("land", total=size)
        land_lines(connection, itertools.islice(lines, size), lambda n: progress.advance(task, n))
        connection.execute(AS_ARRIVED)
        connection.execute("checkpoint")
        events = connection.execute("select count(*) from raw_events").fetchone()[0]
    with (directory / "increment.jsonl").open("wb") as increment:
        for raw in itertools.islice(lines, increment_lines):
            increment.write(raw + b"\n")
    events_path.unlink()
    truth_path.unlink()
    landed = {"lines": size, "events": events, "increment_lines": increment_lines}
    done.write_text(json.dumps(landed))
    return LandedLog(directory=directory, **landed)


@dataclass(frozen=True)
class BuildTime:
    """How long one dbt build took: wall clock, and dbt's own time running the nodes."""

    wall_s: float
    dbt_s: float  # run_results.json's elapsed_time: without interpreter start and parsing


def timed_build(console: Console, settings: Settings, warehouse: Path, *flags: str) -> BuildTime:
    """Time one `dbt build` of seeds and models on `warehouse`; log its slowest models."""
    with progress_bar(console) as progress:
        task = progress.add_task("dbt build", total=None)
        started = time.perf_counter()
        run_dbt(
            settings,
            "build",
            (*MODELS_ONLY, *flags),
            on_node=lambda: progress.advance(task),
            warehouse=warehouse,
        )
        wall = time.perf_counter() - started
    run_results = json.loads((settings.home / "dbt" / "target" / "run_results.json").read_text())
    slowest = sorted(run_results["results"], key=lambda r: -r["execution_time"])[:5]
    named = (f"{r['unique_id'].rsplit('.', 1)[-1]} {r['execution_time']:.1f}s" for r in slowest)
    dbt_s = run_results["elapsed_time"]
    console.log(f"{wall:.1f}s ({dbt_s:.1f}s in dbt); slowest: {', '.join(named)}")
    return BuildTime(wall_s=wall, dbt_s=dbt_s)


def bench_transform(
    console: Console,
    settings: Settings,
    sizes: tuple[int, int] = (1_000_000, 10_000_000),
    seed: int = 11,
) -> dict[str, Any]:
    """Time a full dbt build at two sizes, then an incremental run after 1 % more events.

    The incremental run is timed on the larger warehouse, where the goal matters: its full
    build is the baseline of `incremental_ratio`.
    """
    cache_dir = settings.home / "bench"
    logs = [landed_log(console, cache_dir, size, seed) for size in sorted(sizes)]
    work = cache_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # dbt's target (and partial-parse state) under the scratch folder; one warehouse path
    # for every build, so that dbt parses the project once, before the clock starts
    dbt_settings = settings.model_copy(update={"home": work})
    warehouse = work / "warehouse.duckdb"
    result: dict[str, Any] = {"benchmark": "transform"}
    try:
        run_dbt(dbt_settings, "parse", warehouse=warehouse)
        full: list[BuildTime] = []
        for log in logs:
            shutil.copyfile(log.warehouse, warehouse)
            console.log(f"full build of {log.events:,} events ({size_label(log.lines)} lines)")
            full.append(timed_build(console, dbt_settings, warehouse, "--full-refresh"))
            result[f"events_{size_label(log.lines)}"] = log.events
            result[f"full_{size_label(log.lines)}_s"] = round(full[-1].wall_s, 2)
            if log is not logs[-1]:
                warehouse.unlink()
        with contextlib.closing(duckdb.connect(str(warehouse))) as connection:
            before = connection.execute("select count(*) from raw_events").fetchone()[0]
            land_lines(connection, iter_lines(logs[-1].increment))
            increment_events = connection.execute("select count(*) from raw_events").fetchone()[0]
        increment_events -= before
        console.log(f"incremental run after landing {increment_events:,} more events")
        incremental = timed_build(console, dbt_settings, warehouse)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small, large = (size_label(log.lines) for log in logs)
    result.update(
        scale_ratio=round(full[1].wall_s / full[0].wall_s, 2),
        events_ratio=round(logs[1].events / logs[0].events, 2),
        increment_events=increment_events,
        incremental_on=large,
        incremental_s=round(incremental.wall_s, 2),
        incremental_ratio=round(incremental.wall_s / full[1].wall_s, 3),
        # the same without dbt's fixed start-up (interpreter, adapter, manifest): what the
        # models themselves cost, which is what grows with events
        dbt_elapsed_s={
            f"full_{small}": round(full[0].dbt_s, 2),
            f"full_{large}": round(full[1].dbt_s, 2),
            "incremental": round(incremental.dbt_s, 2),
        },
        measured="wall-clock seconds of dbt build, seeds and models (tests excluded)",
    )
    return result


SCORE_BENCH_LABELLED = 40_000


def bench_score(console: Console, *, leads: int = 1_000_000, seed: int = 5) -> dict[str, Any]:
    """Batch scoring throughput at `leads` open inquiries, against scikit-learn's own
    one-hot + logistic regression pipeline on the same features in the same run.

    leads_per_s covers what `leadflow score` computes for every lead: probability, 0-100
    score, tier and the top three reasons with their points and their sentence for sales, as
    the JSON lead_scores stores (reason_text_s of it is the phrasing). The time to build the
    features from the event tables is reported beside it. The baseline computes only the
    probability, so the ratio understates the model's own speed.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES, build_features
    from models.moments import facts_at
    from models.reasons import reasons_json
    from models.scorer import current_scorer, score_features
    from models.synthetic import START, write_tables
    from models.train import train

    total = leads + SCORE_BENCH_LABELLED
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-score-") as work:
        root = Path(work)
        with duckdb.connect(str(root / "bench.duckdb")) as connection:
            console.log(f"writing {total:,} synthetic inquiries with their sales events")
            write_tables(
                connection, inquiries=total, days=3650, open_share=leads / total, seed=seed
            )
            console.log(f"training on {SCORE_BENCH_LABELLED:,} labelled inquiries")
            train(connection, root / "registry")
            scorer = current_scorer(root / "registry")
            ids = connection.execute("select inquiry_id from fct_inquiries where is_open").df()
            as_of = START + dt.timedelta(days=3651)
            console.log(f"computing point-in-time features of {len(ids):,} open inquiries")
            started = time.perf_counter()
            facts = facts_at(connection, ids.assign(as_of=as_of))
            features = build_features(facts)
            feature_s = time.perf_counter() - started
        console.log("scoring, with the reasons phrased as lead_scores stores them")
        started = time.perf_counter()
        scores = score_features(scorer, features)
        numbers_s = time.perf_counter() - started
        reasons_json(scores, features)
        scoring_s = time.perf_counter() - started

        console.log("baseline: scikit-learn one-hot + logistic regression on the same features")
        sample = features.iloc[:50_000]
        baseline = Pipeline(
            [
                (
                    "columns",
                    ColumnTransformer(
                        [
                            (
                                "categorical",
                                OneHotEncoder(handle_unknown="ignore"),
                                list(CATEGORICAL_FEATURES),
                            ),  # fmt: skip
                            ("numeric", "passthrough", list(NUMERIC_FEATURES)),
                        ]
                    ),
                ),
                ("classifier", LogisticRegression(max_iter=500)),
            ]
        ).fit(sample, scores.probability[:50_000] > 0.15)
        started = time.perf_counter()
        baseline.predict_proba(features)
        baseline_s = time.perf_counter() - started
    n = len(features)
    return {
        "leads": n,
        "leads_per_s": round(n / scoring_s),
        "baseline_leads_per_s": round(n / baseline_s),
        "ratio": round(baseline_s / scoring_s, 2),
        "feature_s": round(feature_s, 2),
        "scoring_s": round(scoring_s, 3),
        "reason_text_s": round(scoring_s - numbers_s, 3),
    }
