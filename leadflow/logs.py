"""Logging set-up: readable on a terminal, one JSON object per line everywhere else."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from rich.logging import RichHandler


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Send leadflow's logs to stderr: rich on a terminal, JSON lines otherwise."""
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(show_path=False, rich_tracebacks=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("leadflow", "ingestion", "models", "scoring_api", "quality"):
        logging.getLogger(name).setLevel(level)
    # kafka-python warns about every reconnect attempt; ingestion logs what it waits for
    logging.getLogger("kafka").setLevel(logging.ERROR)
