"""Hold-out (issue 18): dropped the # from the joined announcement. Fix: write "Client #{client_id} joined".

expect: announces_join_to_everyone, announces_ids_as_given
says: whose fixed text is not the exercise's
says: line 45
"""
"""Exercise 1 — broadcast: a chat room where everyone hears everyone.

Run it by hand with `make serve EX=broadcast`, grade it with `make check EX=broadcast`.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps track of every open WebSocket so that one message can reach them all."""

    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        """Accept the WebSocket handshake, then remember the connection."""
        # Accept first: until the handshake is accepted we may not send on it.
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        """Forget a connection that has closed."""
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connection we know of."""
        for connection in self.active_connections:
            await connection.send_text(message)


app = FastAPI()
# One manager for the whole app: every connection must land in the same list.
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket)
    await manager.broadcast(f"Client {client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        # Remove before announcing: broadcasting to a closed socket would fail.
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
