"""Prints without end when a client connects.

expect: greets_newcomer
"""
from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    while True:
        print("spam " * 1000)
