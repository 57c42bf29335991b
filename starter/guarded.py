"""Exercise 5 — guarded: only known clients get in, and nobody can exhaust the server.

Fill in the four TODOs: the two tests run before accept(), the manager's connect with its
connection limit, and the endpoint that puts them together and limits message size.
Read the lesson with `make lesson EX=guarded`, grade with `make check EX=guarded`.
"""

# The starter uses some of these names only once its TODOs are filled in.
import re
import secrets  # noqa: F401

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status  # noqa: F401

# Demo users: client id → token. A real app looks tokens up in a user store instead.
TOKENS: dict[str, str] = {
    "alice": "alice-7f3k9q",
    "bob": "bob-2m8x4z",
    "carol": "carol-9d1w6p",
    "dave": "dave-5r0t3h",
}
# Read at call time (never copied at import), so they can be changed while running.
MAX_CONNECTIONS = 100
MAX_MESSAGE_BYTES = 4096

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def is_valid_client_id(client_id: str) -> bool:
    """True if `client_id` is 1 to 32 ASCII letters, digits, `_` or `-`, and nothing else."""
    # TODO: the whole id must match CLIENT_ID.
    raise NotImplementedError("TODO: is_valid_client_id")


def is_authorized(client_id: str, token: str | None) -> bool:
    """True if `token` is the token TOKENS holds for `client_id`."""
    # TODO: look the id up in TOKENS (at call time) and compare with secrets.compare_digest.
    raise NotImplementedError("TODO: is_authorized")


class ConnectionManager:
    """Keeps track of every open WebSocket, up to MAX_CONNECTIONS of them."""

    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> bool:
        """Accept the handshake; keep the connection if there is room, else close it with 1013."""
        # TODO: accept; if MAX_CONNECTIONS are connected, close with 1013 and a reason and
        # return False; otherwise store the connection and return True.
        raise NotImplementedError("TODO: ConnectionManager.connect")

    def disconnect(self, websocket: WebSocket) -> None:
        """Forget a connection that has closed."""
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connection we know of."""
        for connection in list(self.active_connections):
            await connection.send_text(message)


app = FastAPI()
# One manager for the whole app: every connection must land in the same list.
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(
    websocket: WebSocket, client_id: str, token: str | None = None
) -> None:
    """Refuse strangers before accepting, then chat; close senders of oversized messages."""
    # TODO: refuse bad ids and tokens before accept (close with 1008), connect through the
    # manager, then chat as in broadcast; a message over MAX_MESSAGE_BYTES (UTF-8 bytes)
    # is not relayed: its sender is closed with 1009 and announced as left.
    raise NotImplementedError("TODO: websocket_endpoint")
