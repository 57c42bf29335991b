"""Hold-out (issue 18): closes the slow client with 1011 instead of 1008. Fix: use code 1008.

expect: closes_slow_reader_with_1008
says: WS_1008_POLICY_VIOLATION
"""
"""Exercise 3 — resilient: one dead or slow client never hurts the others.

Run it by hand with `make serve EX=resilient`, grade it with `make check EX=resilient`.
"""

import asyncio
import contextlib
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status

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
        await websocket.accept()
        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_SIZE)
        writer = asyncio.create_task(self.write(websocket, outbox))
        self.members[websocket] = Member(client_id, outbox, writer)

    def disconnect(self, websocket: WebSocket) -> bool:
        """Forget a client and stop its writer; False if it was already gone."""
        member = self.members.pop(websocket, None)
        if member is None:
            return False
        member.writer.cancel()
        return True

    async def broadcast(self, message: str) -> None:
        """Queue `message` for every client; cut off the ones whose outbox is full."""
        laggards = []
        # A copy: cutting a client off below removes it from the dict.
        for websocket, member in list(self.members.items()):
            try:
                member.outbox.put_nowait(message)  # never waits: a full outbox raises
            except asyncio.QueueFull:
                laggards.append(websocket)
        for websocket in laggards:
            await self.cut_off(websocket)

    async def cut_off(self, websocket: WebSocket) -> None:
        """Disconnect a client that fell too far behind: close code 1008, then say so."""
        member = self.members.get(websocket)
        if member is None:
            return  # already gone, and already announced by whoever removed it
        self.disconnect(websocket)
        # The close frame queues up behind everything the client has not read yet, so
        # it may wait a long time: send it from a task of its own, never inline.
        closing = asyncio.create_task(self.close_slow(websocket))
        self.closing.add(closing)
        closing.add_done_callback(self.closing.discard)
        await self.broadcast(f"Client #{member.client_id} left")

    @staticmethod
    async def close_slow(websocket: WebSocket) -> None:
        """Close a cut-off client with 1008 once it reads again; quietly if it is gone."""
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.close(code=status.WS_1011_INTERNAL_ERROR, reason="too slow")

    @staticmethod
    async def write(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
        """Send the client's messages one at a time, in order, until it goes away."""
        try:
            while True:
                message = await outbox.get()
                await websocket.send_text(message)
        except WebSocketDisconnect:
            # The connection died mid-send. Its endpoint gets WebSocketDisconnect from
            # receive_text() too, and announces the leave there: stop without a word.
            pass


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
