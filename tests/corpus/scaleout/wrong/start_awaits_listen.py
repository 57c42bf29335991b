"""Hold-out (issue 18): start() awaits listen() directly so startup never returns. Fix: create a task with asyncio.create_task.

expect: local_chat
says: Your app's startup never finished
says: line 106
"""
"""Exercise 6 — scaleout: one chat across several processes, joined by Redis pub/sub.

Run it by hand with `make serve EX=scaleout` (two processes sharing one Redis), grade
it with `make check EX=scaleout`.
"""

import asyncio
import contextlib
import json  # noqa: F401 (the starter needs it once its TODOs are done)
import logging
import os
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as redis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected

# Every process of the app must be given the same broker: read it, never hardcode it.
REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
# The one channel that every process publishes to and subscribes to.
CHANNEL = "chat"
# How long the subscriber waits before it tries Redis again after losing it.
RETRY_DELAY = 0.25

logger = logging.getLogger("scaleout")


class ConnectionManager:
    """This process's own connections, plus a Redis channel shared with the other processes."""

    def __init__(self, url: str) -> None:
        self.active_connections: list[WebSocket] = []
        # A random id for this process: it tells our own publications from the others'.
        self.origin = uuid.uuid4().hex
        # Nothing connects until the first command. A blocking pool makes a burst of
        # publishers (hundreds of clients joining at once) wait for a connection instead
        # of failing with "Too many connections".
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
        # A copy: the subscriber task and the endpoints change the list concurrently.
        for connection in list(self.active_connections):
            try:
                await connection.send_text(message)
            except (WebSocketDisconnect, WebSocketDisconnected):
                pass  # it is closing right now; its own endpoint will disconnect() it

    async def broadcast(self, message: str) -> None:
        """Deliver to this process's clients at once, then publish for the other processes."""
        # Local first: our own clients must not depend on Redis being up.
        await self.deliver(message)
        payload = json.dumps({"origin": self.origin, "text": message})
        try:
            # Awaited, not fired off in a task: one sender's messages stay in order.
            await self.redis.publish(CHANNEL, payload)
        except (redis.RedisError, OSError) as exc:
            logger.warning("Redis unreachable, only local clients got a message: %s", exc)

    async def relay(self, data: bytes | str) -> None:
        """Handle one publication from the channel: deliver it unless this process sent it."""
        event = json.loads(data)
        # Our own publications were delivered locally already: a second copy is a duplicate.
        if event["origin"] != self.origin:
            await self.deliver(event["text"])

    async def listen(self) -> None:
        """Subscribe and relay, forever; after losing Redis, warn once and subscribe again."""
        lost = False
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                lost = False
                async for message in pubsub.listen():
                    await self.relay(message["data"])
            except (redis.RedisError, OSError) as exc:
                if not lost:
                    logger.warning("lost Redis, serving local clients only: %s", exc)
                lost = True
            finally:
                await pubsub.aclose()
            # What is published until we are back is gone for us: pub/sub is at-most-once.
            await asyncio.sleep(RETRY_DELAY)

    async def start(self) -> None:
        """Start the subscriber in the background; startup never waits for Redis."""
        await self.listen()

    async def stop(self) -> None:
        """Stop the subscriber (it unsubscribes as it ends), then close the Redis client."""
        if self.listener is not None:
            self.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.listener
        await self.redis.aclose()


# One manager per process: each process has its own clients, Redis joins them up.
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
        # WebSocketDisconnected: another task's send found the socket closed while this
        # handler was busy (publishing, say); Starlette then refuses receive_text().
        # Remove before announcing: broadcasting to a closed socket would fail.
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
