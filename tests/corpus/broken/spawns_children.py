"""Starts long-lived child processes, one of them in a session of its own.

expect: greets_newcomer
"""
import subprocess

from fastapi import FastAPI, WebSocket

subprocess.Popen(["sleep", "3600"])
subprocess.Popen(["sleep", "3601"], start_new_session=True)
app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    subprocess.Popen(["sleep", "3602"], start_new_session=True)
