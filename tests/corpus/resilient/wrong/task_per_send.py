"""Fires one task per send and never awaits it: nobody waits, but a slow reader is never cut off.

expect: cuts_off_slow_reader
"""

import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []
        self.sending: set[asyncio.Task[None]] = set()

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> bool:
        if websocket in self.active_connections:
            self.active_connections.remove(websocket)
            return True
        return False

    async def broadcast(self, message: str) -> None:
        for websocket in list(self.active_connections):
            task = asyncio.create_task(self._send(websocket, message))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    @staticmethod
    async def _send(websocket: WebSocket, message: str) -> None:
        try:
            await websocket.send_text(message)
        except (WebSocketDisconnect, RuntimeError):
            pass


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket)
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        if manager.disconnect(websocket):
            await manager.broadcast(f"Client #{client_id} left")
