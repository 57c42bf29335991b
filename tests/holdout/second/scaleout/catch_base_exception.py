"""mistake: listen() catches BaseException, which also swallows the CancelledError from stop(), so the retry loop never ends on shutdown.
line: 79
fix: Catch only (redis.RedisError, OSError) in the retry loop.
"""

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as redis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
CHANNEL = "chat"
RETRY_DELAY = 0.25

logger = logging.getLogger("scaleout")


class ConnectionManager:
    """This process's own connections, plus a Redis channel shared with the other processes."""

    def __init__(self, url: str) -> None:
        self.active_connections: list[WebSocket] = []
        self.origin = uuid.uuid4().hex
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=50, timeout=5)
        self.redis = redis.Redis.from_pool(pool)
        self.listener: asyncio.Task[None] | None = None

    async def connect(self, websocket: WebSocket) -> None:
        """Accept the WebSocket handshake, then remember the connection."""
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        """Forget a connection that has closed."""
        self.active_connections.remove(websocket)

    async def deliver(self, message: str) -> None:
        """Send `message` to every client connected to this process (and only those)."""
        for connection in list(self.active_connections):
            try:
                await connection.send_text(message)
            except (WebSocketDisconnect, WebSocketDisconnected):
                pass

    async def broadcast(self, message: str) -> None:
        """Deliver to this process's clients at once, then publish for the other processes."""
        await self.deliver(message)
        envelope = json.dumps({"origin": self.origin, "text": message})
        try:
            await self.redis.publish(CHANNEL, envelope)
        except (redis.RedisError, OSError) as exc:
            logger.warning("could not publish to Redis: %s", exc)

    async def relay(self, data: bytes | str) -> None:
        """Handle one publication from the channel: deliver it unless this process sent it."""
        event = json.loads(data)
        if event.get("origin") == self.origin:
            return
        await self.deliver(event["text"])

    async def listen(self) -> None:
        """Subscribe and relay, forever; after losing Redis, warn once and subscribe again."""
        healthy = True
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                healthy = True
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.relay(message["data"])
            except BaseException as exc:
                if healthy:
                    logger.warning("lost the Redis subscription: %s", exc)
                healthy = False
            finally:
                with contextlib.suppress(redis.RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(RETRY_DELAY)

    async def start(self) -> None:
        """Start the subscriber in the background; startup never waits for Redis."""
        self.listener = asyncio.create_task(self.listen())

    async def stop(self) -> None:
        """Stop the subscriber (it unsubscribes as it ends), then close the Redis client."""
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
            self.listener = None
        await self.redis.aclose()


manager = ConnectionManager(REDIS_URL)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await manager.start()
    yield
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
