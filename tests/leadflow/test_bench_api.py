"""`leadflow bench api`'s load: alternating turns add up to one figure per request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadflow.bench_api import Request, load_in_turns


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the load's connections expect

    def do_GET(self) -> None:  # noqa: N802
        status = 200 if self.path == "/ok" else 503
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        type(self).seen.append(self.path)

    def log_message(self, *args: object) -> None:
        pass

    seen: list[str] = []  # noqa: RUF012


@pytest.fixture
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_turns_alternate_and_each_request_gets_its_own_figures(base: str):
    measured = load_in_turns(
        base,
        {"ok": Request("GET", "/ok"), "refused": Request("GET", "/refused")},
        seconds=0.6,
        connections=2,
        turns=3,
    )

    assert set(measured) == {"ok", "refused"}
    ok, refused = measured["ok"], measured["refused"]
    assert ok["requests"] > 0 and ok["failed"] == 0
    # every answer but 200 is a failure, counted against its own request
    assert refused["requests"] > 0 and refused["failed"] == refused["requests"]
    # the rate is over the time the request was loaded (0.6 s in all), not the whole run
    assert ok["rps"] == pytest.approx(ok["requests"] / 0.6, rel=0.2)
    # three turns each, alternating: the server saw the paths change at least five times
    changes = sum(1 for a, b in zip(_Handler.seen, _Handler.seen[1:], strict=False) if a != b)
    assert changes >= 5
