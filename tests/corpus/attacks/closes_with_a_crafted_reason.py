"""Refuses every handshake with a close reason shaped like the one FastAPI gives a
failed validation, but malformed, to make the grader's diagnosis trip over it.

Guarantee: the verdict is about the app (its connections are refused), never "a bug
in the kit".
"""

from fastapi import FastAPI, WebSocket
app = FastAPI()

@app.websocket("/ws/{client_id}")
async def ep(websocket: WebSocket, client_id: str) -> None:
    # refuse the handshake with a close reason that the kit's diagnosis parses
    await websocket.close(code=1008, reason="[{'loc': 1}]")
