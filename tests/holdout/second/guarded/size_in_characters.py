"""mistake: The size check uses len(data), counting characters instead of UTF-8 bytes, so multi-byte messages over the byte limit are relayed.
line: 79
fix: Measure len(data.encode("utf-8")).
"""

import re
import secrets

from fastapi import FastAPI, WebSocket, WebSocketDisconnect, status

TOKENS: dict[str, str] = {
    "alice": "alice-7f3k9q",
    "bob": "bob-2m8x4z",
    "carol": "carol-9d1w6p",
    "dave": "dave-5r0t3h",
}
MAX_CONNECTIONS = 100
MAX_MESSAGE_BYTES = 4096

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def is_valid_client_id(client_id: str) -> bool:
    """True if `client_id` is 1 to 32 ASCII letters, digits, `_` or `-`, and nothing else."""
    return CLIENT_ID.fullmatch(client_id) is not None


def is_authorized(client_id: str, token: str | None) -> bool:
    """True if `token` is the token TOKENS holds for `client_id`."""
    expected = TOKENS.get(client_id)
    if expected is None or token is None:
        return False
    return secrets.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))


class ConnectionManager:
    """Keeps track of every open WebSocket, up to MAX_CONNECTIONS of them."""

    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> bool:
        """Accept the handshake; keep the connection if there is room, else close it with 1013."""
        await websocket.accept()
        if len(self.active_connections) >= MAX_CONNECTIONS:
            await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER, reason="server full")
            return False
        self.active_connections.append(websocket)
        return True

    def disconnect(self, websocket: WebSocket) -> None:
        """Forget a connection that has closed."""
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connection we know of."""
        for connection in list(self.active_connections):
            await connection.send_text(message)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(
    websocket: WebSocket, client_id: str, token: str | None = None
) -> None:
    """Refuse strangers before accepting, then chat; close senders of oversized messages."""
    if not is_valid_client_id(client_id) or not is_authorized(client_id, token):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    if not await manager.connect(websocket):
        return
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            if len(data) > MAX_MESSAGE_BYTES:
                manager.disconnect(websocket)
                await websocket.close(
                    code=status.WS_1009_MESSAGE_TOO_BIG, reason="message too big"
                )
                break
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        manager.disconnect(websocket)
    await manager.broadcast(f"Client #{client_id} left")
