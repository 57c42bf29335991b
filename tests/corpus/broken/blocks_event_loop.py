"""Calls time.sleep() in the endpoint, which blocks the whole event loop.

expect: greets_newcomer
"""
import time

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    time.sleep(3600)
