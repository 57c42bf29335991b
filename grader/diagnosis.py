"""Turn what a server did into what a student needs: their own frames, and advice
that names the real cause.

`trim` cuts a server's output down to the student's own prints and frames. `explain`
reads the evidence of a failed check, the most specific first: what the grader's
witness saw inside the server (a coroutine never awaited, a call Starlette refused, a
handshake refused and why, the event loop blocked), then the server's output, then the
frames themselves (JSON where text was expected); only if none of it speaks does the
check's own help stand alone.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from grader import source as code

MAX_LINES = 24
MAX_READ = 1 << 20  # characters of output read at most: split, each line costs memory
MAX_LINE = 400  # characters of one line: a server may print a megabyte on one

# Starlette's errors for a call at the wrong moment of a connection's life.
NOT_ACCEPTED = ('Need to call "accept" first', '"websocket.accept"')
SENT_AFTER_CLOSE = ('Cannot call "send" once a close message has been sent', "ClientDisconnected")
RECEIVED_AFTER_LEAVING = ('Cannot call "receive" once a disconnect message has been received',)
CHANGED_SIZE = "changed size during iteration"
# A `for` line, to name its copy: `for ws in self.rooms[room]:` -> `list(self.rooms[room])`.
FOR_LINE = re.compile(r"for\s+(?P<target>.+?)\s+in\s+(?P<iterable>.+?)\s*:\s*(#.*)?")

# Errors in a server's output, where the witness saw nothing more precise.
HINTS: tuple[tuple[str, str], ...] = (
    *(
        (needle, "Call `await websocket.accept()` before using a connection.")
        for needle in NOT_ACCEPTED
    ),
    *(
        (
            needle,
            "A message was sent on a connection that had already closed: remove connections "
            "in disconnect() before broadcasting to the rest.",
        )
        for needle in SENT_AFTER_CLOSE
    ),
    (
        RECEIVED_AFTER_LEAVING[0],
        "The receive loop kept going after the client left: let WebSocketDisconnect end it.",
    ),
    (
        "comparing strings with non-ASCII characters is not supported",
        "secrets.compare_digest refuses str with non-ASCII characters: compare bytes, "
        "`token.encode()` with the expected token's `.encode()`.",
    ),
    (
        "x not in list",
        "disconnect() removed a connection that was not in the list: is it called twice?",
    ),
    (
        CHANGED_SIZE,
        "The collection changed while broadcast() looped over it: while a send waited, a "
        "client joined or left. Loop over a copy taken before the first send, such as "
        "`list(self.active_connections)`.",
    ),
    (
        "RuntimeError: Expected ASGI message",
        "The endpoint sent or closed at the wrong moment of the WebSocket lifecycle.",
    ),
)


@dataclass(frozen=True)
class Evidence:
    """What a failed check has to go on, besides the check's own help."""

    events: Sequence[dict[str, Any]] = ()
    """What the witnesses in the check's servers reported (see witness.py)."""
    output: str = ""
    """What the check's servers printed."""
    wanted: str | None = None
    got: str | bytes | None = None
    """The frame the check expected, and the one that arrived instead."""
    path: str | None = None
    """The path of the connection the check failed on, if it failed on one."""
    endpoint: str | None = None
    """The exercise's route, as the manifest gives it ("/ws/{room}/{client_id}")."""
    accepted: bool = False
    """Whether the check failed because a handshake it expected refused was accepted."""
    about_errors: bool = False
    """Whether the check failed because the server logged an error (not because of
    something a client waited for)."""
    source: Sequence[str] = ()
    """The grader's copy of the student's file, by line."""
    values: Sequence[str] = ()
    """What the check's clients chose: their ids and the texts they sent."""


@dataclass(frozen=True)
class Advice:
    text: str
    complete: bool = True
    """False for a plain fact ("your app refused it at line 12") that the check's own
    help should follow."""


def explain(evidence: Evidence, file_name: str) -> Advice | None:
    """Advice from what actually happened, the most specific evidence first."""
    for rule in RULES:
        try:
            advice = rule(evidence, file_name)
        except Exception:  # evidence the app could shape: no advice from it
            continue
        if advice is not None:
            return advice
    return None


