"""Request dependencies as `Annotated` aliases, so routes stay short and tests can swap them."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Annotated

import duckdb
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from models.scorer import Scorer
from scoring_api.auth import CSRF_HEADER, Principal
from scoring_api.guard import API_KEY_HEADER_NAME, INVALID_KEY, MISSING_KEY

ROLES: frozenset[str] = frozenset({"admin", "sales", "ingest"})
API_KEY_HEADER = APIKeyHeader(
    name=API_KEY_HEADER_NAME, auto_error=False, description="an API key issued to a role"
)

logger = logging.getLogger(__name__)


def role_for_key(api_keys: Mapping[str, str], presented: str) -> str | None:
    """The role of a presented key, or None; compares in constant time per key."""
    role = None
    for key, key_role in api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            role = key_role
    return role


async def get_current_role(
    request: Request, api_key: Annotated[str | None, Security(API_KEY_HEADER)]
) -> str:
    """The caller's role from its `X-API-Key`; 401 when the key is missing or unknown.

    RequestGuard has already refused such requests under /v1/ before reading their body;
    this is where a route learns the role its checks need.
    """
    if not api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=MISSING_KEY,
            headers={"WWW-Authenticate": "APIKey"},
        )
    role = role_for_key(request.app.state.api_keys, api_key)
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=INVALID_KEY,
            headers={"WWW-Authenticate": "APIKey"},
        )
    return role


async def get_principal(
    request: Request, api_key: Annotated[str | None, Security(API_KEY_HEADER)]
) -> Principal:
    """The caller: the person of the session cookie (RequestGuard found it), else the role
    of the `X-API-Key`; 401 without either. A person's request that changes something must
    carry their session's CSRF token in the `X-CSRF-Token` header (a page's form carries it
    in a field, checked by the page)."""
    session = getattr(request.state, "session", None)
    if session is not None:
        principal = Principal.of_session(session)
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and request.url.path.startswith("/v1/")
            and not principal.csrf_matches(request.headers.get(CSRF_HEADER))
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"missing or wrong CSRF token: send the session's token in {CSRF_HEADER}",
            )
        return principal
    return Principal(role=await get_current_role(request, api_key))


async def get_model(request: Request) -> Scorer:
    """What scores: the champion loaded at startup, or the cold-start scorecard."""
    scorer: Scorer | None = request.app.state.model
    if scorer is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the API has not finished starting; retry in a moment",
        )
    return scorer


def get_warehouse(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only cursor for one request: on the published copies (leadflow/serving.py)
    when the pipeline publishes them, else on the warehouse file itself."""
    reader = request.app.state.serving
    if reader is not None and reader.available():
        try:
            cursor, key = reader.cursor_and_key()
            request.state.publication = (str(reader.home), *key)
        except (duckdb.Error, OSError) as error:
            logger.warning("cannot open the published warehouse: %s", error)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="the published warehouse cannot be read right now; retry",
            ) from error
        request.state.source = "serving"
        try:
            yield cursor
        finally:
            cursor.close()
        return
    if request.app.state.serving_only:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the service is building the warehouse's first published state; retry",
        )
    # a connection per request, not one for the app's life: an open connection holds a lock
    # on the file that would keep the pipeline from writing the warehouse while the API runs
    try:
        connection = duckdb.connect(
            str(request.app.state.warehouse_path),
            read_only=True,
            config={"enable_external_access": False},
        )
    except duckdb.Error as error:
        logger.warning("cannot open the warehouse read-only: %s", error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the warehouse is not available (not built yet, or being written); retry",
        ) from error
    request.state.source = "warehouse"
    try:
        yield connection
    finally:
        connection.close()


def require_roles(*allowed: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only the given roles (and admin) through; 403 for the rest."""

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role != "admin" and principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role!r} may not do this; it needs one of "
                f"{sorted(allowed)}",
            )
        return principal

    return check


CurrentRole = Annotated[str, Depends(get_current_role)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ModelDep = Annotated[Scorer, Depends(get_model)]
WarehouseDep = Annotated[duckdb.DuckDBPyConnection, Depends(get_warehouse)]
