"""The stream adds text to a number: its generator raises TypeError at its first event,
after the answer has begun (HTTP 200), so the stream breaks off."""

import asyncio
from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()

counts: dict[str, int] = {}
listeners: dict[str, set[asyncio.Queue[int]]] = {}


class Step(BaseModel):
    by: int = 1


@app.get("/counters")
async def list_counters() -> dict[str, int]:
    return counts


@app.post("/counters/{name}")
async def count(name: str, step: Step) -> dict[str, str | int]:
    counts[name] = counts.get(name, 0) + step.by
    for queue in listeners.get(name, set()):
        queue.put_nowait(counts[name])
    return {"name": name, "value": counts[name]}


@app.delete("/counters/{name}", status_code=204)
async def forget(name: str) -> Response:
    if counts.pop(name, None) is None:
        raise HTTPException(status_code=404, detail=f"no counter {name}")
    return Response(status_code=204)


@app.get("/counters/{name}/events")
async def events(name: str) -> StreamingResponse:
    # Registered before the answer starts: no change made after the client has its
    # first event can be missed.
    queue: asyncio.Queue[int] = asyncio.Queue()
    listeners.setdefault(name, set()).add(queue)
    queue.put_nowait(counts.get(name, 0))

    async def stream() -> AsyncIterator[str]:
        try:
            while True:
                value = await queue.get()
                yield 'data: {"value": ' + value + "}\n\n"
        finally:
            listeners[name].discard(queue)

    return StreamingResponse(stream(), media_type="text/event-stream")
