"""Request bodies are read by the same JSON parser as the consumer (orjson), so every door
refuses the same bytes: NaN and Infinity, lone surrogates, integers beyond 64 bits."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class ContractRequest(Request):
    """A request whose JSON body is decoded by orjson, strictly (RFC 8259, UTF-8)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            # orjson.JSONDecodeError is a json.JSONDecodeError: FastAPI answers it with 422
            self._json = orjson.loads(await self.body())
        return self._json


class ContractRoute(APIRoute):
    """An API route whose requests are ContractRequests."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_strictly(request: Request) -> Response:
            return await handle(ContractRequest(request.scope, request.receive))

        return handle_strictly
