"""The front door: no body is read before the key is known, nor past its limit."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from scoring_api.guard import RequestGuard

KEY = "ingest-key-0123456789"


class _Endpoint:
    """The application behind the guard: records the body it was handed, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class _Client:
    """Sends one request through the guard as an ASGI server would, in chunks."""

    def __init__(self, guard: RequestGuard) -> None:
        self.guard = guard
        self.chunks_read = 0

    def post(
        self, path: str, chunks: list[bytes], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any] | None]:
        pending = list(chunks)
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            self.chunks_read += 1
            chunk = pending.pop(0) if pending else b""
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        asyncio.run(self.guard(scope, receive, send))
        status = sent[0]["status"]
        body = sent[1]["body"]
        return status, orjson.loads(body) if status != 200 else None


@pytest.fixture
def endpoint() -> _Endpoint:
    return _Endpoint()


@pytest.fixture
def client(endpoint: _Endpoint) -> _Client:
    guard = RequestGuard(
        endpoint,
        role_of=lambda key: "ingest" if key == KEY else None,
        body_limits={"/v1/events": 1000},
        default_body_limit=100,
    )
    return _Client(guard)


def test_a_21_mb_request_without_a_key_gets_401_and_not_a_byte_of_it_is_read(
    client: _Client, endpoint: _Endpoint
) -> None:
    chunks = [b"x" * 65_536] * 330  # 21.6 MB, as uvicorn would hand it over

    status, body = client.post("/v1/events", chunks, {"Content-Length": str(65_536 * 330)})

    assert (status, client.chunks_read, endpoint.bodies) == (401, 0, [])
    assert body == {"detail": "missing API key: send it in the X-API-Key header"}


def test_malformed_json_with_a_wrong_key_gets_401_not_422(client: _Client) -> None:
    status, body = client.post("/v1/events", [b"{not json"], {"X-API-Key": "guess"})

    assert (status, body) == (401, {"detail": "invalid API key"})
    assert client.chunks_read == 0


def test_a_body_declared_larger_than_the_limit_gets_413_before_it_is_read(
    client: _Client, endpoint: _Endpoint
) -> None:
    status, body = client.post(
        "/v1/events", [b"x" * 1001], {"X-API-Key": KEY, "Content-Length": "1001"}
    )

    assert status == 413 and "1,000 bytes" in body["detail"]
    assert (client.chunks_read, endpoint.bodies) == (0, [])


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit(
    client: _Client, endpoint: _Endpoint
) -> None:
    status, _ = client.post("/v1/events", [b"x" * 400] * 100, {"X-API-Key": KEY})

    assert status == 413
    assert client.chunks_read == 3 and endpoint.bodies == []


def test_each_path_has_its_own_limit_and_a_body_within_it_reaches_the_app_whole(
    client: _Client, endpoint: _Endpoint
) -> None:
    events_status, _ = client.post("/v1/events", [b"x" * 500, b"y" * 400], {"X-API-Key": KEY})
    score_status, score_body = client.post("/v1/score", [b"x" * 500], {"X-API-Key": KEY})

    assert (events_status, score_status) == (200, 413)
    assert "100 bytes" in score_body["detail"]
    assert endpoint.bodies == [b"x" * 500 + b"y" * 400]


def test_paths_outside_the_api_need_no_key(client: _Client, endpoint: _Endpoint) -> None:
    status, _ = client.post("/health", [b""], {})

    assert status == 200 and endpoint.bodies == [b""]
