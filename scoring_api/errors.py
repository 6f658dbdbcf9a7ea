"""How the API answers what it refuses: one JSON shape per kind of error, each documented."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ingestion.contracts import describe_error
from scoring_api.saved_queries import SavedQueryExists, SavedQueryNotFound
from scoring_api.sql_box import SqlUnavailable
from scoring_api.sql_check import SqlRefused, SqlTooLong


class ErrorOut(BaseModel):
    """Why a request was refused, in one sentence."""

    detail: str


class FieldErrorOut(BaseModel):
    """One field of a request that does not follow the contract."""

    loc: list[str | int] = Field(description="where: e.g. ['body', 'quantity']")
    msg: str = Field(description="what is wrong, and what would be right")
    type: str = Field(description="short code, e.g. int_type, less_than_equal")


class ValidationErrorOut(BaseModel):
    """Every field of a request that does not follow the contract."""

    detail: list[FieldErrorOut]


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries of the given refusal status codes."""
    return {code: _REFUSALS[code] for code in codes}


_REFUSALS: dict[int, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorOut,
        "description": "no X-API-Key header, or a key that is not known",
    },
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "the caller's role may not do this, or a signed-in person's request "
        "lacks the session's CSRF token",
    },
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "no open inquiry in the queue has this id",
    },
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "the lead's state does not allow it (e.g. claiming an assigned lead)",
    },
    status.HTTP_413_CONTENT_TOO_LARGE: {
        "model": ErrorOut,
        "description": "the body, or one event in it, is larger than the limit it names",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ValidationErrorOut,
        "description": "the request does not follow the contract; each field says why",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "a component the request needs is not ready yet; retry",
    },
}


def field_errors(errors: list[dict[str, Any]], body: Any = None) -> ValidationErrorOut:
    """The 422 body of pydantic errors: location, sentence and code, never the input
    (which may be megabytes, or a value JSON cannot even carry back). `body`: the request's
    text when it was not valid JSON, to name the field the fault is in."""
    detail = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error["loc"]]
        if error["type"] == "json_invalid":
            position = loc[-1] if isinstance(loc[-1], int) else 0
            key = _key_before(body, position)
            reason = (error.get("ctx") or {}).get("error", "")
            where = f' (in the value of "{key}")' if key else ""
            message = f"the body is not valid JSON at character {position}{where}: {reason}"
            loc = ["body", key] if key else loc
        else:
            message = describe_error({**error, "loc": error["loc"][1:]})  # no 'body'/'query'
        detail.append(FieldErrorOut(loc=loc, msg=message, type=str(error["type"])))
    return ValidationErrorOut(detail=detail)


# the last `"key":` before a position of a JSON text
_KEY = re.compile(r'"((?:[^"\\\x00-\x1f]|\\.){1,100})"\s*:')


def _key_before(text: Any, position: int) -> str | None:
    if not isinstance(text, str):
        return None
    keys = [match.group(1) for match in _KEY.finditer(text[max(0, position - 10_000) : position])]
    return keys[-1] if keys else None


async def _validation_failed(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    body = field_errors(list(error.errors()), error.body)
    return JSONResponse(body.model_dump(), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _sql_refused(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SqlRefused)
    if isinstance(error, SqlTooLong):
        return JSONResponse({"detail": str(error)}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)
    return JSONResponse(
        {"detail": str(error), "reason": error.reason}, status_code=status.HTTP_400_BAD_REQUEST
    )


_STATUS_OF = {
    SqlUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    SavedQueryExists: status.HTTP_409_CONFLICT,
    SavedQueryNotFound: status.HTTP_404_NOT_FOUND,
}


async def _refused(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=_STATUS_OF[type(error)])


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        # Starlette names the methods of the first route on the path only; a path with a
        # route per method (GET and POST /v1/sql/saved, /sql, /login) allows them all
        methods = _allowed_methods(request)
        if methods:
            error.headers = {**(error.headers or {}), "Allow": ", ".join(sorted(methods))}
    return await http_exception_handler(request, error)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _allowed_methods(request: Request) -> set[str]:
    """The methods some route of the app answers on the request's path."""
    return {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    }


def install_error_handlers(app: FastAPI) -> None:
    """Answer refused requests in the documented shapes."""
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SqlRefused, _sql_refused)
    for kind in _STATUS_OF:
        app.add_exception_handler(kind, _refused)
