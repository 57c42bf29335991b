"""Sends to everyone at once with asyncio.gather, but without a timeout: it waits for the slowest.

expect: slow_reader_never_stalls_others
"""

import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> bool:
        if websocket in self.active_connections:
            self.active_connections.remove(websocket)
            return True
        return False

    async def broadcast(self, message: str) -> None:
        await asyncio.gather(
            *(ws.send_text(message) for ws in list(self.active_connections)),
            return_exceptions=True,  # one dead client does not fail the rest
        )


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
