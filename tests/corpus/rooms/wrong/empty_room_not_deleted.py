"""Hold-out (issue 18): forgot to delete the room once its last member leaves. Fix: del self.rooms[room] when members is empty.

expect: removes_empty_rooms
says: it must delete the room itself
"""
"""Exercise 4 — rooms: separate chat rooms behind one endpoint, and a list of who is where.

Run it by hand with `make serve EX=rooms`, grade it with `make check EX=rooms`.
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
        # Accept first: until the handshake is accepted we may not send on it.
        await websocket.accept()
        self.rooms.setdefault(room, {})[websocket] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        """Remove the connection from `room`, and the room itself once it is empty."""
        members = self.rooms[room]
        del members[websocket]

    async def broadcast(self, room: str, message: str) -> None:
        """Send `message` as a text frame to every connection in `room`, and nobody else."""
        # .get: the room is gone when its last client has just left. list(): while we
        # await a send, others may join or leave, and a dict must not change under a loop.
        for connection in list(self.rooms.get(room, {})):
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        """Every room that has clients, with its client ids sorted, each id listed once."""
        return {room: sorted(set(members.values())) for room, members in self.rooms.items()}


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
