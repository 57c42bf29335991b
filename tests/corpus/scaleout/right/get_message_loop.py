"""Polls get_message() with a timeout on its own subscriber client and stops on an Event.

expect: pass
"""

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
CHANNEL = "lobby"

logger = logging.getLogger(__name__)


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[WebSocket, str] = {}
        self.origin = os.urandom(8).hex()
        # Separate clients: a subscribed connection can do nothing but listen.
        self.publisher = redis.from_url(REDIS_URL, decode_responses=True)
        self.subscriber = redis.from_url(REDIS_URL, decode_responses=True)
        self.stopping = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def connect(self, websocket: WebSocket, client_id: str) -> None:
        await websocket.accept()
        self.active_connections[websocket] = client_id

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.pop(websocket, None)

    async def send_local(self, message: str) -> None:
        for websocket in list(self.active_connections):
            try:
                await websocket.send_text(message)
            except (WebSocketDisconnect, WebSocketDisconnected):
                self.disconnect(websocket)

    async def broadcast(self, message: str) -> None:
        await self.send_local(message)
        try:
            await self.publisher.publish(
                CHANNEL, json.dumps({"from": self.origin, "message": message})
            )
        except redis.ConnectionError as exc:
            logger.warning("Redis is down; message stays on this process (%s)", exc)

    async def pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def run(self) -> None:
        warned = False
        while not self.stopping.is_set():
            pubsub = self.subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                warned = False
                while not self.stopping.is_set():
                    message = await pubsub.get_message(timeout=0.2)
                    if message is None:
                        continue
                    event = json.loads(message["data"])
                    if event["from"] != self.origin:
                        await self.send_local(event["message"])
            except redis.ConnectionError as exc:
                if not warned:
                    logger.warning("subscription to Redis lost (%s); retrying", exc)
                    warned = True
                await self.pause(0.1)
            finally:
                await pubsub.aclose()

    async def start(self) -> None:
        self.task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            await self.task
        await self.publisher.aclose()
        await self.subscriber.aclose()


manager = ConnectionManager()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await manager.start()
    yield
    await manager.stop()


app = FastAPI(lifespan=lifespan)


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket, client_id)
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except (WebSocketDisconnect, WebSocketDisconnected):
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
