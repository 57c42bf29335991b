"""Ends the whole server process when a client connects.

expect: greets_newcomer
"""
import os

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    os._exit(1)
