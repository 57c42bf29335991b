"""Counters: named counts over HTTP with JSON, and a stream of each counter's changes."""

import asyncio
import json  # noqa: F401 (the solution uses it)
from collections.abc import AsyncIterator  # noqa: F401 (the solution uses it)

from fastapi import FastAPI, HTTPException, Response  # noqa: F401 (the solution uses it)
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()

counts: dict[str, int] = {}
listeners: dict[str, set[asyncio.Queue[int]]] = {}


class Step(BaseModel):
    by: int = 1


@app.get("/counters")
async def list_counters() -> dict[str, int]:
    raise NotImplementedError("TODO: answer every counter")


@app.post("/counters/{name}")
async def count(name: str, step: Step) -> dict[str, str | int]:
    raise NotImplementedError("TODO: add step.by to the counter, tell its listeners")


@app.delete("/counters/{name}", status_code=204)
async def forget(name: str) -> Response:
    raise NotImplementedError("TODO: remove the counter, or answer 404")


@app.get("/counters/{name}/events")
async def events(name: str) -> StreamingResponse:
    raise NotImplementedError("TODO: stream the counter's value, then its changes")