def _at(event: dict[str, Any], file_name: str) -> str:
    """ "broadcast.py line 17 (`time.sleep(0.3)`)", from an event's line and code"""
    if not event.get("line"):
        return "your code"
    code = f" (`{event['code']}`)" if event.get("code") else ""
    return f"{file_name} line {event['line']}{code}"


def _via(event: dict[str, Any], file_name: str) -> str:
    """ " (reached from broadcast.py line 50 (`…`))": the endpoint's line that led there."""
    if not event.get("from_line") or event.get("from_line") == event.get("line"):
        return ""
    start = {"line": event["from_line"], "code": event.get("from_code")}
    return f" (reached from {_at(start, file_name)})"


def _first(evidence: Evidence, kind: str) -> dict[str, Any] | None:
    return next((e for e in evidence.events if e.get("kind") == kind), None)


def _unawaited(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, "unawaited")
    if event is None:
        return None
    name = re.search(r"coroutine '(?:\w+\.)*(\w+)'", event.get("what", ""))
    call = event.get("code") or (f"{name[1]}(…)" if name else "the call")
    fact = (
        f"`{call}` at {file_name} line {event.get('line', '?')} is never awaited. Calling an "
        "async function only creates a coroutine, and nothing happens until it is awaited"
    )
    return Advice(f"{fact}: {_how_to_await(evidence, event.get('line'), call)}")


def _how_to_await(evidence: Evidence, line: object, call: str) -> str:
    """ "write `await …`", or, inside a plain def, that the function must become async."""
    function = code.function_at(evidence.source, line) if isinstance(line, int) else None
    if isinstance(function, ast.FunctionDef):
        return (
            f"it is inside `def {function.name}`, a plain function, where `await` is not "
            f"allowed. Make it `async def {function.name}`, write `await {call}` there, and "
            f"`await` every call of {function.name}()."
        )
    return f"write `await {call}`."


def _misuse(evidence: Evidence, file_name: str) -> Advice | None:
    """A call Starlette refused, explained by what had become of that connection."""
    for event in evidence.events:
        if event.get("kind") != "misuse" or not event.get("line"):
            continue
        error = event.get("error", "")
        where = _at(event, file_name) + _via(event, file_name)
        after = event.get("after")
        closed = _at(
            {"line": event.get("closed_line"), "code": event.get("closed_code")}, file_name
        )
        if any(needle in error for needle in RECEIVED_AFTER_LEAVING):
            counts = [
                e.get("count", 1)
                for e in evidence.events
                if e.get("kind") == "misuse" and e.get("line") == event["line"]
            ]
            count = f"at least {max(counts)}" if max(counts) > 1 else "1"
            return Advice(
                f"The receive at {where} ran again after the client had left, {count} times: "
                "the receive loop must end on WebSocketDisconnect, and an `except` that "
                "catches it and carries on keeps the loop spinning."
            )
        if any(needle in error for needle in NOT_ACCEPTED):
            if after == "closed":
                return Advice(
                    f"{_sentence(where)} uses a connection your app had already closed at "
                    f"{closed}. Once the app closes (or refuses) a connection, nothing may use "
                    "it again: `return` from the endpoint, or `break` out of its loop, right "
                    "after the close."
                )
            return Advice(
                f"{_sentence(where)} uses a connection that was never accepted: call "
                "`await websocket.accept()` first, in connect()."
            )
        if any(needle in error for needle in SENT_AFTER_CLOSE):
            return Advice(_sent_after_close(event, where, file_name))
    return None


