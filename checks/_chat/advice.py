"""The chat lesson's words for the grader's advice: registered when imported.

The engine's rules (grader/diagnosis.py) explain a failure in terms any WebSocket app
shares; a chat has a manager with connect(), disconnect() and broadcast(), tokens, and
Redis, and its students are best told in those terms.
"""

from __future__ import annotations

from grader import diagnosis

# A Redis command called without await: where the loop stood still on one, the client
# is a synchronous one, which waits for Redis's answer with the whole process.
SYNC_REDIS_CALL = (
    r"^(?!.*\b(?:await|async)\b).*\.(publish|p?subscribe|get_message|listen|ping|"
    r"execute_command)\("
)
SYNC_REDIS_ADVICE = (
    "A synchronous Redis client (`redis.Redis` of `import redis`) blocks the event loop "
    "until Redis answers, and no client of the process is served meanwhile: use "
    "`redis.asyncio` (`import redis.asyncio as redis`) and `await` every call."
)

diagnosis.register(
    hints={
        **dict.fromkeys(
            diagnosis.SENT_AFTER_CLOSE,
            "A message was sent on a connection that had already closed: remove connections "
            "in disconnect() before broadcasting to the rest.",
        ),
        diagnosis.NOT_ASCII: (
            "secrets.compare_digest refuses str with non-ASCII characters: compare bytes, "
            "`token.encode()` with the expected token's `.encode()`."
        ),
        diagnosis.NOT_IN_LIST: (
            "disconnect() removed a connection that was not in the list: is it called twice?"
        ),
        diagnosis.CHANGED_SIZE: (
            "The collection changed while broadcast() looped over it: while a send waited, a "
            "client joined or left. Loop over a copy taken before the first send, such as "
            "`list(self.active_connections)`."
        ),
    },
    wording={
        "never_accepted": "call `await websocket.accept()` first, in connect().",
        "closed_still_stored": (
            "A connection the app closes must not stay there: if it was refused, `return` "
            "right after the close so it is never stored; if it had joined, remove it "
            "(disconnect) before closing it."
        ),
        "left_still_stored": (
            "disconnect() must remove exactly that connection before anything else is broadcast."
        ),
        "sent_after_close": "remove a connection in disconnect() before broadcasting to the rest.",
        "changed_size_loop": (
            "While a send in that loop waited, a client left (or joined), and the loop went "
            "on over the changed collection, so the clients after it never got the message. "
            "Loop over a copy taken before the first send: `for {target} in "
            "list({iterable}):`."
        ),
    },
    outside_errors=["Redis"],
    # Where a chat's tasks rest when all is well: a subscriber waiting for Redis.
    idle=[".listen()", "get_message("],
    block_hints=[(SYNC_REDIS_CALL, SYNC_REDIS_ADVICE)],
)
