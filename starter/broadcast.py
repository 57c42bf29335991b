"""Exercise 1 — broadcast: a chat room where everyone hears everyone.

Fill in the three TODOs of ConnectionManager; the endpoint below is ready.
Read the lesson with `make lesson EX=broadcast`, grade with `make check EX=broadcast`.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps track of every open WebSocket so that one message can reach them all."""

    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        """Accept the WebSocket handshake, then remember the connection."""
        # TODO: accept the handshake, then store the connection.
        raise NotImplementedError("TODO: ConnectionManager.connect")

    def disconnect(self, websocket: WebSocket) -> None:
        """Forget a connection that has closed."""
        # TODO: remove the connection from the ones you store.
        raise NotImplementedError("TODO: ConnectionManager.disconnect")

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connection we know of."""
        # TODO: send `message` to every stored connection.
        raise NotImplementedError("TODO: ConnectionManager.broadcast")


app = FastAPI()
# One manager for the whole app: every connection must land in the same list.
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
        # Remove before announcing: broadcasting to a closed socket would fail.
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
