"""mistake: connect() stores the socket in the list before awaiting accept(), so a broadcast can reach a half-open socket.
line: 17
fix: Await websocket.accept() first and only then append the socket to active_connections.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps track of every open WebSocket so that one message can reach them all."""

    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        """Accept the WebSocket handshake, then remember the connection."""
        self.active_connections.append(websocket)
        await websocket.accept()

    def disconnect(self, websocket: WebSocket) -> None:
        """Forget a connection that has closed."""
        if websocket in self.active_connections:
            self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connection we know of."""
        snapshot = list(self.active_connections)
        for ws in snapshot:
            await ws.send_text(message)


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
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
