"""The analysts' saved ad-hoc SQL queries: named, described, owned, in one JSON file of the
home (`$LEADFLOW_HOME/saved_queries.json`), never in the published marts. Until someone
saves or deletes one, the list is the examples leadflow ships (sql_examples.yml)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from leadflow.errors import LeadflowError

EXAMPLES_FILE = Path(__file__).with_name("sql_examples.yml")
EXAMPLES_OWNER = "leadflow"
NAME_PATTERN = (
    r"^[A-Za-z0-9\u4e00-\u9fff](?:[A-Za-z0-9\u4e00-\u9fff _.-]{0,78}[A-Za-z0-9\u4e00-\u9fff])?$"
)
"""Letters, digits and Chinese characters, with spaces, dots, dashes and underscores inside;
at most 80 characters. A name is part of a URL (`/v1/sql/saved/{name}`)."""


class SavedQueryExists(LeadflowError):
    """A query of that name is saved already."""


class SavedQueryNotFound(LeadflowError):
    """No saved query has that name."""


@dataclass(frozen=True)
class SavedQuery:
    """A saved query: `owner` is who saved it (a username, `api-key:<role>`, or `leadflow`
    for the shipped examples, which have no `created_at`)."""

    name: str
    description: str
    sql: str
    owner: str
    created_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat() if self.created_at else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedQuery:
        created = data.get("created_at")
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or ""),
            sql=str(data["sql"]),
            owner=str(data.get("owner") or EXAMPLES_OWNER),
            created_at=dt.datetime.fromisoformat(created) if created else None,
        )


def shipped_examples() -> list[SavedQuery]:
    """The examples leadflow ships."""
    entries = yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))
    return [
        SavedQuery(
            name=entry["name"],
            description=entry["description"],
            sql=entry["sql"].strip(),
            owner=EXAMPLES_OWNER,
            created_at=None,
        )
        for entry in entries
    ]


class SavedQueries:
    """The saved queries kept in `path`; each change rewrites the file atomically (a new
    file renamed over the old), so a reader sees the list before or after, never half."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def queries(self) -> list[SavedQuery]:
        """Every saved query, by name."""
        return sorted(self._read(), key=lambda query: query.name.casefold())

    def get(self, name: str) -> SavedQuery:
        """The query saved as `name` (SavedQueryNotFound)."""
        for query in self._read():
            if query.name == name:
                return query
        raise SavedQueryNotFound(f"no query is saved as {name!r}")

    def add(self, query: SavedQuery) -> None:
        """Save `query` (SavedQueryExists when its name is taken, whatever its case)."""
        with self._lock:
            queries = self._read()
            if any(kept.name.casefold() == query.name.casefold() for kept in queries):
                raise SavedQueryExists(f"a query is saved as {query.name!r} already")
            self._write([*queries, query])

    def delete(self, name: str) -> SavedQuery:
        """Forget the query saved as `name` and return it (SavedQueryNotFound)."""
        with self._lock:
            queries = self._read()
            kept = [query for query in queries if query.name != name]
            if len(kept) == len(queries):
                raise SavedQueryNotFound(f"no query is saved as {name!r}")
            self._write(kept)
        return next(query for query in queries if query.name == name)

    def _read(self) -> list[SavedQuery]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return shipped_examples()
        return [SavedQuery.from_json(entry) for entry in data["queries"]]

    def _write(self, queries: list[SavedQuery]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            with staged.open("w", encoding="utf-8") as file:
                json.dump(
                    {"queries": [query.to_json() for query in queries]},
                    file,
                    ensure_ascii=False,
                    indent=1,
                )
                file.flush()
                os.fsync(file.fileno())
            os.replace(staged, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
