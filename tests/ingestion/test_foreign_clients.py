"""Events from producers that are not leadflow's own land like any other.

Nothing in ingestion may depend on how leadflow's producer writes (its keys, headers,
batching or compression): the contract is the message value alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import confluent_kafka
import duckdb
import orjson
import pytest

from ingestion.consumer import ingest
from ingestion.contracts import ContractViolation, decode_event
from ingestion.simulator import simulate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def contract_events(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """A few hundred valid web events of a simulation, as JSON lines."""
    work = tmp_path_factory.mktemp("foreign")
    simulate(work / "events.jsonl", work / "truth.csv", seed=5, years=0.05, inquiries_per_year=1000)
    web = []
    for line in (work / "events.jsonl").read_bytes().splitlines():
        try:
            event = decode_event(line)
        except ContractViolation:  # the simulator's planted malformed lines are not for this test
            continue
        if event.source == "web":
            web.append(line)
    unique = list({orjson.loads(line)["event_id"]: line for line in web}.values())
    assert len(unique) > 200
    return unique


def _landed_ids(warehouse: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in warehouse.execute("select event_id from raw_events").fetchall()}


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_events_from_a_librdkafka_producer_land_whatever_its_compression(
    broker: str, warehouse: duckdb.DuckDBPyConnection, contract_events: list[bytes], codec: str
) -> None:
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": broker, "compression.type": codec, "linger.ms": 50}
    )
    failures: list[object] = []
    for line in [*contract_events, b'{"event_type": "page_viewed"}']:
        producer.produce(  # no key, no headers: only the value carries the contract
            "leadflow.web",
            value=line,
            on_delivery=lambda error, _: failures.append(error) if error else None,
        )
    assert producer.flush(30) == 0 and not failures

    del producer  # before the broker stops, so librdkafka has no one to complain to
    report = ingest(broker, warehouse, group_id="test-librdkafka", until_idle=True, idle_seconds=1)

    assert (report.landed, report.quarantined) == (len(contract_events), 1)
    assert _landed_ids(warehouse) == {orjson.loads(line)["event_id"] for line in contract_events}


def _current_librdkafka(tmp_path: Path) -> dict[str, str]:
    """An environment in which kcat loads the librdkafka of the confluent-kafka wheel.

    Debian 12's librdkafka 2.0.2 cannot parse the ApiVersions v3 answer of the embedded
    broker (tansu 0.6) and gives up before sending anything; against an Apache Kafka
    cluster it works as is. kcat itself is unchanged: only the library it loads is newer.
    """
    bundled = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    libraries = sorted(bundled.glob("librdkafka-*.so.1"))
    if not libraries:
        pytest.skip(f"no librdkafka bundled with confluent-kafka under {bundled}")
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "librdkafka.so.1").symlink_to(libraries[0])
    return os.environ | {"LD_LIBRARY_PATH": f"{lib}:{bundled}"}


@pytest.mark.skipif(
    shutil.which("kcat") is None,
    reason="kcat is not installed (Debian package kcat; .ci/run installs it)",
)
def test_events_piped_through_kcat_land(
    tmp_path: Path, broker: str, warehouse: duckdb.DuckDBPyConnection, contract_events: list[bytes]
) -> None:
    keyed = b"".join(
        orjson.loads(line).get("anonymous_id", "anonymous").encode() + b"\t" + line + b"\n"
        for line in contract_events
    )
    done = subprocess.run(
        ["kcat", "-P", "-b", broker, "-t", "leadflow.web", "-K", "\t"],
        input=keyed,
        env=_current_librdkafka(tmp_path),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    report = ingest(broker, warehouse, group_id="test-kcat", until_idle=True, idle_seconds=1)

    assert (report.landed, report.quarantined, report.duplicates) == (len(contract_events), 0, 0)
    assert _landed_ids(warehouse) == {orjson.loads(line)["event_id"] for line in contract_events}
