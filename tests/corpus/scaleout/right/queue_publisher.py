"""Hands publications to one publisher task through a queue, so no handler waits for Redis.

expect: pass
"""

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator

import redis.asyncio as redis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
CHANNEL = "scaleout:chat"

log = logging.getLogger("chat")


class ConnectionManager:
    def __init__(self) -> None:
        self.connections: set[WebSocket] = set()
        self.origin = secrets.token_hex(8)
        # One queue, drained by one task: publications leave in the order they were made.
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.redis: redis.Redis | None = None
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.connections.add(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.connections.discard(websocket)

    async def deliver(self, message: str) -> None:
        for websocket in list(self.connections):
            with contextlib.suppress(WebSocketDisconnect, WebSocketDisconnected):
                await websocket.send_text(message)

    async def broadcast(self, message: str) -> None:
        await self.deliver(message)
        self.outbox.put_nowait(json.dumps({"origin": self.origin, "text": message}))

    async def publisher(self) -> None:
        assert self.redis is not None
        while True:
            payload = await self.outbox.get()
            try:
                await self.redis.publish(CHANNEL, payload)
            except (redis.RedisError, OSError) as exc:
                log.warning("publish failed, the other processes miss a message: %s", exc)

    async def subscriber(self) -> None:
        assert self.redis is not None
        lost = False
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    lost = False
                    async for message in pubsub.listen():
                        if message["type"] != "message":
                            continue
                        event = json.loads(message["data"])
                        if event["origin"] != self.origin:
                            await self.deliver(event["text"])
            except (redis.RedisError, OSError) as exc:
                if not lost:  # once per outage, not on every attempt
                    log.warning("no subscription (%s), trying again", exc)
                lost = True
            await asyncio.sleep(0.2)

    async def start(self) -> None:
        self.redis = redis.from_url(REDIS_URL)
        self.tasks = [
            asyncio.create_task(self.publisher()),
            asyncio.create_task(self.subscriber()),
        ]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.redis is not None:
            await self.redis.aclose()


manager = ConnectionManager()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await manager.start()
    try:
        yield
    finally:
        await manager.stop()


app = FastAPI(lifespan=lifespan)


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket)
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except (WebSocketDisconnect, WebSocketDisconnected):
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
