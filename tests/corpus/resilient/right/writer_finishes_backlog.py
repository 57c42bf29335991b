"""A slow client's writer sends its backlog, then the 1008 close, when told to by a None in its queue.

expect: pass
"""

import asyncio
import contextlib

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

QUEUE_SIZE = 100
CUT_OFF = None  # the last item a writer ever gets: close the connection


class ConnectionManager:
    def __init__(self) -> None:
        self.outboxes: dict[WebSocket, asyncio.Queue[str | None]] = {}
        self.names: dict[WebSocket, str] = {}
        self.writers: set[asyncio.Task[None]] = set()

    async def connect(self, websocket: WebSocket, client_id: str) -> None:
        await websocket.accept()
        # One spare place, so that the CUT_OFF marker always fits.
        outbox: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_SIZE + 1)
        self.outboxes[websocket] = outbox
        self.names[websocket] = client_id
        task = asyncio.create_task(self._write(websocket, outbox))
        self.writers.add(task)
        task.add_done_callback(self.writers.discard)

    def disconnect(self, websocket: WebSocket) -> bool:
        outbox = self.outboxes.pop(websocket, None)
        if outbox is None:
            return False
        del self.names[websocket]
        while not outbox.empty():  # drop the backlog: the client is gone
            outbox.get_nowait()
        outbox.put_nowait(CUT_OFF)
        return True

    async def broadcast(self, message: str) -> None:
        behind = [ws for ws, outbox in self.outboxes.items() if outbox.qsize() >= QUEUE_SIZE]
        for websocket, outbox in list(self.outboxes.items()):
            if websocket not in behind:
                outbox.put_nowait(message)
        for websocket in behind:
            outbox = self.outboxes.pop(websocket)
            client_id = self.names.pop(websocket)
            outbox.put_nowait(CUT_OFF)  # after the backlog, which it may still read
            await self.broadcast(f"Client #{client_id} left")

    @staticmethod
    async def _write(websocket: WebSocket, outbox: asyncio.Queue[str | None]) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while (message := await outbox.get()) is not CUT_OFF:
                await websocket.send_text(message)
            await websocket.close(code=1008)


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
