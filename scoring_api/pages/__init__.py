"""The workspace's pages: sign in, my queue, a lead with its customer, the team, ad-hoc SQL.

Served by the API's own app, in Chinese (default) or English, with nothing fetched from
anywhere else (the style sheet is in static/). Every page reads what the JSON endpoints
read and every form records through the same code (routes/leads.py, routes/actions.py),
so a page never shows or does what the caller's role could not by API.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import duckdb
import jinja2
import orjson
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import TypeAdapter, ValidationError

from leadflow.users import SignInRefused
from scoring_api.auth import (
    ACT_ON_LEADS,
    ASSIGN_LEADS,
    CSRF_FIELD,
    READ_LEADS,
    READ_REPORTS,
    RUN_SQL,
    SESSION_COOKIE,
    Principal,
)
from scoring_api.customer import customer_view
from scoring_api.deps import get_warehouse
from scoring_api.pages import i18n
from scoring_api.routes.actions import ActionIn, record_action
from scoring_api.routes.leads import (
    PublicationMemo,
    QueueFilter,
    publication_of,
    read_lead_row,
    read_queue,
)
from scoring_api.routes.sql import save, saved_queries, sql_box
from scoring_api.routes.team import team_view
from scoring_api.saved_queries import NAME_PATTERN, SavedQueryExists, SavedQueryNotFound
from scoring_api.sql_box import SqlResult, SqlUnavailable
from scoring_api.sql_check import SqlRefused

# the templates ship with the package: no need to look at their files on every render
TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        auto_reload=False,
    )
)
STATIC_DIR = Path(__file__).parent / "static"
LOGIN_COOKIE = "leadflow_login"
PAGE_SIZE = 50
SQL_PAGE_ROWS = 1_000
"""Rows the SQL page shows of an answer (the API returns up to LEADFLOW_SQL_ROW_CAP): a
table of ten thousand rows is megabytes of HTML no one reads on a screen."""
ACTION = TypeAdapter(ActionIn)

router = APIRouter(include_in_schema=False)


class SignInNeeded(Exception):
    """A page was asked for without a session: the handler sends the browser to sign in."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def language_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(i18n.LANGUAGE_COOKIE)
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def person(request: Request) -> Principal:
    """The signed-in person (RequestGuard looked the session up), else sign in first."""
    session = getattr(request.state, "session", None)
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target)
    return Principal.of_session(session)


Person = Annotated[Principal, Depends(person)]


