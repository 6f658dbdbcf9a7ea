"""Ad-hoc SQL for analysts (leadership, admin): one read-only SELECT over the published
marts, within a row cap and a time limit, and the queries they saved. What may run and
where is scoring_api/sql_check.py and scoring_api/sql_box.py; the /sql page calls the
same functions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ingestion.contracts import TEXT_PATTERN
from scoring_api.deps import PrincipalDep
from scoring_api.errors import ErrorOut, refusals
from scoring_api.routing import ContractRoute
from scoring_api.saved_queries import NAME_PATTERN, SavedQueries, SavedQuery
from scoring_api.sql_box import SqlBox, SqlResult
from scoring_api.sql_check import MESSAGES

router = APIRouter(
    prefix="/v1/sql",
    tags=["sql"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 422, 503),
)

SqlText = Annotated[
    str,
    Field(
        min_length=1,
        pattern=TEXT_PATTERN,
        description="one SELECT (WITH, UNION and the like included) over the marts that "
        "GET /v1/sql/tables lists, at most LEADFLOW_SQL_MAX_CHARS characters (20,000)",
    ),
]
SavedName = Annotated[
    str,
    Path(
        pattern=NAME_PATTERN,
        max_length=80,
        description="the saved query's name",
    ),
]


class SqlRefusedOut(BaseModel):
    """Why a query did not run or did not finish."""

    detail: str = Field(description="in one sentence, what to change")
    reason: Literal[tuple(MESSAGES)] = Field(  # type: ignore[valid-type]
        description="refused by the box (empty, not_sql, statements, not_select, "
        "statement_inside, parameter, qualified_table, file, unknown_table, table_function, "
        "function, unchecked, too_deep), failed while running (failed), or stopped at a limit "
        "(time_limit, memory_limit)"
    )


QUERY_REFUSED: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {
        "model": SqlRefusedOut,
        "description": "the query was refused (not one read-only SELECT over the marts, or it "
        "reaches for a file, setting, extension or table it may not), failed, or was stopped "
        "at the time or memory limit; `reason` says which",
    },
    status.HTTP_413_CONTENT_TOO_LARGE: {
        "model": ErrorOut,
        "description": "the query is longer than LEADFLOW_SQL_MAX_CHARS characters, or the "
        "body larger than the limit it names",
    },
}


class SqlIn(BaseModel):
    """A query to run."""

    model_config = ConfigDict(extra="forbid")

    sql: SqlText


class ColumnOut(BaseModel):
    """A column: its name and DuckDB type."""

    name: str
    type: str


class SqlResultOut(BaseModel):
    """A query's answer."""

    columns: list[ColumnOut]
    rows: list[list[Any]] = Field(
        description="each row's values in the order of `columns`: numbers as numbers "
        "(DECIMAL as a double; NaN and infinities as the text 'NaN', 'Infinity'), times in "
        "ISO 8601, intervals in seconds, blobs in base64, lists and structs as arrays and "
        "objects"
    )
    row_count: int = Field(description="rows in this answer")
    truncated: bool = Field(description="the query had more rows than `row_cap`: only the first")
    row_cap: int = Field(description="most rows an answer carries (LEADFLOW_SQL_ROW_CAP)")
    elapsed_ms: float = Field(description="time the query ran, fetching included")
    marts_published_at: str | None = Field(description="when the marts it read were published")


class TableOut(BaseModel):
    """A mart a query may read."""

    name: str
    columns: list[ColumnOut]


class TablesOut(BaseModel):
    """The marts a query may read: fct_, dim_ and rpt_ tables, as last published."""

    marts_published_at: str | None
    tables: list[TableOut]


class SavedQueryIn(BaseModel):
    """A query to save under a name."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=80)
    description: str = Field(default="", max_length=500, pattern=TEXT_PATTERN)
    sql: SqlText


class SavedQueryOut(BaseModel):
    """A saved query."""

    name: str
    description: str
    sql: str
    owner: str = Field(description="who saved it; 'leadflow' for the examples it ships")
    created_at: dt.datetime | None = Field(description="null for the shipped examples")


class SavedQueriesOut(BaseModel):
    """Every saved query."""

    queries: list[SavedQueryOut]


def sql_box(request: Request) -> SqlBox:
    """The app's SQL box."""
    box: SqlBox = request.app.state.sql_box
    return box


def saved_queries(request: Request) -> SavedQueries:
    """The app's saved queries."""
    store: SavedQueries = request.app.state.saved_queries
    return store


def result_out(result: SqlResult) -> SqlResultOut:
    return SqlResultOut(
        columns=[ColumnOut(name=column.name, type=column.type) for column in result.columns],
        rows=result.rows,
        row_count=len(result.rows),
        truncated=result.truncated,
        row_cap=result.row_cap,
        elapsed_ms=result.elapsed_ms,
        marts_published_at=result.marts_published_at,
    )


def saved_out(query: SavedQuery) -> SavedQueryOut:
    return SavedQueryOut(
        name=query.name,
        description=query.description,
        sql=query.sql,
        owner=query.owner,
        created_at=query.created_at,
    )


@router.post("", responses=QUERY_REFUSED)
def run_query(request: Request, principal: PrincipalDep, query: SqlIn) -> SqlResultOut:
    """Run one read-only SELECT over the published marts, within the row cap and time limit."""
    return result_out(sql_box(request).run(query.sql, actor=principal.actor))


@router.get("/tables")
def read_tables(request: Request) -> TablesOut:
    """The marts a query may read, with their columns."""
    publication, tables = sql_box(request).marts()
    return TablesOut(
        marts_published_at=publication.marts_published_at,
        tables=[
            TableOut(
                name=table.name,
                columns=[ColumnOut(name=column.name, type=column.type) for column in table.columns],
            )
            for table in tables
        ],
    )


@router.get("/saved")
def list_saved(request: Request) -> SavedQueriesOut:
    """Every saved query, the shipped examples included until someone changes the list."""
    return SavedQueriesOut(queries=[saved_out(query) for query in saved_queries(request).queries()])


@router.post(
    "/saved",
    status_code=status.HTTP_201_CREATED,
    responses={
        **QUERY_REFUSED,
        status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "the name is taken"},
    },
)
def save_query(request: Request, principal: PrincipalDep, query: SavedQueryIn) -> SavedQueryOut:
    """Save a query under a name, once the box has checked it (it does not run it)."""
    saved = save(request, principal.actor, query.name, query.description, query.sql)
    return saved_out(saved)


@router.delete(
    "/saved/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "no query has this name"}
    },
)
def delete_saved(request: Request, principal: PrincipalDep, name: SavedName) -> Response:
    """Delete a saved query: its owner or an admin may."""
    store = saved_queries(request)
    query = store.get(name)
    if not principal.may_delete_saved_query(query.owner):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"only {query.owner} (who saved it) or an admin may delete {name!r}",
        )
    store.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/saved/{name}/run",
    responses={
        **QUERY_REFUSED,
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "no query has this name"},
    },
)
def run_saved(request: Request, principal: PrincipalDep, name: SavedName) -> SqlResultOut:
    """Run a saved query, as POST /v1/sql runs its text."""
    query = saved_queries(request).get(name)
    return result_out(sql_box(request).run(query.sql, actor=principal.actor))


def save(request: Request, owner: str, name: str, description: str, sql: str) -> SavedQuery:
    """Check `sql` with the box and save it as `name` (SqlRefused, SavedQueryExists)."""
    sql_box(request).check(sql)
    query = SavedQuery(
        name=name,
        description=description,
        sql=sql.strip(),
        owner=owner,
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
    )
    saved_queries(request).add(query)
    return query
