"""The sales queue: open inquiries ranked by their current score, each caller seeing the
leads their role may see (scoring_api/auth.py)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import duckdb
import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from leadflow.serving import DETAILS_FIELDS, DETAILS_TABLE, QUEUE_ORDER, QUEUE_SQL, QUEUE_TABLE
from leadflow.settings import follow_up_seconds
from scoring_api.auth import Principal
from scoring_api.customer import customer_view
from scoring_api.deps import PrincipalDep, WarehouseDep
from scoring_api.errors import refusals
from scoring_api.routing import ContractRoute
from scoring_api.schemas import LeadCustomerOut, LeadDetailOut, LeadOut, LeadsOut, Tier

router = APIRouter(
    prefix="/v1/leads",
    tags=["leads"],
    route_class=ContractRoute,
    responses=refusals(401, 403, 422, 503),
)

ORDER = "order by rank"
_DUE = """
    submitted_at + to_seconds(cast(3600 * case tier
        when 'A' then $due_a when 'B' then $due_b when 'C' then $due_c when 'D' then $due_d
    end as bigint))"""
OVERDUE = f"coalesce(first_contacted_at is null and {_DUE} < $now, false)"
"""Whether a queue row's follow-up deadline has passed with nobody contacting the buyer
(parameters: $due_<tier> hours, null for none, and $now), to filter on. A page's rows get
theirs in Python (with_deadline): in a query's projection DuckDB computed it for every
row of the queue, not only the page's."""

FROM_WAREHOUSE = f"""
with
{QUEUE_TABLE} as (
    select *, row_number() over (order by {QUEUE_ORDER}) as rank
    from ({QUEUE_SQL})
    where inquiry_id in (select inquiry_id from fct_inquiries where is_open)
),
{DETAILS_TABLE} as (select {DETAILS_FIELDS} from stg_web__inquiries)
"""
"""The same tables, read from a warehouse nothing has been published from yet."""

Owner = Literal["any", "mine", "unassigned", "assigned"]


@dataclass(frozen=True)
class QueueFilter:
    """What the queue is narrowed to (every field optional)."""

    tier: str | None = None
    channel: str | None = None
    product_category: str | None = None
    country: str | None = None
    owner: Owner = "any"
    rep_id: str | None = None
    distributor_id: str | None = None
    overdue: bool | None = None
    max_age_hours: float | None = None

    def sql(self, principal: Principal) -> tuple[str, dict[str, Any]]:
        scope, parameters = principal.scope_sql()
        conditions = [scope]
        for column in ("tier", "channel", "product_category", "country", "rep_id"):
            value = getattr(self, column)
            if value is not None:
                conditions.append(f"{column} = ${column}")
                parameters[column] = value
        if self.distributor_id is not None:
            conditions.append("distributor_id = $distributor_id")
            parameters["distributor_id"] = self.distributor_id
        if self.owner == "unassigned":
            conditions.append("owner_type is null")
        elif self.owner == "assigned":
            conditions.append("owner_type is not null")
        elif self.owner == "mine":
            conditions.append(
                "((owner_type = 'rep' and rep_id = $mine_rep) "
                "or (owner_type = 'distributor' and distributor_id = $mine_distributor))"
            )
            parameters["mine_rep"] = principal.rep_id
            parameters["mine_distributor"] = principal.distributor_id
        if self.overdue is not None:
            conditions.append(OVERDUE if self.overdue else f"not {OVERDUE}")
        if self.max_age_hours is not None:
            conditions.append("submitted_at >= $now - to_seconds(cast($max_age as bigint))")
            parameters["max_age"] = self.max_age_hours * 3600
        return " and ".join(f"({condition})" for condition in conditions), parameters


class PublicationMemo:
    """The last `size` answers read, by publication and question: a publication never
    changes, and reps reload their queue far more often than `leadflow run` publishes."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, read: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._pages:
                self._pages.move_to_end(key)
                return self._pages[key]
        value = read()
        with self._lock:
            self._pages[key] = value
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return value


_PAGES = PublicationMemo()


@dataclass(frozen=True)
class QueuePage:
    total: int
    leads: list[dict[str, Any]]


def deadline_parameters(hours: dict[str, float], now: dt.datetime) -> dict[str, Any]:
    """The parameters of OVERDUE: each tier's follow-up hours (None: no deadline), and now."""
    return {
        **{f"due_{tier.lower()}": hours.get(tier) for tier in "ABCD"},
        "now": now.astimezone(dt.UTC).replace(tzinfo=None),
    }


