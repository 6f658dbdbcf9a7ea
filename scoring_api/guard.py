"""The API's front door: the key is checked before any body is read, and a body is read
only up to its limit, so an anonymous or oversized request costs the server nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scoring_api.auth import cookie_value

API_KEY_HEADER_NAME = "X-API-Key"
PROTECTED_PREFIX = "/v1/"
MISSING_KEY = f"missing API key: send it in the {API_KEY_HEADER_NAME} header"
INVALID_KEY = "invalid API key"


class RequestGuard:
    """ASGI middleware: 401 without a valid key or session under `/v1/`, 413 past a body
    limit.

    Parameters: `app` (the application behind it), `role_of` (the role of a presented key,
    or None), `session_of` (the signed-in session of a session cookie's value, or None),
    `body_limits` (path → largest body in bytes), `default_body_limit` (every other path).
    The role a key or person has is checked later, per router; this only refuses requests
    that no role could make, before they cost a read. A session it found is handed on in
    the request's state (`request.state.session`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        role_of: Callable[[str], str | None],
        session_of: Callable[[str], Any] | None = None,
        body_limits: Mapping[str, int],
        default_body_limit: int,
    ) -> None:
        self.app = app
        self.role_of = role_of
        self.session_of = session_of
        self.body_limits = dict(body_limits)
        self.default_body_limit = default_body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = _headers(scope)
        session = None
        token = cookie_value(headers.get("cookie", ""))
        if token and self.session_of is not None:
            session = self.session_of(token)
            scope.setdefault("state", {})["session"] = session
        if path.startswith(PROTECTED_PREFIX):
            key = headers.get(API_KEY_HEADER_NAME.lower(), "")
            if session is None and (not key or self.role_of(key) is None):
                await _respond(
                    send,
                    401,
                    MISSING_KEY if not key else INVALID_KEY,
                    extra_headers=[(b"www-authenticate", b"APIKey")],
                )
                return
        limit = self.body_limits.get(path.rstrip("/") or "/", self.default_body_limit)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _respond(send, 413, _too_large(limit))
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            body += message.get("body", b"")
            if len(body) > limit:
                await _respond(send, 413, _too_large(limit))
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than this endpoint's limit of {limit:,} bytes"


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read so far, then whatever comes next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _respond(
    send: Send, status: int, detail: str, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