def _sent_after_close(event: dict[str, Any], where: str, file_name: str) -> str:
    """Why `where` sent on a closed connection, from what became of it (`event`'s after,
    path, closed_line, closed_code, and task_line and task_code if a task sent)."""
    after = event.get("after")
    closed = _at({"line": event.get("closed_line"), "code": event.get("closed_code")}, file_name)
    if after == "closed" and event.get("task_line"):
        task = _at({"line": event["task_line"], "code": event.get("task_code")}, file_name)
        return (
            f"{_sentence(where)}, in the task started at {task}, sends on a connection your app "
            f"closed at {closed}: the task outlived its connection. Cancel it where the "
            "connection is closed or forgotten."
        )
    if after == "closed":
        return (
            f"{_sentence(where)} sends on a connection your app closed at {closed}, which was "
            "still among the connections messages go to. A connection the app closes must "
            "not stay there: if it was refused, `return` right after the close so it is "
            "never stored; if it had joined, remove it (disconnect) before closing it."
        )
    if after == "left":
        return (
            f"{_sentence(where)} sends on the connection of {event.get('path')}, whose client "
            "had left and which was still stored: disconnect() must remove exactly that "
            "connection before anything else is broadcast."
        )
    if after == "returned":
        return (
            f"{_sentence(where)} sends on the connection of {event.get('path')}, whose endpoint "
            "had already returned, which closes the connection, and left it stored. Keep the "
            "endpoint receiving in a `while True:` loop until the client leaves."
        )
    return (
        f"{_sentence(where)} sends on a connection that has already closed: remove a connection "
        "in disconnect() before broadcasting to the rest."
    )


def _died(evidence: Evidence, file_name: str) -> Advice | None:
    """A task the app started ended with an exception, which nothing awaited to see."""
    event = _first(evidence, "died")
    if event is None:
        return None
    task = _at({"line": event.get("task_line"), "code": event.get("task_code")}, file_name)
    at = f" at {_at(event, file_name)}" if event.get("line") else ""
    error = str(event.get("error", "an exception")).rstrip(".")
    return Advice(
        f"The task started at {task} ended{at} with {error}, and its work stopped there for "
        "good. Nothing awaits a task started this way, so no one else sees its error: that "
        "error is the bug to fix."
    )


def _raised(evidence: Evidence, file_name: str) -> Advice | None:
    """An exception ended a handler: explained by the connection it was about, by the
    HTTP request it was answering, or by what the error says; else what the check waited
    for was never sent, or (for a check about errors) this is the error, and the check's
    own help follows."""
    event = next((e for e in evidence.events if e.get("kind") == "raised" and e.get("line")), None)
    if event is None:
        return None
    where = _at(event, file_name) + _via(event, file_name)
    target = {k[len("target_") :]: v for k, v in event.items() if k.startswith("target_")}
    if target.get("after"):
        return Advice(_sent_after_close(target, where, file_name))
    if is_request(event.get("path", "")):
        return _request_raised(evidence, event, where)
    error = str(event.get("error", "an exception")).rstrip(".")
    fact = f"Your server raised {error} at {where}, which ended the handler of {event.get('path')}"
    remedy = next((advice for needle, advice in HINTS if needle in error), None) or _cause(
        evidence, event, error
    )
    loop = FOR_LINE.fullmatch(str(event.get("code", "")))
    if CHANGED_SIZE in error and loop:
        remedy = (
            "While a send in that loop waited, a client left (or joined), and the loop went "
            "on over the changed collection, so the clients after it never got the message. "
            f"Loop over a copy taken before the first send: `for {loop['target']} in "
            f"list({loop['iterable']}):`."
        )
    if remedy is not None:
        return Advice(f"{fact}. {remedy}")
    if evidence.about_errors:
        return Advice(f"{fact}.", False)
    # No advice of ours fits every way to get here: the fact, and the traceback below.
    return Advice(f"{fact}, so what the check waited for was never sent.")


# Errors a call raises when what it talks to fails (a connection, a broker): the ones to
# catch around it. A programming error (RecursionError, TypeError…) is to fix, not catch.
_OUTSIDE = re.compile(r"Connection|Timeout|OSError|Redis|Disconnect|BrokenPipe|Closed")

# What a WebSocket can do, for a name that is not one of them.
WEBSOCKET_METHODS = (
    "accept",
    "close",
    "send_text",
    "send_json",
    "send_bytes",
    "receive_text",
    "receive_json",
    "receive_bytes",
    "iter_text",
    "iter_json",
    "iter_bytes",
)
_LIKELY = {"recv": "receive_text", "send_str": "send_text", "send_message": "send_text"}


