"""Right, another way: the counts live in a class, answers are JSONResponses, and each
stream waits on an asyncio.Condition for a newer version instead of a queue."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

app = FastAPI()


class Counters:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.changed = asyncio.Condition()
        self.version = 0

    async def add(self, name: str, by: int) -> int:
        async with self.changed:
            self.values[name] = self.values.get(name, 0) + by
            self.version += 1
            self.changed.notify_all()
        return self.values[name]


counters = Counters()


@app.get("/counters")
async def list_counters() -> JSONResponse:
    return JSONResponse(counters.values)


@app.post("/counters/{name}")
async def count(name: str, request: Request) -> JSONResponse:
    body: dict[str, Any] = await request.json()
    value = await counters.add(name, int(body.get("by", 1)))
    return JSONResponse({"name": name, "value": value})


@app.delete("/counters/{name}")
async def forget(name: str) -> Response:
    if name not in counters.values:
        return JSONResponse({"detail": "no such counter"}, status_code=404)
    del counters.values[name]
    return Response(status_code=204)


@app.get("/counters/{name}/events")
async def events(name: str) -> StreamingResponse:
    seen = counters.version
    first = counters.values.get(name, 0)

    async def stream() -> AsyncIterator[str]:
        nonlocal seen
        yield f"data: {json.dumps({'value': first})}\n\n"
        last = first
        while True:
            async with counters.changed:
                while counters.version <= seen:
                    await counters.changed.wait()
                seen = counters.version
                value = counters.values.get(name, 0)
            if value != last:
                last = value
                yield f"event: message\ndata: {json.dumps({'value': value})}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")
