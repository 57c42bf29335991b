"""Subscribes to a pattern, sends [origin, text] pairs, and delivers with asyncio.gather.

expect: pass
"""

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.websockets import WebSocketDisconnected

PATTERN = "rooms:*"
CHANNEL = "rooms:main"

log = logging.getLogger("scaleout.bus")


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []
        self.me = str(uuid.uuid4())

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        if websocket in self.active_connections:
            self.active_connections.remove(websocket)

    async def local(self, message: str) -> None:
        results = await asyncio.gather(
            *(ws.send_text(message) for ws in self.active_connections),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception) and not isinstance(
                result, (WebSocketDisconnect, WebSocketDisconnected)
            ):
                raise result


class Bus:
    """The Redis side: publishes this process's events, relays everyone else's."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.manager = manager
        self.redis = Redis.from_url(os.getenv("REDIS_URL", "redis://localhost:6379/0"))
        self.task: asyncio.Task[None] | None = None

    async def publish(self, message: str) -> None:
        try:
            await self.redis.publish(CHANNEL, json.dumps([self.manager.me, message]))
        except RedisError as exc:
            log.warning("could not reach Redis: %s", exc)

    async def relay_forever(self) -> None:
        delay, lost = 0.05, False
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(PATTERN)
                    delay, lost = 0.05, False
                    async for message in pubsub.listen():
                        if message["type"] != "pmessage":
                            continue
                        origin, text = json.loads(message["data"])
                        if origin != self.manager.me:
                            await self.manager.local(text)
            except (RedisError, OSError) as exc:
                if not lost:  # once per outage, not on every attempt
                    log.warning("Redis connection lost (%s), retrying", exc)
                lost = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.4)


manager = ConnectionManager()
bus = Bus(manager)


async def broadcast(message: str) -> None:
    await manager.local(message)
    await bus.publish(message)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    bus.task = asyncio.create_task(bus.relay_forever())
    yield
    bus.task.cancel()
    with suppress(asyncio.CancelledError):
        await bus.task
    await bus.redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket)
    await broadcast(f"Client #{client_id} joined")
    try:
        async for data in websocket.iter_text():
            await broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnected:
        pass
    manager.disconnect(websocket)
    await broadcast(f"Client #{client_id} left")