def _cause(evidence: Evidence, event: dict[str, Any], error: str) -> str | None:
    """Why a line raised, where its error and its code say so beyond doubt."""
    line_code = str(event.get("code", ""))
    if "'coroutine' object" in error:
        made = code.assigned_from_call(evidence.source, event.get("line") or 0)
        if made is not None:
            call = made.code.split("=", 1)[-1].strip()
            return (
                f"`{made.name}` holds a coroutine, not a value: at line {made.line} "
                f"(`{made.code}`) the call is never awaited, "
                + _how_to_await(evidence, made.line, call)
            )
        return "A coroutine was used as a value: the async call that made it is not awaited."
    raw = next(
        (n for n, text in enumerate(evidence.source, 1) if re.search(r"\.receive\(\s*\)", text)),
        None,
    )
    if "'dict' object" in error and raw is not None:
        return (
            f"A dict got where text was expected: `receive()` at line {raw} "
            f"(`{evidence.source[raw - 1].strip()}`) returns the whole ASGI message "
            "(`{'type': 'websocket.receive', 'text': …}`). Read the text with "
            "`await websocket.receive_text()`."
        )
    missing = re.search(r"'WebSocket' object has no attribute '(\w+)'", error)
    if missing:
        name = missing[1]
        right = _LIKELY.get(name) or next(
            iter(difflib.get_close_matches(name, WEBSOCKET_METHODS, n=1, cutoff=0.5)), None
        )
        also = f": you probably mean `{right}`" if right else ""
        return f"A WebSocket has no `{name}`{also} (it has {', '.join(WEBSOCKET_METHODS)})."
    if re.search(r"\.send\(", line_code) and error.startswith(("TypeError", "KeyError")):
        return (
            "`send()` takes an ASGI message (a dict), not your text: send text with "
            "`send_text(…)` (or JSON with `send_json(…)`)."
        )
    key = re.match(r"KeyError: (.+)", error)
    if key and "[" in line_code:
        return (
            f"The key {key[1]} is not there when this line runs: look it up with "
            "`.get(…)` and handle None (or test `in` first), or make sure it is stored "
            "before this runs."
        )
    guarded = code.try_around(evidence.source, event.get("line") or 0)
    name = error.split(":", 1)[0].rsplit(".", 1)[-1]
    if guarded is not None and guarded[1] and all(guarded[1]) and _OUTSIDE.search(name):
        return (
            f"That line is inside the `try:` at line {guarded[0].line}, but its "
            f"`except {' / '.join(guarded[1])}` does not catch {name}: catch what this "
            "call can raise."
        )
    return None


def not_started(message: str, source: Sequence[str]) -> str | None:
    """Advice for an app that could not even be imported, where its error says the cause."""
    found = re.search(r"at line (\d+): 'await' outside async function", message)
    function = code.function_at(source, int(found[1])) if found else None
    if isinstance(function, ast.FunctionDef):
        return (
            f"`await` works only inside `async def`, and line {found[1] if found else '?'} is "
            f"in `def {function.name}`: make it `async def {function.name}`, and `await` "
            f"every call of {function.name}()."
        )
    return None


def is_request(path: str) -> bool:
    """Whether a `raised` event's path is an HTTP request's ("GET /rooms"), not a
    WebSocket's ("/ws/alice")."""
    return not path.startswith("/") and " /" in path


def _request_raised(evidence: Evidence, event: dict[str, Any], where: str) -> Advice:
    """An HTTP handler raised, or returned what its declared type refuses; the client
    got HTTP 500. The check's own help says what the route should answer. (The hints for
    a WebSocket's errors do not apply; what the error and the line say beyond doubt does.)"""
    error = str(event.get("error", "an exception")).rstrip(".")
    request = event.get("path")
    invalid = error.removeprefix("ResponseValidationError: ")
    if invalid == error:
        cause = _cause(evidence, event, error)
        return Advice(
            f"Your server raised {error} at {where} while answering {request}, so the "
            "request got HTTP 500 (Internal Server Error)." + (f" {cause}" if cause else ""),
            False,
        )
    function = f"{event['function']}()" if event.get("function") else "the route"
    declared = f" `{event['declared']}`" if event.get("declared") else ""
    return Advice(
        f"What {function} returned at {where} does not fit its declared return "
        f"type{declared}: {invalid}. FastAPI checks what a route returns against that type "
        f"and answers {request} with HTTP 500 when it does not fit.",
        False,
    )


