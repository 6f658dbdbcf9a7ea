"""The ingest loop: Kafka consumers in one group feeding the landing sink, resilient to faults."""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError, UnsupportedCodecError
from kafka.structs import OffsetAndMetadata

from ingestion.archive import ArchiveWriter
from ingestion.contracts import DEFAULT_RULES, TOPIC_BY_SOURCE, ContractRules
from ingestion.sink import (
    LandingCounts,
    LandingSink,
    Message,
    PreparedBatch,
    record_hash,
    stored_offsets,
    stored_positions,
)
from leadflow.errors import LeadflowError

log = logging.getLogger(__name__)
SOURCE_TOPICS: tuple[str, ...] = tuple(TOPIC_BY_SOURCE.values())
MAX_BACKOFF_S = 30.0
LANDING_INTERVAL_S = 0.25
"""A steady stream lands at most this often, in one batch: each landing is a transaction,
archive files and a Kafka commit whatever its size, and at 10 small batches a second
(one a fetch) landing took a third of a core that the live scorer needed (measured with
`leadflow bench freshness`). A lone event waits at most that long."""


class IngestError(LeadflowError, RuntimeError):
    """Ingestion cannot go on; the message says what to do."""


REMEDIES = (
    "Nothing was skipped or re-read. If the broker lost its log, rebuild the warehouse from "
    "the Parquet archive (`leadflow rebuild`); to read this log from its beginning on "
    "purpose, start a new consumer group (LEADFLOW_CONSUMER_GROUP)."
)


class BrokerLostData(IngestError):
    """The broker's log is not the log the warehouse landed: shorter, other content, or
    another cluster."""


def _not_the_log_read(what: str) -> BrokerLostData:
    return BrokerLostData(f"{what}: this is not the log the warehouse landed. {REMEDIES}")


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run landed."""

    landed: int
    duplicates: int
    quarantined: int
    consumed: int


@dataclass(frozen=True)
class IngestOptions:
    """How ingest workers behave; see `ingest` for the meaning of each field."""

    group_id: str
    until_idle: bool = False
    idle_seconds: float = 2.0
    max_records: int = 5000
    join_timeout_s: float = 60.0
    archive_dir: Path | None = None
    session_timeout_ms: int = 10_000
    rules: ContractRules = DEFAULT_RULES


class _ResumeFromWarehouse(ConsumerRebalanceListener):
    """On assignment, position every partition at the offset stored with the landed events.

    kafka-python runs these callbacks on its I/O thread, where blocking consumer calls
    (commit, position) are refused: they land to DuckDB and seek, nothing more.
    """

    def __init__(self, worker: _IngestWorker) -> None:
        self.worker = worker

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.worker.flush()

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.worker.position(assigned)


def make_consumer(
    bootstrap: str,
    group_id: str,
    max_records: int,
    session_timeout_ms: int = 10_000,
    member: int = 0,
) -> KafkaConsumer:
    """A consumer in `group_id` that never auto-commits and never resets offsets silently."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=f"{group_id}-consumer-{member}",
        enable_auto_commit=False,
        # every assigned partition is positioned explicitly (stored offset or beginning):
        # an out-of-range offset means the broker lost data and must stop us, not reset us.
        auto_offset_reset="none",
        max_poll_records=max_records,
        # a fetch that finds no new record waits this long at the broker: the embedded
        # broker holds it that long even when records arrive meanwhile (500 ms by default:
        # produce to consume p95 0.24 s; at 100 ms, 0.05 s); an idle consumer asks 10 times
        # a second, which costs nothing
        fetch_max_wait_ms=100,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=min(1_000, session_timeout_ms // 3),
        max_poll_interval_ms=120_000,
        request_timeout_ms=30_000,
        reconnect_backoff_max_ms=5_000,
    )


class _PipelinedWriter:
    """Lands prepared batches on a thread of its own, one at a time and in order.

    DuckDB releases the GIL while it inserts, so the consumer polls and validates the next
    batch while this one lands. At most one batch is in flight; `submit` waits for it first.
    """

    def __init__(self, sink: LandingSink, name: str) -> None:
        self.sink = sink
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._in_flight: tuple[Future[LandingCounts], PreparedBatch] | None = None

    def submit(self, batch: PreparedBatch) -> tuple[LandingCounts, PreparedBatch] | None:
        """Wait for the batch in flight (raising its error), then start landing `batch`.

        Returns the batch that finished, with its counts. When the one in flight failed,
        `batch` is not started: the caller seeks back and reads both again.
        """
        done = self.wait()
        self._in_flight = (self._executor.submit(self.sink.land, batch), batch)
        return done

    def wait(self) -> tuple[LandingCounts, PreparedBatch] | None:
        """Wait for the batch in flight, if any: its counts, or its error raised here."""
        if self._in_flight is None:
            return None
        future, batch = self._in_flight
        self._in_flight = None
        return future.result(), batch

    def close(self) -> None:
        """Stop the writer thread; a batch still in flight finishes first."""
        self._executor.shutdown(wait=True)


