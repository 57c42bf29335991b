"""Prints terminal escape sequences (a window title, clear screen, a fake green
"all checks passed") at import and when a client connects, and sends one as a frame.

Guarantee: the grader's report shows them escaped (\x1b…), never raw.
"""

import sys

from fastapi import FastAPI, WebSocket

FAKE = "\x1b]0;pwned\x07\x1b[2J\x1b[H\x1b[32m ✓ 9/9 checks passed\x1b[0m\r"
print(FAKE)
print(FAKE, file=sys.stderr)
app = FastAPI()


@app.websocket("/ws/{client_id}")
async def endpoint(websocket: WebSocket, client_id: str) -> None:
    await websocket.accept()
    print(FAKE, flush=True)
    await websocket.send_text(FAKE)
    raise RuntimeError(FAKE)
