"""Hold-out (issue 18): iterates the live dict while awaiting sends. Fix: loop over list(...values()).

expect: broadcast_survives_a_leave
says: Loop over a copy taken before the first send
says: line 52
"""
"""Exercise 2 — direct: a dict keyed by client id, so one client can be reached directly.

Run it by hand with `make serve EX=direct`, grade it with `make check EX=direct`.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps every open WebSocket under its client id: reach one client, or all of them."""

    def __init__(self) -> None:
        self.active_connections: dict[str, WebSocket] = {}

    async def connect(self, client_id: str, websocket: WebSocket) -> bool:
        """Accept the connection and remember it under `client_id`, unless the id is taken.

        A taken id is refused before the handshake is accepted. Returns True when the
        connection was accepted, False when it was refused.
        """
        if client_id in self.active_connections:
            # Closing before accept() makes the client's handshake fail with HTTP 403
            # (1008 is "policy violation"); the client that holds the id is not touched.
            await websocket.close(code=1008)
            return False
        # Accept first: until the handshake is accepted we may not send on it.
        await websocket.accept()
        self.active_connections[client_id] = websocket
        return True

    def disconnect(self, client_id: str) -> None:
        """Forget the connection of a client that has left."""
        del self.active_connections[client_id]

    async def send_personal(self, client_id: str, message: str) -> bool:
        """Send `message` to `client_id` alone. Returns False if no such client is connected."""
        websocket = self.active_connections.get(client_id)
        if websocket is None:
            return False
        await websocket.send_text(message)
        return True

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connected client."""
        # Loop over a snapshot: a client may join or leave while a send is awaited.
        for websocket in self.active_connections.values():
            await websocket.send_text(message)


app = FastAPI()
# One manager for the whole app: every connection must land in the same dict.
manager = ConnectionManager()


def parse_direct(data: str) -> tuple[str, str] | None:
    """Split a direct message `@target text` into (target, text); None for a public message.

    The target runs from after the `@` up to the first space, and the text is everything
    after that space, exactly as sent. Both must be non-empty.
    """
    if not data.startswith("@"):
        return None
    target, _, text = data[1:].partition(" ")
    if not target or not text:
        return None  # "@bob" or "@ hi" is not a direct message: it is said in public
    return target, text


async def handle_message(client_id: str, data: str) -> None:
    """Deliver one message from `client_id`: privately to its target, or to everyone."""
    direct = parse_direct(data)
    if direct is None:
        await manager.broadcast(f"Client #{client_id}: {data}")
        return
    target, text = direct
    # Deliver first: the confirmation tells the sender that the message really went out.
    if await manager.send_personal(target, f"Client #{client_id} (private): {text}"):
        await manager.send_personal(client_id, f"You to #{target}: {text}")
    else:
        await manager.send_personal(client_id, f"Client #{target} is not connected")


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    if not await manager.connect(client_id, websocket):
        # Refused: this handler owns nothing, so it must neither disconnect nor announce.
        return
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await handle_message(client_id, data)
    except WebSocketDisconnect:
        # Remove before announcing: broadcasting to a closed socket would fail.
        manager.disconnect(client_id)
        await manager.broadcast(f"Client #{client_id} left")