class _IngestWorker:
    """One consumer of the group with its own warehouse cursor and sink."""

    def __init__(
        self,
        bootstrap: str,
        connection: duckdb.DuckDBPyConnection,
        options: IngestOptions,
        progress: Callable[[int], None] | None,
        stop: threading.Event,
        member: int = 0,
    ) -> None:
        self.bootstrap = bootstrap
        self.options = options
        self.progress = progress
        self.stop = stop
        self.consumer = make_consumer(
            bootstrap, options.group_id, options.max_records, options.session_timeout_ms, member
        )
        self.dead_letters = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=5
        )
        self.sink = LandingSink(
            connection,
            options.group_id,
            self.dead_letters,
            archive_dir=options.archive_dir,
            rules=options.rules,
        )
        self.writer = _PipelinedWriter(self.sink, name=f"land-{id(self):x}")
        self.totals = LandingCounts()
        self.consumed = 0
        self._submitted_at = 0.0  # monotonic: when a batch was last handed to the writer
        self._landed_offsets: dict[tuple[str, int], int] = {}  # not yet mirrored to Kafka
        # per partition, the last landed record (offset, checksum) to find again before
        # landing more: a log that holds something else there is not the log that was read
        self._verify: dict[TopicPartition, tuple[int, str]] = {}
        self._log_mismatch: BrokerLostData | None = None  # found on the I/O thread

    def commit_to_kafka(self) -> None:
        """Mirror the landed offsets of the partitions still assigned into Kafka's group
        offsets, for lag monitoring. Only on the consumer's thread, outside callbacks."""
        assigned = self.consumer.assignment()
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(o, "", -1)
            for (t, p), o in self._landed_offsets.items()
            if TopicPartition(t, p) in assigned
        }
        self._landed_offsets.clear()
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except KafkaError as error:
            # DuckDB holds the authoritative offsets; Kafka's copy catches up next batch.
            log.warning("kafka offset commit failed (landing unaffected): %s", error)

    def flush(self) -> None:
        """Land what is buffered and wait until it, and what was in flight, has landed."""
        self._submit(self.sink.prepare())
        self._landed(self.writer.wait())

    def _submit(self, batch: PreparedBatch | None) -> None:
        """Start landing `batch` on the writer thread, finishing the previous one first."""
        if batch is not None:
            self._landed(self.writer.submit(batch))

    def _landed(self, done: tuple[LandingCounts, PreparedBatch] | None) -> None:
        """After a batch's DuckDB commit: count it, queue its offsets for Kafka, report it."""
        if done is None:
            return
        counts, batch = done
        self.totals += counts
        self._landed_offsets.update(batch.next_offsets)
        if self.progress is not None:
            self.progress(batch.messages)

    def position(self, assigned: list[TopicPartition]) -> None:
        """Seek each partition to its stored offset, or to the beginning if none is stored.

        Where the last landed record's checksum is stored, seek to that record instead, to
        find it again before landing more (`_verified`).
        """
        self._landed(self.writer.wait())  # the stored offsets must include what is in flight
        stored = stored_positions(self.sink.connection, self.options.group_id)
        cluster_id = self.cluster_id()
        self.sink.cluster_id = cluster_id
        fresh = []
        for tp in assigned:
            self._verify.pop(tp, None)
            position = stored.get((tp.topic, tp.partition))
            if position is None:
                fresh.append(tp)
                continue
            if position.cluster_id and cluster_id and position.cluster_id != cluster_id:
                self._log_mismatch = _not_the_log_read(
                    f"{tp.topic}[{tp.partition}] was landed from Kafka cluster "
                    f"{position.cluster_id!r}, and {self.bootstrap} is cluster {cluster_id!r}"
                )
                continue
            if position.last_record_hash and position.next_offset > 0:
                self._verify[tp] = (position.next_offset - 1, position.last_record_hash)
                self.consumer.seek(tp, position.next_offset - 1)
            else:
                self.consumer.seek(tp, position.next_offset)
        if fresh:
            self.consumer.seek_to_beginning(*fresh)
        if assigned:
            log.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in assigned))

    def run(self) -> None:
        """Consume and land until stopped, or until caught up with `until_idle`."""
        self.consumer.subscribe(list(SOURCE_TOPICS), listener=_ResumeFromWarehouse(self))
        started = last_activity = time.monotonic()
        backoff = 0.5
        try:
            while not self.stop.is_set():
                try:
                    count = self._poll_and_land()
                    if count:
                        last_activity = time.monotonic()
                    elif self.options.until_idle and self._idle(started, last_activity):
                        return
                    backoff = 0.5
                except OffsetOutOfRangeError as error:
                    raise BrokerLostData(
                        "the broker has no data at the offsets this warehouse has landed up to "
                        f"({error}): its log was lost or truncated. {REMEDIES}"
                    ) from None
                except UnsupportedCodecError as error:
                    # not an outage: retrying would spin on the same batch for ever
                    raise IngestError(
                        f"a producer compressed messages with a codec this installation cannot "
                        f"read ({error}); nothing after them was landed. Install leadflow with "
                        "its dependencies (kafka-python[lz4,snappy,zstd]) and run ingest again."
                    ) from None
                except KafkaError as error:
                    log.warning(
                        "kafka at %s unavailable (%s); retrying in %.1f s",
                        self.bootstrap,
                        type(error).__name__,
                        backoff,
                    )
                    self._rewind()
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    last_activity = time.monotonic()
        finally:
            try:
                self.flush()
                self.commit_to_kafka()
            finally:
                self.writer.close()
                self.consumer.close()
                self.dead_letters.close(timeout=5)

    def cluster_id(self) -> str | None:
        """The id of the Kafka cluster the consumer reads from, once its metadata is in."""
        cluster = getattr(getattr(self.consumer, "_client", None), "cluster", None)
        return getattr(cluster, "cluster_id", None)  # where kafka-python keeps it

    def _verified(self, tp: TopicPartition, records: list[Any]) -> list[Any]:
        """The records after the last landed one, once that one is found unchanged."""
        if tp not in self._verify or not records:
            return records
        offset, checksum = self._verify.pop(tp)
        first = records[0]
        found = Message(first.topic, first.partition, first.offset, first.key, first.value)
        if first.offset != offset:
            raise _not_the_log_read(
                f"{tp.topic}[{tp.partition}] has no record at offset {offset}, the last one "
                f"landed (its log starts at {first.offset} now)"
            )
        if record_hash(found) != checksum:
            raise _not_the_log_read(
                f"{tp.topic}[{tp.partition}] holds other content at offset {offset} than the "
                "record landed from there (the broker was replaced or refilled)"
            )
        return records[1:]

    def _poll_and_land(self) -> int:
        # what is buffered lands once LANDING_INTERVAL_S has passed since the last batch:
        # the poll waits no longer than that for more
        waiting = self.sink.pending
        due_in = self._submitted_at + LANDING_INTERVAL_S - time.monotonic()
        timeout_ms = 500 if not waiting else max(0, min(500, int(1000 * due_in)))
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.options.max_records)
        if self._log_mismatch is not None:  # found while poll assigned partitions
            raise self._log_mismatch
        count = 0
        for tp, fetched in polled.items():
            records = self._verified(tp, fetched)
            for record in records:
                self.sink.add(
                    Message(record.topic, record.partition, record.offset, record.key, record.value)
                )
            count += len(records)
        self.consumed += count
        buffered = self.sink.pending
        due = time.monotonic() - self._submitted_at >= LANDING_INTERVAL_S
        if buffered and (due or not count or buffered >= self.options.max_records):
            self._submitted_at = time.monotonic()
            self._submit(self.sink.prepare())  # lands while the next batch is polled
            self.commit_to_kafka()
        elif not buffered:
            self._check_log_not_shorter()
        return count

    def _check_log_not_shorter(self) -> None:
        """Raise BrokerLostData when a partition's log ends before the offset we resume from.

        Kafka answers such a fetch with OFFSET_OUT_OF_RANGE; some Kafka-compatible brokers
        answer it with no records, so the fetch's high watermark is compared as well.
        """
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            # where the last landed record is still to be found, the log must reach past it
            resumes_at = self._verify[tp][0] + 1 if tp in self._verify else None
            resumes_at = resumes_at or self.consumer.position(tp)
            if highwater is not None and resumes_at > highwater:
                raise OffsetOutOfRangeError(
                    f"{tp.topic}[{tp.partition}] resumes at {resumes_at} "
                    f"but the broker's log ends at {highwater}"
                )

    def _rewind(self) -> None:
        """Drop the unlanded buffer and seek back to the stored offsets to read it again."""
        self.sink.discard()
        # a batch in flight lands or fails as a whole; either way the stored offsets say
        # where to read from again (one whose dead letters could not be sent is re-read)
        with contextlib.suppress(KafkaError):
            self._landed(self.writer.wait())
        try:
            self.position(list(self.consumer.assignment()))
        except (KafkaError, AssertionError) as error:  # assignment may be mid-rebalance
            log.debug("rewind deferred to the next assignment: %s", error)

    def _idle(self, started: float, last_activity: float) -> bool:
        now = time.monotonic()
        if not self.consumer.assignment():
            if now - started > self.options.join_timeout_s:
                raise IngestError(
                    f"no partitions assigned to group {self.options.group_id!r} after "
                    f"{self.options.join_timeout_s:.0f} s: check that the topics exist on "
                    f"{self.bootstrap} and that no other consumer of the group holds them"
                )
            return False
        return now - last_activity >= self.options.idle_seconds and self._caught_up()

    def _caught_up(self) -> bool:
        """True when every assigned partition has been read up to its last fetched end."""
        # The high watermark of the latest fetch, not ListOffsets: some Kafka-compatible
        # brokers under-report ListOffsets for multi-record batches.
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None or self.consumer.position(tp) < highwater:
                return False
        return True


