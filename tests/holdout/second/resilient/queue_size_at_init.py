"""mistake: The manager copies QUEUE_SIZE in __init__ (at import), so the checks' smaller QUEUE_SIZE never takes effect.
line: 30
fix: Read the global QUEUE_SIZE inside connect() when creating each outbox.
"""

import asyncio
import contextlib
from dataclasses import dataclass

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status

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
        self.closing: set[asyncio.Task[None]] = set()
        self.queue_size = QUEUE_SIZE

    async def connect(self, websocket: WebSocket, client_id: str) -> None:
        """Accept the handshake, give the client an outbox, and start its writer."""
        await websocket.accept()
        outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=self.queue_size)
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
        behind: list[WebSocket] = []
        for websocket, member in list(self.members.items()):
            try:
                member.outbox.put_nowait(message)
            except asyncio.QueueFull:
                behind.append(websocket)
        for websocket in behind:
            await self.cut_off(websocket)

    async def cut_off(self, websocket: WebSocket) -> None:
        """Disconnect a client that fell too far behind: close code 1008, then say so."""
        member = self.members.get(websocket)
        if member is None:
            return
        if not self.disconnect(websocket):
            return
        task = asyncio.create_task(self.close_slow(websocket))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)
        await self.broadcast(f"Client #{member.client_id} left")

    @staticmethod
    async def close_slow(websocket: WebSocket) -> None:
        """Close a cut-off client with 1008 once it reads again; quietly if it is gone."""
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION)

    @staticmethod
    async def write(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
        """Send the client's messages one at a time, in order, until it goes away."""
        try:
            while True:
                message = await outbox.get()
                await websocket.send_text(message)
        except WebSocketDisconnect:
            return


app = FastAPI()
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
        if manager.disconnect(websocket):
            await manager.broadcast(f"Client #{client_id} left")
