"""Prints and sends text with bidirectional overrides and marks, zero-width and line
separator characters: shown raw, "passed ✗" can read as "✓ passed", a line can hide
after an invisible break, and two different names can look the same.

Guarantee: the grader's report (terminal and feedback.html) shows each of them as its
escape (\u202e, \u200b…), never raw.
"""

import sys

from fastapi import FastAPI, WebSocket

INVISIBLE = "\u200e\u200f\u061c\u2028\u2029\ufeff\u200b\u202a\u202b\u202c\u202d\u202e"
INVISIBLE += "\u2066\u2067\u2068\u2069"
FAKE = f"\u202e✗ dessap 01/01\u202c{INVISIBLE}"
print(FAKE)
print(FAKE, file=sys.stderr)
app = FastAPI()


@app.websocket("/ws/{client_id}")
async def endpoint(websocket: WebSocket, client_id: str) -> None:
    await websocket.accept()
    print(FAKE, flush=True)
    await websocket.send_text(FAKE)
    raise RuntimeError(FAKE)
