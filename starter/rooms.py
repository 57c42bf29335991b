"""Exercise 4 — rooms: separate chat rooms behind one endpoint, and a list of who is where.

Fill in the four TODOs of ConnectionManager; both endpoints below are ready.
Read the lesson with `make lesson EX=rooms`, grade with `make check EX=rooms`.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps the open WebSockets of every room, so that a message reaches one room only."""

    def __init__(self) -> None:
        # room name -> {connection: client id}. Keyed by connection, not by id: the same
        # id may open several connections, and each one is a member in its own right.
        # A room is in here only while it has at least one connection.
        self.rooms: dict[str, dict[WebSocket, str]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        """Accept the handshake, then add the connection to `room`, creating the room."""
        # TODO: accept the handshake, then store the connection (and its id) in `room`,
        # creating the room if this is its first client.
        raise NotImplementedError("TODO: ConnectionManager.connect")

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        """Remove the connection from `room`, and the room itself once it is empty."""
        # TODO: remove the connection from `room`; if the room is now empty, remove it too.
        raise NotImplementedError("TODO: ConnectionManager.disconnect")

    async def broadcast(self, room: str, message: str) -> None:
        """Send `message` as a text frame to every connection in `room`, and nobody else."""
        # TODO: send `message` to every connection stored in `room` (the room may be gone).
        raise NotImplementedError("TODO: ConnectionManager.broadcast")

    def snapshot(self) -> dict[str, list[str]]:
        """Every room that has clients, with its client ids sorted, each id listed once."""
        # TODO: build {room: sorted list of its client ids} from what you store.
        raise NotImplementedError("TODO: ConnectionManager.snapshot")


app = FastAPI()
# One manager for the whole app: every connection, in every room, lands in it.
manager = ConnectionManager()


@app.websocket("/ws/{room}/{client_id}")
async def websocket_endpoint(websocket: WebSocket, room: str, client_id: str) -> None:
    await manager.connect(room, client_id, websocket)
    await manager.broadcast(room, f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(room, f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        # Remove before announcing: broadcasting to a closed socket would fail.
        manager.disconnect(room, websocket)
        await manager.broadcast(room, f"Client #{client_id} left")


@app.get("/rooms")
async def list_rooms() -> dict[str, list[str]]:
    """Who is where: {room: [client ids, sorted]}, only rooms with clients."""
    return manager.snapshot()
