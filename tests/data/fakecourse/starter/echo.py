"""Echo: send every text message back to the client that sent it."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect  # noqa: F401 (the solution uses it)

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def echo(websocket: WebSocket, client_id: str) -> None:
    raise NotImplementedError("TODO: accept, then send back every message")