def read_queue(
    cursor: duckdb.DuckDBPyConnection,
    principal: Principal,
    queue_filter: QueueFilter,
    *,
    hours: dict[str, float],
    published: bool,
    limit: int = 50,
    offset: int = 0,
    now: dt.datetime | None = None,
    publication: Hashable | None = None,
) -> QueuePage:
    """A page of the open leads `principal` may see, narrowed by `queue_filter`, ranked.
    `publication`, the identity of the published state `cursor` reads (get_warehouse's
    `request.state.publication`), keeps the page to answer the same question again."""
    where, parameters = queue_filter.sql(principal)
    parameters |= deadline_parameters(hours, now or dt.datetime.now(dt.UTC))
    prefix = "" if published else FROM_WAREHOUSE
    # a top-N on the published rank, and a count only when the page does not tell it: a
    # window count over the whole queue cost more than the page itself
    query = (
        f"{prefix} select * from {QUEUE_TABLE} where {where} {ORDER} limit $limit offset $offset"
    )
    page_parameters = _used(parameters, query) | {"limit": limit, "offset": offset}

    def read() -> tuple[list[dict[str, Any]], int]:
        relation = cursor.execute(query, page_parameters)
        columns = [column[0] for column in relation.description]
        rows = [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]
        if rows and len(rows) < limit:
            return rows, offset + len(rows)
        counted = f"{prefix} select count(*) from {QUEUE_TABLE} where {where}"
        return rows, cursor.execute(counted, _used(parameters, counted)).fetchone()[0]

    try:
        if publication is None or "$now" in query:  # a filter that moves with the clock
            rows, total = read()
        else:
            key = (publication, query, tuple(sorted(page_parameters.items())))
            rows, total = _PAGES.get(key, read)
    except duckdb.CatalogException as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="no lead scores yet: run `leadflow score` after `leadflow train` "
            "(`leadflow run` scores as events land)",
        ) from error
    now_utc = parameters["now"]
    return QueuePage(total=total, leads=[with_deadline(dict(row), hours, now_utc) for row in rows])


def with_deadline(row: dict[str, Any], hours: dict[str, float], now: dt.datetime) -> dict[str, Any]:
    """`row` with its follow_up_due_at and overdue (as OVERDUE decides it); `now` is naive
    UTC, as the warehouse keeps time."""
    due_hours = hours.get(row["tier"])
    due = (
        None
        if due_hours is None or row["submitted_at"] is None
        else row["submitted_at"] + dt.timedelta(seconds=follow_up_seconds(due_hours))
    )
    row["follow_up_due_at"] = due
    row["overdue"] = bool(due is not None and row["first_contacted_at"] is None and due < now)
    return row


def _used(parameters: dict[str, Any], query: str) -> dict[str, Any]:
    """The parameters `query` names (DuckDB refuses any it does not)."""
    return {name: value for name, value in parameters.items() if f"${name}" in query}


def read_lead_row(
    cursor: duckdb.DuckDBPyConnection,
    principal: Principal,
    inquiry_id: str,
    *,
    hours: dict[str, float],
    published: bool,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """One open lead with its details, or None when it is not in the queue or is not
    `principal`'s to see (the two are not told apart: guessing ids reveals nothing)."""
    now_utc = deadline_parameters(hours, now or dt.datetime.now(dt.UTC))["now"]
    prefix = "" if published else FROM_WAREHOUSE
    query = f"""
    {prefix}
    select q.*, d.* exclude (inquiry_id)
    from (select * from {QUEUE_TABLE} where inquiry_id = $inquiry_id) as q
    left join {DETAILS_TABLE} as d using (inquiry_id)
    """
    try:
        relation = cursor.execute(query, {"inquiry_id": inquiry_id})
    except duckdb.CatalogException as error:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="no lead scores yet: run `leadflow score` after `leadflow train` "
            "(`leadflow run` scores as events land)",
        ) from error
    columns = [column[0] for column in relation.description]
    row = relation.fetchone()
    if row is None:
        return None
    lead = with_deadline(dict(zip(columns, row, strict=True)), hours, now_utc)
    return lead if principal.may_see(lead) else None


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # the warehouse keeps UTC without a zone; say so to the client
    return None if moment is None else moment.replace(tzinfo=dt.UTC)


