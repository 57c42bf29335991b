"""For a few seconds, finds every WebSocket server on the loopback and joins it as
"alice" and "bob", sending messages: into another student's chat, if it can reach one.

Guarantee: a correct submission graded beside it in the same batch scores full marks,
as in a control run on its own.
"""

import socket
import threading
import time

from fastapi import FastAPI
from websockets.sync.client import connect


def open_ports() -> list[int]:
    found = []
    for port in range(1024, 65536):
        with socket.socket() as sock:
            sock.settimeout(0.01)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                found.append(port)
    return found


def inject(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for port in open_ports():
            for name in ("alice", "bob"):
                try:
                    with connect(f"ws://127.0.0.1:{port}/ws/{name}", open_timeout=0.5) as ws:
                        ws.send("injected")
                except Exception:  # noqa: BLE001 - not a WebSocket server: next
                    continue


threading.Thread(target=inject, args=(4.5,), daemon=True).start()
time.sleep(4)
app = FastAPI()
