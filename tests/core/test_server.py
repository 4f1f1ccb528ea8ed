"""The request-body limit, with and without a Content-Length (a chunked body is cut off as it streams)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from fastapi.testclient import TestClient

from infinstruct.core.settings import Settings, load_settings
from infinstruct.server import build_api


def test_bodies_over_the_limit_are_413_before_or_while_they_stream(settings: Settings) -> None:
    small = load_settings(data_dir=settings.data_dir, server={"max_body_kb": 1})
    app = build_api(small)
    seen: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    client = TestClient(app)
    assert client.post("/echo", content=b"x" * 1000).json() == {"bytes": 1000}
    declared = client.post("/echo", content=b"x" * 5000)
    assert declared.status_code == 413 and "server.max_body_kb" in declared.text

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 512

    streamed = client.post("/echo", content=chunks())  # no Content-Length: counted as it arrives
    assert streamed.status_code == 413
    assert seen == [1000]  # the handler never got an oversized body