@contextlib.contextmanager
def _tuned_for_landing() -> Iterator[None]:
    """Collect garbage rarely and switch threads often while landing.

    Every batch allocates thousands of short-lived records that are freed by reference
    counting; with the default threshold the cyclic collector runs every 700 of them and
    re-scans every live object each time, which cost about a third of landing time.

    DuckDB's Python client takes the GIL between the tasks of a query (to check for
    Ctrl-C); with the default 5 ms switch interval the writer thread waits that long for
    the busy consumer thread each time. 1 ms measured ~8 % faster landing.
    """
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.freeze()  # what is alive now (imports, the consumer) is never scanned again
    gc.set_threshold(100_000, 50, 1000)
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
        gc.unfreeze()


def ingest(
    bootstrap: str,
    connection: duckdb.DuckDBPyConnection,
    *,
    group_id: str = "",
    consumers: int = 1,
    until_idle: bool = False,
    idle_seconds: float = 2.0,
    max_records: int = 5000,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    join_timeout_s: float = 60.0,
    archive_dir: Path | None = None,
    session_timeout_ms: int = 10_000,
    rules: ContractRules = DEFAULT_RULES,
    options: IngestOptions | None = None,
) -> IngestReport:
    """Consume the source topics with `consumers` group members and land every message.

    `options`, when given, replaces the keyword arguments it has fields for.

    With `until_idle`, each member stops once it has been idle `idle_seconds` and has read
    its partitions to their end. Each member lands through its own DuckDB cursor. `rules`
    are the contract's deployment settings (the window of plausible event times).
    """
    if options is None and not group_id:
        raise ValueError("ingest needs a consumer group: group_id, or options")
    options = options or IngestOptions(
        group_id=group_id,
        until_idle=until_idle,
        idle_seconds=idle_seconds,
        max_records=max_records,
        join_timeout_s=join_timeout_s,
        archive_dir=archive_dir,
        session_timeout_ms=session_timeout_ms,
        rules=rules,
    )
    stop = stop or threading.Event()
    if options.archive_dir is not None:  # before any member lands: no batch is in flight
        ArchiveWriter(options.archive_dir).reconcile(connection)
    # Read once before any member joins: the first parameterised DuckDB query of a process
    # imports pandas (~2 s), which inside a rebalance listener would stall Kafka heartbeats.
    stored = stored_offsets(connection, options.group_id)
    log.info(
        "group %s resumes %d partitions from the offsets stored with the landed events",
        options.group_id,
        len(stored),
    )
    workers = [
        _IngestWorker(bootstrap, connection.cursor(), options, progress, stop, member)
        for member in range(consumers)
    ]
    failures: list[BaseException] = []

    def run(worker: _IngestWorker) -> None:
        try:
            worker.run()
        except BaseException as error:
            failures.append(error)
            stop.set()

    if consumers == 1:
        with _tuned_for_landing():
            workers[0].run()
    else:
        threads = [
            threading.Thread(target=run, args=(w,), name=f"ingest-{i}")
            for i, w in enumerate(workers)
        ]
        with _tuned_for_landing():
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]
    return IngestReport(
        landed=sum(w.totals.landed for w in workers),
        duplicates=sum(w.totals.duplicates for w in workers),
        quarantined=sum(w.totals.quarantined for w in workers),
        consumed=sum(w.consumed for w in workers),
    )
