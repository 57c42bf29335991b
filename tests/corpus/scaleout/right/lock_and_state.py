"""Keeps the Redis client on app.state, serialises publishes with a lock, and backs off.

expect: pass
"""

import asyncio
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected

logger = logging.getLogger("uvicorn.error")


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []
        self.process_id = uuid.uuid4().hex
        self.client: aioredis.Redis | None = None
        self.channel = "ws-chat"
        self.publish_lock = asyncio.Lock()

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def _send_all(self, message: str) -> None:
        for connection in self.active_connections[:]:
            try:
                await connection.send_text(message)
            except (WebSocketDisconnect, WebSocketDisconnected):
                continue

    async def broadcast(self, message: str) -> None:
        await self._send_all(message)
        if self.client is None:
            return
        body = json.dumps({"process": self.process_id, "message": message}, ensure_ascii=False)
        async with self.publish_lock:
            try:
                await self.client.publish(self.channel, body)
            except aioredis.RedisError:
                logger.warning("Redis unavailable: message delivered on this process only")

    async def listen(self) -> None:
        assert self.client is not None
        failures = 0
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                failures = 0
                while True:
                    item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    if item is None:
                        continue
                    data = json.loads(item["data"])
                    if data["process"] != self.process_id:
                        await self._send_all(data["message"])
            except (aioredis.ConnectionError, aioredis.TimeoutError, ConnectionError):
                failures += 1
                if failures == 1:
                    logger.warning("Lost the Redis subscription; reconnecting")
            finally:
                await pubsub.aclose()
            await asyncio.sleep(min(0.5, 0.1 * failures))


manager = ConnectionManager()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = aioredis.Redis.from_url(
        os.environ.get("REDIS_URL", "redis://localhost:6379/0"), socket_connect_timeout=1
    )
    manager.client = app.state.redis
    listener = asyncio.create_task(manager.listen())
    yield
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)
    await app.state.redis.aclose()


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