def render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    language = language_of(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "t": i18n.translator(language),
            "lang": language,
            "user": principal,
            "csrf_field": CSRF_FIELD,
            "lost_reason_label": lambda value: i18n.label(i18n.LOST_REASONS, language, value),
            "reason_text": lambda text: i18n.reason_text(text, language),
            "link_reason": lambda link: i18n.link_reason(link, language),
            "event_type_label": lambda value: i18n.event_type_label(value, language),
            "channel_label": lambda value: i18n.label(i18n.CHANNELS, language, value),
            "product_label": lambda value: i18n.label(i18n.PRODUCTS, language, value),
            "switch_language": _with_query(request, lang="en" if language == "zh-CN" else "zh-CN"),
            "may_act": principal is not None and principal.role in ACT_ON_LEADS,
            "may_assign": principal is not None and principal.role in ASSIGN_LEADS,
            "may_run_sql": principal is not None and principal.role in RUN_SQL,
            "may_read_reports": principal is not None and principal.role in READ_REPORTS,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(
            i18n.LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax", httponly=True
        )
    response.headers["Cache-Control"] = "no-store"
    return response


@contextlib.contextmanager
def reading(request: Request) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A cursor on what readers read (as the API's), or None while nothing can be read."""
    cursors = get_warehouse(request)
    try:
        cursor = next(cursors)
    except HTTPException:
        yield None
        return
    try:
        yield cursor
    finally:
        cursors.close()


def _with_query(request: Request, **changes: Any) -> str:
    query = dict(request.query_params)
    query.update({key: value for key, value in changes.items() if value is not None})
    return f"{request.url.path}?{urlencode(query)}"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _safe_next(target: str | None) -> str:
    # only a path of this site: never an open redirect
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/queue"
    return target


# --- signing in ---------------------------------------------------------------------------


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", None, login_token=token, next=_safe_next(next))
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/queue",  # noqa: A002
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_again(request, "form_expired", next, 403)
    users = request.app.state.users
    client = request.client.host if request.client else "unknown"
    try:
        session, token = users.sign_in(username, password, client=client)
    except SignInRefused as refused:
        key = "sign_in_throttled" if "too many" in str(refused).lower() else "sign_in_failed"
        return _login_again(request, key, next, 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=int(dt.timedelta(hours=12).total_seconds()),
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


def _login_again(request: Request, error: str, next_path: str, status_code: int) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_token=token,
        next=_safe_next(next_path),
        error=error,
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.post("/logout")
def logout(
    request: Request, principal: Person, csrf_token: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    if not principal.csrf_matches(csrf_token):
        raise HTTPException(403, detail="missing or wrong CSRF token")
    request.app.state.users.sign_out(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- the queue ------------------------------------------------------------------------------


@router.get("/queue")
def queue_page(
    request: Request,
    principal: Person,
    tier: str | None = None,
    channel: str | None = None,
    product_category: str | None = None,
    country: str | None = None,
    owner: str | None = None,
    overdue: str | None = None,
    age: str | None = None,
    page: int = 1,
    done: str | None = None,
) -> Response:
    if principal.role not in READ_LEADS:
        return render(request, "message.html", principal, 403, message="forbidden")
    default_owner = "mine" if principal.role in ("rep", "distributor") else "any"
    chosen = {
        "tier": tier if tier in ("A", "B", "C", "D") else None,
        "channel": channel or None,
        "product_category": product_category or None,
        "country": (country or "").strip().upper()[:2] or None,
        "owner": owner if owner in ("mine", "unassigned", "assigned", "any") else default_owner,
        "overdue": overdue == "1",
        "age": age if age in ("24", "168", "720") else None,
    }
    page = max(1, min(page, 100_000))
    queue_filter = QueueFilter(
        tier=chosen["tier"],
        channel=chosen["channel"],
        product_category=chosen["product_category"],
        country=chosen["country"],
        owner=chosen["owner"],
        overdue=True if chosen["overdue"] else None,
        max_age_hours=float(chosen["age"]) if chosen["age"] else None,
    )
    leads: list[dict[str, Any]] = []
    total = 0
    unavailable = False
    options: dict[str, list[str]] = {"channel": [], "product_category": []}
    with reading(request) as cursor:
        published = getattr(request.state, "source", None) == "serving"
        try:
            if cursor is None:
                raise HTTPException(503)
            result = read_queue(
                cursor,
                principal,
                queue_filter,
                hours=request.app.state.follow_up_hours,
                published=published,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
                publication=publication_of(request),
            )
            leads, total = result.leads, result.total
            options = _filter_options(request, cursor, published)
        except HTTPException:
            unavailable = True
    first = (page - 1) * PAGE_SIZE + 1
    return render(
        request,
        "queue.html",
        principal,
        leads=leads,
        total=total,
        first=first,
        last=first + len(leads) - 1,
        page=page,
        chosen=chosen,
        options=options,
        unavailable=unavailable,
        now=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        previous_url=_with_query(request, page=page - 1, done=None) if page > 1 else None,
        next_url=_with_query(request, page=page + 1) if first + len(leads) - 1 < total else None,
        done=done,
    )


_OPTIONS = PublicationMemo(size=4)
"""The filter options per publication, as the queue's pages are kept (PublicationMemo)."""


def _filter_options(
    request: Request, cursor: duckdb.DuckDBPyConnection, published: bool
) -> dict[str, list[str]]:
    table = "lead_queue" if published else "stg_web__inquiries"

    def read() -> dict[str, list[str]]:
        options = {}
        for column in ("channel", "product_category"):
            rows = cursor.execute(
                f"select distinct {column} from {table} where {column} is not null order by 1"
            ).fetchall()
            options[column] = [row[0] for row in rows]
        return options

    publication = publication_of(request)
    return read() if publication is None else _OPTIONS.get(publication, read)


# --- a lead ---------------------------------------------------------------------------------


@router.get("/leads/{inquiry_id}")
def lead_page(
    request: Request, principal: Person, inquiry_id: str, done: str | None = None
) -> Response:
    if principal.role not in READ_LEADS or len(inquiry_id) > 64:
        return render(request, "message.html", principal, 404, message="lead_not_found")
    lead = None
    customer: dict[str, Any] = {}
    with reading(request) as cursor:
        published = getattr(request.state, "source", None) == "serving"
        try:
            if cursor is None:
                raise HTTPException(503)
            lead = read_lead_row(
                cursor,
                principal,
                inquiry_id,
                hours=request.app.state.follow_up_hours,
                published=published,
            )
        except HTTPException:
            lead = None
        if lead is not None and cursor is not None:
            customer = customer_view(cursor, inquiry_id)
    if lead is None:
        return render(request, "message.html", principal, 404, message="lead_not_found")
    lead["reasons"] = orjson.loads(lead["reasons"])
    vocabularies = request.app.state.limits.rules.vocabularies
    lost_reasons = sorted(vocabularies.lost_reasons) if vocabularies is not None else []
    return render(
        request,
        "lead.html",
        principal,
        lead=lead,
        customer=customer,
        lost_reasons=lost_reasons or list(i18n.LOST_REASONS),
        request_id=lambda: uuid.uuid4().hex,
        now=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        done=done,
    )


@router.post("/leads/{inquiry_id}/actions")
async def act_from_page(request: Request, principal: Person, inquiry_id: str) -> Response:
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str) and value != ""}
    if not principal.csrf_matches(fields.pop(CSRF_FIELD, None)):
        return render(request, "message.html", principal, 403, message="form_expired")
    if principal.role not in ACT_ON_LEADS:
        return render(request, "message.html", principal, 403, message="forbidden")
    if fields.get("action") == "won":  # the outcome form's reason list is for "lost"
        fields.pop("lost_reason", None)
    try:
        action = ACTION.validate_python(_typed(fields))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'form'}: {problem['msg']}"
            for problem in error.errors()
        )
        return render(request, "message.html", principal, 422, detail=problems)
    with reading(request) as cursor:
        try:
            if cursor is None:
                raise HTTPException(503, detail="the queue cannot be read right now; retry")
            record_action(request, cursor, principal, inquiry_id, action)
        except HTTPException as refused:
            return render(
                request, "message.html", principal, refused.status_code, detail=refused.detail
            )
    if action.action in ("won", "lost"):
        target = "/queue?" + urlencode({"done": inquiry_id})
    else:
        target = f"/leads/{inquiry_id}?" + urlencode({"done": action.action})
    return RedirectResponse(target, status_code=303)


# --- the team -------------------------------------------------------------------------------


@router.get("/team")
def team_page(request: Request, principal: Person, days: int = 90) -> Response:
    if not principal.sees_all():
        return render(request, "message.html", principal, 403, message="forbidden")
    days = max(1, min(days, 3660))
    with reading(request) as cursor:
        try:
            if cursor is None:
                raise HTTPException(503)
            team = team_view(request, cursor, principal, days)
        except HTTPException:
            return render(request, "message.html", principal, 503, message="no_queue_yet")
    return render(
        request,
        "team.html",
        principal,
        team=team,
        days=days,
        now=dt.datetime.now(dt.UTC),
    )


# --- ad-hoc SQL -----------------------------------------------------------------------------


@router.get("/sql")
def sql_page(
    request: Request,
    principal: Person,
    saved: str | None = None,
    done: str | None = None,
    name: str | None = None,
) -> Response:
    if principal.role not in RUN_SQL:
        return render(request, "message.html", principal, 403, message="forbidden")
    sql = ""
    if saved:
        with contextlib.suppress(SavedQueryNotFound):
            sql = saved_queries(request).get(saved).sql
    notice = None
    if done in ("saved", "deleted") and name:
        notice = ("sql_saved_done" if done == "saved" else "sql_deleted_done", {"name": name})
    return _sql_page(request, principal, sql=sql, notice=notice)


@router.post("/sql")
def sql_from_page(
    request: Request,
    principal: Person,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    sql: Annotated[str, Form()] = "",
    action: Annotated[str, Form(max_length=16)] = "run",
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    if (refused := _refused_sql_form(request, principal, csrf_token)) is not None:
        return refused
    if action == "save":
        name = name.strip()
        if not re.fullmatch(NAME_PATTERN, name):
            return _sql_page(
                request, principal, sql=sql, status_code=422, problem=("sql_name_rule", {})
            )
        try:
            save(request, principal.actor, name, description.strip(), sql)
        except SavedQueryExists:
            return _sql_page(
                request,
                principal,
                sql=sql,
                status_code=409,
                problem=("sql_name_taken", {"name": name}),
            )
        except (SqlRefused, SqlUnavailable) as refused:
            return _sql_page(request, principal, sql=sql, refused=refused)
        return RedirectResponse(
            "/sql?" + urlencode({"saved": name, "done": "saved", "name": name}), 303
        )
    return _run_on_page(request, principal, sql)


@router.post("/sql/saved/{name}/run")
def saved_from_page(
    request: Request,
    principal: Person,
    name: str,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if (refused := _refused_sql_form(request, principal, csrf_token)) is not None:
        return refused
    try:
        query = saved_queries(request).get(name)
    except SavedQueryNotFound:
        return _sql_page(
            request, principal, status_code=404, problem=("sql_not_found", {"name": name})
        )
    return _run_on_page(request, principal, query.sql)


@router.post("/sql/saved/{name}/delete")
def delete_from_page(
    request: Request,
    principal: Person,
    name: str,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    if (refused := _refused_sql_form(request, principal, csrf_token)) is not None:
        return refused
    store = saved_queries(request)
    try:
        query = store.get(name)
    except SavedQueryNotFound:
        return _sql_page(
            request, principal, status_code=404, problem=("sql_not_found", {"name": name})
        )
    if not principal.may_delete_saved_query(query.owner):
        problem = ("sql_not_yours", {"name": name, "owner": query.owner})
        return _sql_page(request, principal, status_code=403, problem=problem)
    with contextlib.suppress(SavedQueryNotFound):  # deleted meanwhile: gone either way
        store.delete(name)
    return RedirectResponse("/sql?" + urlencode({"done": "deleted", "name": name}), 303)


def _refused_sql_form(request: Request, principal: Principal, csrf_token: str) -> Response | None:
    """Why a form of the SQL page is refused (an expired form, a role that may not run
    SQL), or None when it may go on: the check every one of its forms makes first."""
    if not principal.csrf_matches(csrf_token):
        return render(request, "message.html", principal, 403, message="form_expired")
    if principal.role not in RUN_SQL:
        return render(request, "message.html", principal, 403, message="forbidden")
    return None


def _run_on_page(request: Request, principal: Principal, sql: str) -> Response:
    try:
        result = sql_box(request).run(sql, row_cap=SQL_PAGE_ROWS, actor=principal.actor)
    except (SqlRefused, SqlUnavailable) as refused:
        return _sql_page(request, principal, sql=sql, refused=refused)
    return _sql_page(request, principal, sql=sql, result=result)


def _sql_page(
    request: Request,
    principal: Principal,
    *,
    sql: str = "",
    result: SqlResult | None = None,
    refused: SqlRefused | SqlUnavailable | None = None,
    problem: tuple[str, dict[str, Any]] | None = None,
    notice: tuple[str, dict[str, Any]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The SQL page: the editor with `sql`, its answer or why there is none, the saved
    queries and the marts with their columns."""
    language = language_of(request)
    box = sql_box(request)
    tables: tuple[Any, ...] = ()
    published_at = None
    unavailable = None
    try:
        publication, tables = box.marts()
        published_at = publication.marts_published_at
    except SqlUnavailable as error:
        unavailable = i18n.sql_unavailable(error.reason, error.values, language)
    error_text = None
    if isinstance(refused, SqlRefused):
        error_text = i18n.sql_refusal(refused.reason, refused.values, language)
        status_code = 413 if refused.reason == "too_long" else 400
    elif isinstance(refused, SqlUnavailable):
        error_text = i18n.sql_unavailable(refused.reason, refused.values, language)
        status_code = 503
    return render(
        request,
        "sql.html",
        principal,
        status_code,
        sql=sql,
        result=result,
        numeric=[_is_numeric(column.type) for column in result.columns] if result else [],
        scales=[_scale(column.type) for column in result.columns] if result else [],
        cell=_cell,
        error_text=error_text,
        problem=problem,
        notice=notice,
        tables=tables,
        published_at=published_at,
        unavailable=unavailable,
        saved=saved_queries(request).queries(),
        limits=box.limits,
        page_rows=min(SQL_PAGE_ROWS, box.limits.row_cap),
    )


_NUMERIC_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
        "FLOAT",
        "DOUBLE",
        "DECIMAL",
    }
)


def _is_numeric(duckdb_type: str) -> bool:
    return duckdb_type.split("(")[0] in _NUMERIC_TYPES


def _scale(duckdb_type: str) -> int | None:
    """The digits after the point of a DECIMAL(p,s) column."""
    found = re.fullmatch(r"DECIMAL\(\d+,(\d+)\)", duckdb_type)
    return int(found.group(1)) if found else None


def _cell(value: Any, scale: int | None = None) -> str:
    """A JSON value of an answer (scoring_api/sql_box.py json_value) as a table cell shows
    it; a DECIMAL with its scale's digits (the JSON carries it as a double)."""
    if scale is not None and isinstance(value, float):
        return f"{value:.{scale}f}"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _typed(fields: dict[str, str]) -> dict[str, Any]:
    """Form text as the action's JSON types: numbers as numbers, yes/no as booleans."""
    typed: dict[str, Any] = dict(fields)
    for name in ("unit_price",):
        if name in typed:
            with contextlib.suppress(ValueError):
                typed[name] = float(typed[name])
    for name in ("quantity", "valid_days", "lead_time_days"):
        if name in typed:
            with contextlib.suppress(ValueError):
                typed[name] = int(typed[name])
    if "feasible" in typed:
        typed["feasible"] = typed["feasible"] == "yes"
    return typed