def _shadowed(evidence: Evidence, file_name: str) -> Advice | None:
    """A function makes its own copy of an object the module shares."""
    event = _first(evidence, "shadowed")
    if event is None:
        return None
    name = event.get("name")
    return Advice(
        f"At {_at(event, file_name)} {event.get('function')}() makes a new `{name}` each time "
        f"it runs, instead of using the one made at line {event.get('defined_line')}: each "
        f"connection then has a {name} of its own, and none knows the others. Delete that "
        f"line: the module's `{name}` is the one all connections share."
    )


def _swapped_route(evidence: Evidence, file_name: str) -> Advice | None:
    """The app's route has the exercise's parameters, in another order."""
    event = _first(evidence, "routes")
    if event is None or not evidence.endpoint:
        return None
    expected = evidence.endpoint.split("?")[0]
    for route in event.get("routes", []):
        if route != expected and _route_shape(route) == _route_shape(expected):
            if sorted(_route_parameters(route)) == sorted(_route_parameters(expected)):
                return Advice(
                    f"Your route is `{route}`, but the exercise's is `{expected}`: the same "
                    f"parameters in another order, so each gets the other's value. Write "
                    f'`@app.websocket("{expected}")`.'
                )
    return None


def _route_shape(route: str) -> list[str]:
    return ["{}" if part.startswith("{") else part for part in route.split("/")]


def _route_parameters(route: str) -> list[str]:
    return [part.strip("{}").split(":")[0] for part in route.split("/") if part.startswith("{")]


def _accepted_then_closed(evidence: Evidence, file_name: str) -> Advice | None:
    """A handshake the check expected refused was accepted, then closed at once."""
    path = (evidence.path or "").split("?")[0]
    event = next(
        (
            e
            for e in evidence.events
            if e.get("kind") == "accepted_then_closed" and e.get("path") == path and path
        ),
        None,
    )
    if event is None or not evidence.accepted:
        return None
    closed = _at({"line": event.get("closed_line"), "code": event.get("closed_code")}, file_name)
    return Advice(
        f"Your app accepted {path} at {_at(event, file_name)}, then closed it at {closed}: "
        "once accepted, the client is in, and the close is a WebSocket close, not a "
        "refusal. To refuse the handshake (HTTP 403), close *instead of* accepting: decide "
        "before that accept.",
        False,
    )


def _refused(evidence: Evidence, file_name: str) -> Advice | None:
    """Why the handshake the check failed on was refused."""
    path = (evidence.path or "").split("?")[0]
    refusals = [e for e in evidence.events if e.get("kind") == "refused" and e.get("path") == path]
    if not path or not refusals or evidence.accepted:
        return None
    event = refusals[-1]
    if "route" not in event:
        routes = ", ".join(event.get("routes") or []) or "none at all"
        return Advice(
            f"No WebSocket route of your app matches {path}: it has {routes}. Check the "
            "path in @app.websocket(...)."
        )
    problem = _validation(event.get("reason", ""))
    if problem is not None:
        name, message, value = problem
        declared = event.get("parameters", {}).get(name)
        as_declared = f"{name} is declared `{declared}`, and " if declared else ""
        return Advice(
            f"FastAPI refused {path} before your endpoint ran: {as_declared}{value!r} is "
            f"not valid ({message}). Declare it `{name}: str`: an id is any text."
        )
    if event.get("line") and re.search(r"1013|TRY_AGAIN", str(event.get("code", ""))):
        return Advice(
            f"Your app closed {path} before accepting it, at {_at(event, file_name)}: a close "
            "before accept() refuses the handshake, and the client sees HTTP 403, never your "
            "close code. To send a code the client receives, accept() first, then close."
        )
    if event.get("line"):
        return Advice(
            f"Your app refused {path} before accepting it, at {_at(event, file_name)}.", False
        )
    if event.get("returned"):
        return Advice(f"Your endpoint for {path} returned without accepting the connection.", False)
    return None


def _validation(reason: str) -> tuple[str, str, str] | None:
    """(parameter, message, value) from the close reason FastAPI gives a failed validation.
    A close reason is at most 123 bytes, but the app chooses it: anything else is None."""
    try:
        errors = ast.literal_eval(reason[:1000])
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        return None
    for error in errors if isinstance(errors, list) else ():
        loc = error.get("loc") if isinstance(error, dict) else None
        if isinstance(loc, list | tuple) and loc:
            return str(loc[-1]), str(error.get("msg", "")), str(error.get("input", ""))
    return None


