"""Sends to all clients at once with asyncio.gather, each send bounded by asyncio.wait_for.

expect: pass
"""

import asyncio
import contextlib

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

SEND_TIMEOUT = 1.0


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[WebSocket, str] = {}
        self.background: set[asyncio.Task[None]] = set()

    async def connect(self, websocket: WebSocket, client_id: str) -> None:
        await websocket.accept()
        self.active_connections[websocket] = client_id

    def disconnect(self, websocket: WebSocket) -> str | None:
        """The id of the client removed now, or None if it was gone already."""
        return self.active_connections.pop(websocket, None)

    async def broadcast(self, message: str) -> None:
        results = await asyncio.gather(
            *(self._send(ws, message) for ws in list(self.active_connections))
        )
        for left in filter(None, results):
            await self.broadcast(f"Client #{left} left")

    async def _send(self, websocket: WebSocket, message: str) -> str | None:
        """Send one message; if the client is too slow, cut it off and return its id."""
        try:
            await asyncio.wait_for(websocket.send_text(message), SEND_TIMEOUT)
        except WebSocketDisconnect:
            return None  # its endpoint announces it
        except TimeoutError:
            client_id = self.disconnect(websocket)
            if client_id is not None:
                task = asyncio.create_task(self._close(websocket))
                self.background.add(task)
                task.add_done_callback(self.background.discard)
            return client_id
        return None

    @staticmethod
    async def _close(websocket: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect):
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
        if manager.disconnect(websocket) is not None:
            await manager.broadcast(f"Client #{client_id} left")
