"""A failed send announces the client as left, and so does its endpoint: announced twice.

expect: survives_drop_mid_send, survives_close_mid_send
"""

import asyncio
import contextlib

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status

SEND_TIMEOUT = 1.0


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[WebSocket, str] = {}
        self.closing: set[asyncio.Task[None]] = set()

    async def connect(self, websocket: WebSocket, client_id: str) -> None:
        await websocket.accept()
        self.active_connections[websocket] = client_id

    def disconnect(self, websocket: WebSocket) -> bool:
        return self.active_connections.pop(websocket, None) is not None

    async def broadcast(self, message: str) -> None:
        for websocket, client_id in list(self.active_connections.items()):
            if websocket not in self.active_connections:
                continue  # removed while an earlier send was waiting
            try:
                await asyncio.wait_for(websocket.send_text(message), SEND_TIMEOUT)
            except TimeoutError:
                await self.cut_off(websocket)
            except WebSocketDisconnect:
                self.disconnect(websocket)
                await self.broadcast(f"Client #{client_id} left")

    async def cut_off(self, websocket: WebSocket) -> None:
        client_id = self.active_connections.get(websocket)
        if client_id is None or not self.disconnect(websocket):
            return
        task = asyncio.create_task(self._close(websocket))
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)
        await self.broadcast(f"Client #{client_id} left")

    @staticmethod
    async def _close(websocket: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION)


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