BLOCKED_ADVICE = (
    "While the loop stands still no client is served: use `await asyncio.sleep(…)`, "
    "never `time.sleep(…)`, and run blocking work with `await asyncio.to_thread(…)`."
)


# A Redis command called without await: where the loop stood still on one, the client
# is a synchronous one, which waits for Redis's answer with the whole process.
_REDIS_CALL = re.compile(r"\.(publish|p?subscribe|get_message|listen|ping|execute_command)\(")
SYNC_REDIS_ADVICE = (
    "A synchronous Redis client (`redis.Redis` of `import redis`) blocks the event loop "
    "until Redis answers, and no client of the process is served meanwhile: use "
    "`redis.asyncio` (`import redis.asyncio as redis`) and `await` every call."
)


def blocked_advice(event: dict[str, Any]) -> str:
    """The cure for a block at `event`'s line (grounded: the grader's own quote)."""
    code = str(event.get("code", ""))
    if _REDIS_CALL.search(code) and not re.search(r"\b(await|async)\b", code):
        return SYNC_REDIS_ADVICE
    if re.search(r"\b(receive\w*|iter_\w+)\(", code):
        return SPINNING_ADVICE
    return BLOCKED_ADVICE


# A loop found at a receive all along: each receive returned at once (it raised, the
# client having left) and the loop went round again without ever waiting.
SPINNING_ADVICE = (
    "A loop found at a receive all along never waited: each receive returned at once, as "
    "one does once the client has left (it raises, again and again), and the loop went "
    "round again. End the loop on WebSocketDisconnect; an `except` that catches it and "
    "carries on keeps it spinning."
)


def _blocked(evidence: Evidence, file_name: str) -> Advice | None:
    worst = worst_block(e for e in evidence.events if e.get("kind") == "blocked")
    if worst is None:
        return None
    return Advice(f"{_capital(blocked_words(worst, file_name))}. {blocked_advice(worst)}")