def lead_out(row: dict[str, Any], model: type[LeadOut] = LeadOut) -> LeadOut:
    """The API's view of a queue row."""
    fields = {name: row.get(name) for name in model.model_fields if name in row}
    for name in ("submitted_at", "assigned_at", "first_contacted_at", "follow_up_due_at"):
        fields[name] = _utc(row.get(name))
    fields["scored_at"] = _utc(row["scored_at"])
    fields["reasons"] = orjson.loads(row["reasons"])
    for name in ("target_unit_price", "list_unit_price"):
        if row.get(name) is not None:
            fields[name] = float(row[name])
    return model(**fields)


def _published(request: Request) -> bool:
    return getattr(request.state, "source", None) == "serving"


def publication_of(request: Request) -> Hashable | None:
    """Which publication the request's cursor reads (None: the warehouse itself)."""
    return getattr(request.state, "publication", None) if _published(request) else None


@router.get("")
def list_leads(
    request: Request,
    warehouse: WarehouseDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    tier: Tier | None = None,
    channel: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    product_category: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    owner: Annotated[
        Owner, Query(description="mine: the caller's own leads; unassigned; assigned; any")
    ] = "any",
    rep_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    distributor_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    overdue: Annotated[
        bool | None, Query(description="only leads past (true) or within (false) deadline")
    ] = None,
    max_age_hours: Annotated[float | None, Query(gt=0, le=24 * 3650)] = None,
) -> LeadsOut:
    """Open inquiries the caller may see (a rep: their own and unassigned ones; a
    distributor: those handed to them), most likely to convert first, a page at a time."""
    page = read_queue(
        warehouse,
        principal,
        QueueFilter(
            tier=tier,
            channel=channel,
            product_category=product_category,
            country=country.upper() if country else None,
            owner=owner,
            rep_id=rep_id,
            distributor_id=distributor_id,
            overdue=overdue,
            max_age_hours=max_age_hours,
        ),
        hours=request.app.state.follow_up_hours,
        published=_published(request),
        limit=limit,
        offset=offset,
        publication=publication_of(request),
    )
    leads = [lead_out(row) for row in page.leads]
    return LeadsOut(count=len(leads), total=page.total, offset=offset, limit=limit, leads=leads)


def _lead_or_404(
    request: Request, cursor: duckdb.DuckDBPyConnection, principal: Principal, inquiry_id: str
) -> dict[str, Any]:
    """The caller's open lead `inquiry_id` (read_lead_row), or a 404 that tells nothing of
    why."""
    row = read_lead_row(
        cursor,
        principal,
        inquiry_id,
        hours=request.app.state.follow_up_hours,
        published=_published(request),
    )
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no open inquiry {inquiry_id!r} in your queue (unknown, closed, not scored "
            "yet, or not yours)",
        )
    return row


@router.get("/{inquiry_id}", responses=refusals(404))
def read_lead(
    request: Request,
    warehouse: WarehouseDep,
    principal: PrincipalDep,
    inquiry_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> LeadDetailOut:
    """One open inquiry of the queue with its score, owner, deadline, and what the buyer
    asked and how to reach them."""
    row = _lead_or_404(request, warehouse, principal, inquiry_id)
    lead = lead_out(row, LeadDetailOut)
    assert isinstance(lead, LeadDetailOut)
    return lead


@router.get("/{inquiry_id}/customer", responses=refusals(404))
def read_lead_customer(
    request: Request,
    warehouse: WarehouseDep,
    principal: PrincipalDep,
    inquiry_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> LeadCustomerOut:
    """The customer 360 of one open inquiry of your queue: its customer, every event of that
    customer across web, sales and logistics, why the identity graph joined its records,
    the lead's score history and notes."""
    _lead_or_404(request, warehouse, principal, inquiry_id)  # yours to see, and open
    view = customer_view(warehouse, inquiry_id)
    parts = (*view["timeline"], *view["links"], *view["history"], *view["notes"])
    for item in (*parts, *([view["customer"]] if view["customer"] else [])):
        for name, value in item.items():
            if isinstance(value, dt.datetime):
                item[name] = _utc(value)
    return LeadCustomerOut(inquiry_id=inquiry_id, **view)
