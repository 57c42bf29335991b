"""Waits forever without accepting the handshake.

expect: greets_newcomer
"""
import asyncio

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await asyncio.Event().wait()