def worst_block(blocks: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The longest of `blocks` (None if there are none)."""
    return max(blocks, key=lambda e: e.get("seconds", 0.0), default=None)


def _sentence(where: str) -> str:
    """A place, to start a sentence: "Your code", but a file's name as it is."""
    return _capital(where) if where.startswith("your ") else where


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def blocked_words(event: dict[str, Any], file_name: str) -> str:
    """ "the event loop was blocked for 0.30 s at broadcast.py line 17 (`time.sleep(0.3)`)" """
    seconds = event.get("seconds", 0)
    return f"the event loop was blocked for {seconds:.2f} s at {_at(event, file_name)}"


def _output(evidence: Evidence, file_name: str) -> Advice | None:
    for needle, advice in HINTS:
        if needle in evidence.output:
            return Advice(advice)
    return None


def _frames(evidence: Evidence, file_name: str) -> Advice | None:
    wanted, got = evidence.wanted, evidence.got
    if wanted is None or not isinstance(got, str):
        return None
    if got == json.dumps(wanted) or got == json.dumps(wanted, ensure_ascii=False):
        return Advice(
            "What arrived is the expected text encoded as JSON, in quotes: send it with "
            "`send_text(message)`, not `send_json(message)`."
        )
    if "'type': 'websocket." in got:
        return Advice(
            "What arrived holds an ASGI message dict: `receive()` returns the whole message "
            "(`{'type': 'websocket.receive', 'text': …}`). Read the text with "
            "`await websocket.receive_text()`."
        )
    if got.split() == wanted.split():
        return Advice("What arrived differs only in spaces: send the text exactly as given.")
    if got.lower() == wanted.lower():
        return Advice(
            "What arrived differs only in upper and lower case: send the text exactly as given."
        )
    made = code.made_by(evidence.source, got, wanted, evidence.values)
    if made is not None:
        finding, theirs, contract = made
        return Advice(
            f"What arrived was made at {file_name} line {finding.line} (`{finding.code}`), "
            f"whose fixed text is not the exercise's: it makes {code.shown(theirs)!r}, the "
            f"exercise asks for {code.shown(contract)!r} (… stands for the values). Write "
            "that text exactly as the exercise gives it."
        )
    return None


def _copied(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, "copied")
    if event is None:
        return None
    setting = event.get("setting")
    return Advice(
        f"At {_at(event, file_name)} your module copies {setting} when it is imported. The checks "
        f"change {setting} after the import, as a deployment would, and the copy keeps the "
        f"old value: read {setting} where you use it, inside the function."
    )


def _ended(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, "ended")
    if event is None:
        return None
    sent = "without sending anything" if not event.get("sent") else "while the client was there"
    return Advice(
        f"Your endpoint for {event.get('path')} returned {sent}, and returning closes the "
        "connection.",
        False,
    )


# Where a chat's tasks rest when all is well: waiting for a client, or for work.
_IDLE = ("receive", "iter_text", ".get()", "sleep(", "wait_closed", ".listen()", "get_message(")
# Where a task waits for someone else, most telling first: a put into a full queue waits
# for its reader, a send for its client.
_CULPRITS = (".put(", "send", "close(")


def _waiting(evidence: Evidence, file_name: str) -> Advice | None:
    """Where the server's tasks were stuck when nothing arrived: a put, a send or a
    close first, then anything but the usual places to wait."""
    if evidence.got is not None:
        return None  # a frame arrived: where tasks happened to wait is not why it differs
    tasks = [t for e in evidence.events if e.get("kind") == "waiting" for t in e.get("tasks", [])]
    busy = [
        t
        for t in tasks
        if not any(idle in t.get("code", "") for idle in _IDLE) and not t.get("background")
    ]

    def rank(task: dict[str, Any]) -> int:
        code = task.get("code", "")
        return next((i for i, w in enumerate(_CULPRITS) if w in code), len(_CULPRITS))

    busy.sort(key=rank)
    if not busy:
        return None
    stuck = f"When the check gave up, your server was still waiting at {_at(busy[0], file_name)}."
    if ".put(" in busy[0].get("code", ""):
        return Advice(
            f"{stuck} `put()` waits while the queue is full, so one client that stops reading "
            "makes everyone who sends wait for it: use `put_nowait()`, and handle "
            "`asyncio.QueueFull`."
        )
    if ".close(" in busy[0].get("code", ""):
        return Advice(
            f"{stuck} A close waits until the client takes the close frame, which a client "
            "that does not read never does: start it as a task (`asyncio.create_task(…)`), "
            "keep the task, and do not wait for it."
        )
    return Advice(stuck, False)


def _startup_failed(evidence: Evidence, file_name: str) -> Advice | None:
    """The app's startup raised: uvicorn exits, and no check can reach it."""
    event = _first(evidence, "startup_failed")
    if event is None:
        return None
    at = f" at {_at(event, file_name)}" if event.get("line") else ""
    error = str(event.get("error", "an exception")).rstrip(".")
    return Advice(
        f"Your app's startup raised {error}{at}, so the server exited before serving "
        "anyone: uvicorn serves nothing once startup fails."
    )


def _startup(evidence: Evidence, file_name: str) -> Advice | None:
    """The app's startup never ended: uvicorn serves no one until it does."""
    event = next(
        (e for e in evidence.events if e.get("kind") == "waiting" and e.get("startup")), None
    )
    if event is None:
        return None
    places = [_at(place, file_name) for place in event["startup"]]
    chain = ", which waits at ".join(places)
    return Advice(
        f"Your app's startup never finished: it is still waiting at {chain}. Until startup "
        "ends (the lifespan reaches `yield`, startup handlers return), the server answers "
        "no client. Start work that runs for as long as the app does as a task, "
        "`asyncio.create_task(…)`, keep a reference to it, and do not await it there."
    )


RULES: tuple[Callable[[Evidence, str], Advice | None], ...] = (
    _startup_failed,
    _startup,
    _shadowed,
    _swapped_route,
    _unawaited,
    _misuse,
    _died,
    _refused,
    _accepted_then_closed,
    _blocked,
    _raised,
    _output,
    _frames,
    _copied,
    _ended,
    _waiting,
)


_STARTS = ("Traceback", "ERROR:", "Exception Group Traceback")
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')


# Lines Python adds that tell a student nothing.
_NOISE = ("RuntimeWarning: Enable tracemalloc",)
# Exception groups draw their tracebacks in a margin of "|", with "+-+---- 1 ----" between.
_GROUP_MARGIN = re.compile(r"^\s*[|+] ?(?:\s*[|+] ?)*")
_GROUP_RULE = re.compile(r"^\s*\+[-+]+( \d+ -+)?\s*$")


def trim(output: str, student_file: str, shown_as: str | None = None) -> str:
    """Keep the student's own prints and, of each traceback, their frames and the error.

    Frames from libraries are folded into one line: the student cannot act on them.
    The student's file is named `shown_as` (where they keep it), not where it ran.
    """
    kept: list[str] = []
    if len(output) > MAX_READ:  # a flood: only its end can be shown
        output = output[-MAX_READ:].partition("\n")[2]
    lines = output.splitlines()
    if "Exception Group Traceback" in output:
        lines = [_GROUP_MARGIN.sub("", line) for line in lines if not _GROUP_RULE.match(line)]
    lines = [line for line in lines if not line.strip().startswith(_NOISE)]
    last_traceback = None
    seen: set[str] = set()
    repeats = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        # uvicorn logs some tracebacks on its "ERROR:" line; exception groups indent theirs.
        if "Traceback (most recent call last)" in line and line.lstrip().startswith(_STARTS):
            i, block = _fold_traceback(lines, i + 1, student_file, _short(shown_as or student_file))
            text = "\n".join(block)
            if text in seen:  # the same error again: say so once, at the end
                repeats += 1
                last_traceback = None
                if kept and kept[-1].startswith("ERROR:"):
                    kept.pop()
                continue
            seen.add(text)
            last_traceback = len(kept)
            kept.append(line)
            kept.extend(block)
            continue
        if line.startswith(_CHAINED):
            # Of a chain, the last traceback is where the student's code failed.
            if last_traceback is not None:
                del kept[last_traceback:]
            last_traceback = None
            i += 1
            continue
        if line.strip():
            kept.append(line)
        i += 1
    if repeats:
        kept.append(f"(the same error happened {repeats} more times)")
    kept = [_cut(line) for line in _dedupe_consecutive(kept)]
    if len(kept) > MAX_LINES:
        skipped = len(kept) - MAX_LINES
        kept = [f"… {skipped} earlier lines not shown"] + kept[-MAX_LINES:]
    text = "\n".join(kept)
    return text.replace(student_file, shown_as) if shown_as else text


def _fold_traceback(
    lines: list[str], i: int, student_file: str, name: str
) -> tuple[int, list[str]]:
    block: list[str] = []
    folded = 0
    while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
        match = _FRAME.match(lines[i])
        if match:
            code = (
                lines[i + 1].strip()
                if i + 1 < len(lines) and not _FRAME.match(lines[i + 1])
                else ""
            )
            if match["file"] == student_file:
                if folded:
                    block.append(f"  … {folded} frames in libraries")
                    folded = 0
                block.append(f"  {name}, line {match['line']}, in {match['func']}")
                if code:
                    block.append(f"    {code}")
            else:
                folded += 1
        i += 1
    if folded:
        block.append(f"  … {folded} frames in libraries")
    # The error line ends the traceback; chained tracebacks repeat the pattern.
    if i < len(lines):
        block.append(lines[i])
        i += 1
    return i, block


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE:
        return line
    return f"{line[:MAX_LINE]}… ({len(line) - MAX_LINE} more characters)"


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _dedupe_consecutive(lines: list[str]) -> list[str]:
    out: list[str] = []
    repeats = 0
    for line in lines:
        if out and line == out[-1]:
            repeats += 1
            continue
        if repeats:
            out.append(f"  (the line above repeated {repeats} more times)")
            repeats = 0
        out.append(line)
    if repeats:
        out.append(f"  (the line above repeated {repeats} more times)")
    return out


def has_errors(output: str) -> bool:
    """Whether the server logged an unhandled exception."""
    return (
        "Traceback (most recent call last)" in output or "Exception in ASGI application" in output
    )
