"""Exercise 2 — direct: a dict keyed by client id, so one client can be reached directly.

Fill in the six TODOs: the four ConnectionManager methods, parse_direct and
handle_message. The endpoint at the bottom is ready.
Read the lesson with `make lesson EX=direct`, grade with `make check EX=direct`.
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
        # TODO: if the id is taken, close (before accepting!) and return False;
        # otherwise accept, store the connection under client_id and return True.
        raise NotImplementedError("TODO: ConnectionManager.connect")

    def disconnect(self, client_id: str) -> None:
        """Forget the connection of a client that has left."""
        # TODO: remove the connection stored under client_id.
        raise NotImplementedError("TODO: ConnectionManager.disconnect")

    async def send_personal(self, client_id: str, message: str) -> bool:
        """Send `message` to `client_id` alone. Returns False if no such client is connected."""
        # TODO: look the client up; send and return True, or return False if it is not here.
        raise NotImplementedError("TODO: ConnectionManager.send_personal")

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connected client."""
        # TODO: send `message` to every stored connection.
        raise NotImplementedError("TODO: ConnectionManager.broadcast")


app = FastAPI()
# One manager for the whole app: every connection must land in the same dict.
manager = ConnectionManager()


def parse_direct(data: str) -> tuple[str, str] | None:
    """Split a direct message `@target text` into (target, text); None for a public message.

    The target runs from after the `@` up to the first space, and the text is everything
    after that space, exactly as sent. Both must be non-empty.
    """
    # TODO: "@bob hi there" -> ("bob", "hi there"); "hello", "@bob" and "@ hi" -> None.
    raise NotImplementedError("TODO: parse_direct")


async def handle_message(client_id: str, data: str) -> None:
    """Deliver one message from `client_id`: privately to its target, or to everyone."""
    # TODO: a public message goes to everyone as "Client #{client_id}: {data}".
    # A direct one goes to its target, then the sender gets a confirmation; if the target
    # is not connected, only the sender hears about it. The lesson has the exact texts.
    raise NotImplementedError("TODO: handle_message")


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
