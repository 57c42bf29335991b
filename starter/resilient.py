"""Exercise 3 — resilient: one dead or slow client never hurts the others.

Fill in the six TODOs of ConnectionManager; Member and the endpoint below are ready.
Read the lesson with `make lesson EX=resilient`, grade with `make check EX=resilient`.
"""

import asyncio
import contextlib  # noqa: F401 (close_slow needs it once its TODO is done)
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status  # noqa: F401

# How many messages a client may fall behind before it is cut off. Generous enough for
# a burst (500 clients joining at once queue 500 "joined" lines for everyone); read it
# when a client connects, not at import time: the checks set it small.
QUEUE_SIZE = 1000


@dataclass
class Member:
    """What the manager keeps for one connected client."""

    client_id: str
    outbox: asyncio.Queue[str]
    writer: asyncio.Task[None]


class ConnectionManager:
    """Gives every client its own bounded outbox, drained in order by its own writer task."""

    def __init__(self) -> None:
        self.members: dict[WebSocket, Member] = {}
        # asyncio keeps only weak references to tasks: hold on to the pending closes.
        self.closing: set[asyncio.Task[None]] = set()

    async def connect(self, websocket: WebSocket, client_id: str) -> None:
        """Accept the handshake, give the client an outbox, and start its writer."""
        # TODO: accept, create a Queue of QUEUE_SIZE, start write() as a task, store a Member.
        raise NotImplementedError("TODO: ConnectionManager.connect")

    def disconnect(self, websocket: WebSocket) -> bool:
        """Forget a client and stop its writer; False if it was already gone."""
        # TODO: remove the member, cancel its writer, and say whether it was there.
        raise NotImplementedError("TODO: ConnectionManager.disconnect")

    async def broadcast(self, message: str) -> None:
        """Queue `message` for every client; cut off the ones whose outbox is full."""
        # TODO: put_nowait() into every outbox; cut off those that raise QueueFull.
        raise NotImplementedError("TODO: ConnectionManager.broadcast")

    async def cut_off(self, websocket: WebSocket) -> None:
        """Disconnect a client that fell too far behind: close code 1008, then say so."""
        # TODO: disconnect it, start close_slow() as a task you keep, announce it left.
        raise NotImplementedError("TODO: ConnectionManager.cut_off")

    @staticmethod
    async def close_slow(websocket: WebSocket) -> None:
        """Close a cut-off client with 1008 once it reads again; quietly if it is gone."""
        # TODO: close with code 1008; a client that is gone already is not an error.
        raise NotImplementedError("TODO: ConnectionManager.close_slow")

    @staticmethod
    async def write(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
        """Send the client's messages one at a time, in order, until it goes away."""
        # TODO: send what arrives in the outbox, in order; stop quietly if the client died.
        raise NotImplementedError("TODO: ConnectionManager.write")


app = FastAPI()
# One manager for the whole app: every connection must land in the same dict.
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket, client_id)
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        # Whoever removes a client announces it, exactly once: a client cut off for
        # being slow was announced by cut_off(), and disconnect() returns False here.
        if manager.disconnect(websocket):
            await manager.broadcast(f"Client #{client_id} left")
