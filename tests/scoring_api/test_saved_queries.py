"""The analysts' saved queries: the shipped examples until the first change, then one JSON
file of the home, rewritten whole on each change; names unique whatever their case."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import transforms
from scoring_api.saved_queries import (
    EXAMPLES_OWNER,
    SavedQueries,
    SavedQuery,
    SavedQueryExists,
    SavedQueryNotFound,
    shipped_examples,
)
from scoring_api.sql_check import check

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def saved(name: str, owner: str = "lee", sql: str = "select 1") -> SavedQuery:
    return SavedQuery(
        name=name, description="询盘 by channel", sql=sql, owner=owner, created_at=NOW
    )


def test_a_new_home_lists_the_shipped_examples_and_writes_nothing(tmp_path: Path) -> None:
    store = SavedQueries(tmp_path / "saved_queries.json")

    queries = store.queries()

    assert [query.name for query in queries] == sorted(q.name for q in shipped_examples())
    assert all(query.owner == EXAMPLES_OWNER and query.created_at is None for query in queries)
    assert len(queries) >= 3
    assert not list(tmp_path.iterdir())


def test_a_saved_query_is_kept_with_its_owner_and_time_beside_the_examples(tmp_path: Path) -> None:
    path = tmp_path / "saved_queries.json"
    SavedQueries(path).add(saved("上季度询盘"))

    again = SavedQueries(path)  # another process, or after a restart

    assert again.get("上季度询盘") == saved("上季度询盘")
    assert {query.name for query in again.queries()} == {
        "上季度询盘",
        *(query.name for query in shipped_examples()),
    }
    assert "上季度询盘" in path.read_text(encoding="utf-8")  # readable, not escaped
    assert [file.name for file in tmp_path.iterdir()] == ["saved_queries.json"]  # none staged


def test_a_name_is_taken_whatever_its_case(tmp_path: Path) -> None:
    store = SavedQueries(tmp_path / "saved_queries.json")
    store.add(saved("Lost reasons"))

    with pytest.raises(SavedQueryExists, match="'lost REASONS' already"):
        store.add(saved("lost REASONS"))

    assert [query.name for query in store.queries()].count("Lost reasons") == 1


def test_a_deleted_query_is_gone_for_good_examples_included(tmp_path: Path) -> None:
    store = SavedQueries(tmp_path / "saved_queries.json")
    example = shipped_examples()[0].name
    store.add(saved("mine"))

    assert store.delete("mine").name == "mine"
    assert store.delete(example).owner == EXAMPLES_OWNER

    assert {query.name for query in store.queries()} == {
        query.name for query in shipped_examples()[1:]
    }
    with pytest.raises(SavedQueryNotFound):
        store.get(example)
    with pytest.raises(SavedQueryNotFound):
        store.delete("mine")


def test_the_file_holds_the_whole_list_as_json(tmp_path: Path) -> None:
    path = tmp_path / "saved_queries.json"
    SavedQueries(path).add(saved("mine"))

    kept = json.loads(path.read_text(encoding="utf-8"))["queries"]

    assert {entry["name"] for entry in kept} >= {"mine", shipped_examples()[0].name}
    assert next(entry for entry in kept if entry["name"] == "mine") == {
        "name": "mine",
        "description": "询盘 by channel",
        "sql": "select 1",
        "owner": "lee",
        "created_at": "2026-12-01T08:00:00+00:00",
    }


def test_every_shipped_example_passes_the_check_over_the_leadership_reports() -> None:
    reports = [path.stem for path in Path(transforms.__file__).parent.glob("marts/**/*.sql")]

    for example in shipped_examples():
        query = check(example.sql, reports, max_chars=20_000)
        assert query.tables, example.name
        assert example.description, example.name
