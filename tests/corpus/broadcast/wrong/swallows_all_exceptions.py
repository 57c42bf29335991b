"""Wraps each receive in `except Exception: pass` inside `while True`; a disconnect spins forever.

expect: announces_leave
says: ran again after the client had left
says: line 37
"""

from fastapi import FastAPI, WebSocket


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        for connection in self.active_connections:
            await connection.send_text(message)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket)
    await manager.broadcast(f"Client #{client_id} joined")
    while True:
        try:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
        except Exception:
            pass
