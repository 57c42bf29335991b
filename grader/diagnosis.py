"""Turn what a server did into advice that names the real cause.

`explain` reads the evidence of a failed check through its rules, each of which declares
its rank (`@rule(order=…)`; the lowest speaks first): what the grader's witness saw
inside the server (a startup that failed or never ended, a coroutine never awaited, a
call Starlette refused, a handshake refused and why, the event loop blocked), then the
server's output, then the frames themselves (JSON where text was expected); only if
none of it speaks does the check's own help stand alone.

The rules know WebSockets and Python, and no lesson. A lesson makes their advice its
own with `register`: hints for errors in the output, wordings for the remedies rules
give, errors its backing services raise, where its tasks rest idle, and the cure for a
block by the code of the blocked line.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from grader import source as code
from grader.evidence import (
    AcceptedThenClosed,
    Blocked,
    Copied,
    Died,
    Ended,
    Event,
    Misuse,
    Placed,
    Raised,
    Refusal,
    Routes,
    Shadowed,
    StartupFailed,
    Task,
    Unawaited,
    Waiting,
)

# Starlette's errors for a call at the wrong moment of a connection's life.
NOT_ACCEPTED = ('Need to call "accept" first', '"websocket.accept"')
SENT_AFTER_CLOSE = ('Cannot call "send" once a close message has been sent', "ClientDisconnected")
RECEIVED_AFTER_LEAVING = ('Cannot call "receive" once a disconnect message has been received',)
CHANGED_SIZE = "changed size during iteration"
NOT_ASCII = "comparing strings with non-ASCII characters is not supported"
NOT_IN_LIST = "x not in list"
# A `for` line, to name its copy: `for ws in self.groups[key]:` -> `list(self.groups[key])`.
FOR_LINE = re.compile(r"for\s+(?P<target>.+?)\s+in\s+(?P<iterable>.+?)\s*:\s*(#.*)?")

# What a lesson can make its own (see `register`).

HINTS: dict[str, str] = {
    **dict.fromkeys(NOT_ACCEPTED, "Call `await websocket.accept()` before using a connection."),
    **dict.fromkeys(
        SENT_AFTER_CLOSE,
        "A message was sent on a connection that had already closed: remove the connection "
        "from wherever messages are sent before sending anything else.",
    ),
    RECEIVED_AFTER_LEAVING[0]: (
        "The receive loop kept going after the client left: let WebSocketDisconnect end it."
    ),
    NOT_ASCII: (
        "A constant-time comparison (`secrets`, `hmac`) refuses str with non-ASCII "
        "characters: compare bytes, each side `.encode()`d."
    ),
    NOT_IN_LIST: "A list's remove() was given what the list does not hold: is it removed twice?",
    CHANGED_SIZE: (
        "The collection changed while a loop went over it: while a send waited, a client "
        "came or left. Loop over a copy taken before the first send, `list(…)`."
    ),
    "RuntimeError: Expected ASGI message": (
        "The endpoint sent or closed at the wrong moment of the WebSocket lifecycle."
    ),
}
"""Errors in a server's output (and in what a handler raised), where the witness saw
nothing more precise, with their advice; the first found speaks."""

WORDING: dict[str, str] = {
    "never_accepted": "call `await websocket.accept()` first.",
    "closed_still_stored": (
        "A connection the app closes must not stay there: if it was refused, `return` right "
        "after the close so it is never stored; if it was stored, remove it from wherever "
        "messages are sent before closing it."
    ),
    "left_still_stored": (
        "whatever handles the client's leaving must remove exactly that connection from "
        "wherever messages are sent before anything else is sent."
    ),
    "sent_after_close": (
        "remove the connection from wherever messages are sent before sending anything else."
    ),
    "changed_size_loop": (
        "While a send in that loop waited, a client left (or came), and the loop went on over "
        "the changed collection, so the clients after it never got the message. Loop over a "
        "copy taken before the first send: `for {target} in list({iterable}):`."
    ),
}
"""The remedies rules give, by name; a lesson may say each in its own terms (the
`{…}` in a wording are filled in by its rule)."""

OUTSIDE_ERRORS: list[str] = [
    "Connection",
    "Timeout",
    "OSError",
    "Disconnect",
    "BrokenPipe",
    "Closed",
]
"""Parts of the names of errors a call raises when what it talks to fails (a
connection, a service): the ones to catch around it. A programming error
(RecursionError, TypeError…) is to fix, not catch."""

IDLE: list[str] = ["receive", "iter_text", ".get()", "sleep(", "wait_closed"]
"""Where an app's tasks rest when all is well: waiting for a client, or for work."""

BLOCK_HINTS: list[tuple[re.Pattern[str], str]] = []
"""The cure for a block at a line whose code matches, before the general ones."""


def register(
    *,
    hints: Mapping[str, str] = {},
    wording: Mapping[str, str] = {},
    outside_errors: Iterable[str] = (),
    idle: Iterable[str] = (),
    block_hints: Iterable[tuple[str, str]] = (),
) -> None:
    """Make the advice a lesson's: `hints` (a needle already known keeps its place, a new
    one comes after), `wording` (of a remedy named in WORDING), names of `outside_errors`,
    `idle` places, and `block_hints` (a pattern of the blocked line's code, its cure)."""
    unknown = sorted(wording.keys() - WORDING.keys())
    if unknown:
        raise ValueError(f"no rule words a remedy named {unknown[0]!r}")
    HINTS.update(hints)
    WORDING.update(wording)
    OUTSIDE_ERRORS.extend(outside_errors)
    IDLE.extend(idle)
    BLOCK_HINTS.extend((re.compile(pattern), advice) for pattern, advice in block_hints)


def _worded(name: str, **values: str) -> str:
    return WORDING[name].format(**values) if values else WORDING[name]


# The evidence, and the rules that read it.


@dataclass(frozen=True)
class Evidence:
    """What a failed check has to go on, besides the check's own help."""

    events: Sequence[Event] = ()
    """What the witnesses in the check's servers reported (see evidence.py)."""
    output: str = ""
    """What the check's servers printed."""
    wanted: str | None = None
    got: str | bytes | None = None
    """The frame the check expected, and the one that arrived instead."""
    path: str | None = None
    """The path of the connection the check failed on, if it failed on one."""
    endpoint: str | None = None
    """The exercise's route, as the manifest gives it ("/ws/{group}/{client_id}")."""
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


Rule = Callable[[Evidence, str], Advice | None]
RULES: dict[int, Rule] = {}
"""Every rule, by its rank."""


def rule(order: int) -> Callable[[Rule], Rule]:
    """Make a function a rule of rank `order`: the lower, the sooner it is asked (the
    more specific its evidence). Two rules never share a rank."""

    def add(function: Rule) -> Rule:
        if order in RULES:
            raise ValueError(f"{function.__name__} and {RULES[order].__name__} share rank {order}")
        RULES[order] = function
        return function

    return add


def explain(evidence: Evidence, file_name: str) -> Advice | None:
    """Advice from what actually happened, the most specific evidence first."""
    for _, found in sorted(RULES.items()):
        try:
            advice = found(evidence, file_name)
        except Exception:  # evidence the app could shape: no advice from it
            continue
        if advice is not None:
            return advice
    return None


E = TypeVar("E", bound=Event)


def _all(evidence: Evidence, kind: type[E]) -> list[E]:
    return [e for e in evidence.events if isinstance(e, kind)]


def _first(evidence: Evidence, kind: type[E]) -> E | None:
    return next(iter(_all(evidence, kind)), None)


def _at(line: int, code: str, file_name: str) -> str:
    """ "app.py line 17 (`time.sleep(0.3)`)", from a line and its code"""
    if not line:
        return "your code"
    quoted = f" (`{code}`)" if code else ""
    return f"{file_name} line {line}{quoted}"


def _place(event: Placed | Task, file_name: str) -> str:
    return _at(event.line, event.code, file_name)


def _via(event: Unawaited | Misuse | Raised | Died | Refusal, file_name: str) -> str:
    """ " (reached from app.py line 50 (`…`))": the endpoint's line that led there."""
    if not event.from_line or event.from_line == event.line:
        return ""
    return f" (reached from {_at(event.from_line, event.from_code, file_name)})"


def _sentence(where: str) -> str:
    """A place, to start a sentence: "Your code", but a file's name as it is."""
    return _capital(where) if where.startswith("your ") else where


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# What the witness saw first: a startup that failed or never ended serves no one.


@rule(order=10)
def _startup_failed(evidence: Evidence, file_name: str) -> Advice | None:
    """The app's startup raised: uvicorn exits, and no check can reach it."""
    event = _first(evidence, StartupFailed)
    if event is None:
        return None
    at = f" at {_place(event, file_name)}" if event.line else ""
    error = (event.error or "an exception").rstrip(".")
    return Advice(
        f"Your app's startup raised {error}{at}, so the server exited before serving "
        "anyone: uvicorn serves nothing once startup fails."
    )


@rule(order=20)
def _startup(evidence: Evidence, file_name: str) -> Advice | None:
    """The app's startup never ended: uvicorn serves no one until it does."""
    event = next((e for e in _all(evidence, Waiting) if e.startup), None)
    if event is None:
        return None
    places = [_at(place.line, place.code, file_name) for place in event.startup]
    chain = ", which waits at ".join(places)
    return Advice(
        f"Your app's startup never finished: it is still waiting at {chain}. Until startup "
        "ends (the lifespan reaches `yield`, startup handlers return), the server answers "
        "no client. Start work that runs for as long as the app does as a task, "
        "`asyncio.create_task(…)`, keep a reference to it, and do not await it there."
    )


@rule(order=30)
def _shadowed(evidence: Evidence, file_name: str) -> Advice | None:
    """A function makes its own copy of an object the module shares."""
    event = _first(evidence, Shadowed)
    if event is None:
        return None
    name = event.name
    return Advice(
        f"At {_place(event, file_name)} {event.function}() makes a new `{name}` each time "
        f"it runs, instead of using the one made at line {event.defined_line}: each "
        f"connection then has a {name} of its own, and none knows the others. Delete that "
        f"line: the module's `{name}` is the one all connections share."
    )


@rule(order=40)
def _swapped_route(evidence: Evidence, file_name: str) -> Advice | None:
    """The app's route has the exercise's parameters, in another order."""
    event = _first(evidence, Routes)
    if event is None or not evidence.endpoint:
        return None
    expected = evidence.endpoint.split("?")[0]
    for route in event.routes:
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


@rule(order=50)
def _unawaited(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, Unawaited)
    if event is None:
        return None
    name = re.search(r"coroutine '(?:\w+\.)*(\w+)'", event.what)
    call = event.code or (f"{name[1]}(…)" if name else "the call")
    fact = (
        f"`{call}` at {file_name} line {event.line or '?'} is never awaited. Calling an "
        "async function only creates a coroutine, and nothing happens until it is awaited"
    )
    return Advice(f"{fact}: {_how_to_await(evidence, event.line, call)}")


def _how_to_await(evidence: Evidence, line: int, call: str) -> str:
    """ "write `await …`", or, inside a plain def, that the function must become async."""
    function = code.function_at(evidence.source, line) if line else None
    if isinstance(function, ast.FunctionDef):
        return (
            f"it is inside `def {function.name}`, a plain function, where `await` is not "
            f"allowed. Make it `async def {function.name}`, write `await {call}` there, and "
            f"`await` every call of {function.name}()."
        )
    return f"write `await {call}`."


# A call on a connection at the wrong moment, and what it was about.


@rule(order=60)
def _misuse(evidence: Evidence, file_name: str) -> Advice | None:
    """A call Starlette refused, explained by what had become of that connection."""
    for event in _all(evidence, Misuse):
        if not event.line:
            continue
        error = event.error
        where = _place(event, file_name) + _via(event, file_name)
        closed = _at(event.closed_line, event.closed_code, file_name)
        if any(needle in error for needle in RECEIVED_AFTER_LEAVING):
            counts = [e.count for e in _all(evidence, Misuse) if e.line == event.line]
            count = f"at least {max(counts)}" if max(counts) > 1 else "1"
            return Advice(
                f"The receive at {where} ran again after the client had left, {count} times: "
                "the receive loop must end on WebSocketDisconnect, and an `except` that "
                "catches it and carries on keeps the loop spinning."
            )
        if any(needle in error for needle in NOT_ACCEPTED):
            if event.after == "closed":
                return Advice(
                    f"{_sentence(where)} uses a connection your app had already closed at "
                    f"{closed}. Once the app closes (or refuses) a connection, nothing may use "
                    "it again: `return` from the endpoint, or `break` out of its loop, right "
                    "after the close."
                )
            return Advice(
                f"{_sentence(where)} uses a connection that was never accepted: "
                + _worded("never_accepted")
            )
        if any(needle in error for needle in SENT_AFTER_CLOSE):
            task = _at(event.task_line, event.task_code, file_name) if event.task_line else ""
            return Advice(
                _sent_after_close(where, event.after, event.path, closed=closed, task=task)
            )
    return None


def _sent_after_close(where: str, after: str, path: str, *, closed: str, task: str) -> str:
    """Why `where` sent on a closed connection, from what became of it: `after` (closed,
    left, returned) the connection of `path`, `closed` where the app closed it, `task`
    where the task that sent was started ("" if no task of the app's did)."""
    if after == "closed" and task:
        return (
            f"{_sentence(where)}, in the task started at {task}, sends on a connection your app "
            f"closed at {closed}: the task outlived its connection. Cancel it where the "
            "connection is closed or forgotten."
        )
    if after == "closed":
        return (
            f"{_sentence(where)} sends on a connection your app closed at {closed}, which was "
            "still among the connections messages go to. " + _worded("closed_still_stored")
        )
    if after == "left":
        return (
            f"{_sentence(where)} sends on the connection of {path}, whose client "
            "had left and which was still stored: " + _worded("left_still_stored")
        )
    if after == "returned":
        return (
            f"{_sentence(where)} sends on the connection of {path}, whose endpoint "
            "had already returned, which closes the connection, and left it stored. Keep the "
            "endpoint receiving in a `while True:` loop until the client leaves."
        )
    return f"{_sentence(where)} sends on a connection that has already closed: " + _worded(
        "sent_after_close"
    )


@rule(order=70)
def _died(evidence: Evidence, file_name: str) -> Advice | None:
    """A task the app started ended with an exception, which nothing awaited to see."""
    event = _first(evidence, Died)
    if event is None:
        return None
    task = _at(event.task_line, event.task_code, file_name)
    at = f" at {_place(event, file_name)}" if event.line else ""
    error = (event.error or "an exception").rstrip(".")
    return Advice(
        f"The task started at {task} ended{at} with {error}, and its work stopped there for "
        "good. Nothing awaits a task started this way, so no one else sees its error: that "
        "error is the bug to fix."
    )


# A handshake refused, or let in.


@rule(order=80)
def _refused(evidence: Evidence, file_name: str) -> Advice | None:
    """Why the handshake the check failed on was refused."""
    path = (evidence.path or "").split("?")[0]
    refusals = [e for e in _all(evidence, Refusal) if e.path == path]
    if not path or not refusals or evidence.accepted:
        return None
    event = refusals[-1]
    if not event.route:
        routes = ", ".join(event.routes) or "none at all"
        return Advice(
            f"No WebSocket route of your app matches {path}: it has {routes}. Check the "
            "path in @app.websocket(...)."
        )
    problem = _validation(event.reason)
    if problem is not None:
        name, message, value = problem
        declared = event.parameters.get(name)
        as_declared = f"{name} is declared `{declared}`, and " if declared else ""
        return Advice(
            f"FastAPI refused {path} before your endpoint ran: {as_declared}{value!r} is "
            f"not valid ({message}). Declare it `{name}: str`: an id is any text."
        )
    if event.line and re.search(r"1013|TRY_AGAIN", event.code):
        return Advice(
            f"Your app closed {path} before accepting it, at {_place(event, file_name)}: a close "
            "before accept() refuses the handshake, and the client sees HTTP 403, never your "
            "close code. To send a code the client receives, accept() first, then close."
        )
    if event.line:
        return Advice(
            f"Your app refused {path} before accepting it, at {_place(event, file_name)}.", False
        )
    if event.returned:
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


@rule(order=90)
def _accepted_then_closed(evidence: Evidence, file_name: str) -> Advice | None:
    """A handshake the check expected refused was accepted, then closed at once."""
    path = (evidence.path or "").split("?")[0]
    event = next((e for e in _all(evidence, AcceptedThenClosed) if e.path == path and path), None)
    if event is None or not evidence.accepted:
        return None
    closed = _at(event.closed_line, event.closed_code, file_name)
    return Advice(
        f"Your app accepted {path} at {_place(event, file_name)}, then closed it at {closed}: "
        "once accepted, the client is in, and the close is a WebSocket close, not a "
        "refusal. To refuse the handshake (HTTP 403), close *instead of* accepting: decide "
        "before that accept.",
        False,
    )


# The event loop standing still.

BLOCKED_ADVICE = (
    "While the loop stands still no client is served: use `await asyncio.sleep(…)`, "
    "never `time.sleep(…)`, and run blocking work with `await asyncio.to_thread(…)`."
)
# A loop found at a receive all along: each receive returned at once (it raised, the
# client having left) and the loop went round again without ever waiting.
SPINNING_ADVICE = (
    "A loop found at a receive all along never waited: each receive returned at once, as "
    "one does once the client has left (it raises, again and again), and the loop went "
    "round again. End the loop on WebSocketDisconnect; an `except` that catches it and "
    "carries on keeps it spinning."
)


def blocked_advice(line_code: str) -> str:
    """The cure for a block at a line of `line_code` (grounded: the grader's own quote)."""
    for pattern, advice in BLOCK_HINTS:
        if pattern.search(line_code):
            return advice
    if re.search(r"\b(receive\w*|iter_\w+)\(", line_code):
        return SPINNING_ADVICE
    return BLOCKED_ADVICE


@rule(order=100)
def _blocked(evidence: Evidence, file_name: str) -> Advice | None:
    worst = worst_block(_all(evidence, Blocked))
    if worst is None:
        return None
    return Advice(f"{_capital(blocked_words(worst, file_name))}. {blocked_advice(worst.code)}")


def worst_block(blocks: Iterable[Blocked]) -> Blocked | None:
    """The longest of `blocks` (None if there are none)."""
    return max(blocks, key=lambda e: e.seconds, default=None)


def blocked_words(event: Blocked, file_name: str) -> str:
    """ "the event loop was blocked for 0.30 s at app.py line 17 (`time.sleep(0.3)`)" """
    return f"the event loop was blocked for {event.seconds:.2f} s at {_place(event, file_name)}"


# An exception that ended a handler.


@rule(order=110)
def _raised(evidence: Evidence, file_name: str) -> Advice | None:
    """An exception ended a handler: explained by the connection it was about, by the
    HTTP request it was answering, or by what the error says; else what the check waited
    for was never sent, or (for a check about errors) this is the error, and the check's
    own help follows."""
    event = next((e for e in _all(evidence, Raised) if e.line), None)
    if event is None:
        return None
    where = _place(event, file_name) + _via(event, file_name)
    if event.target_after:
        closed = _at(event.target_closed_line, event.target_closed_code, file_name)
        return Advice(
            _sent_after_close(where, event.target_after, event.target_path, closed=closed, task="")
        )
    if is_request(event.path):
        return _request_raised(evidence, event, where)
    error = (event.error or "an exception").rstrip(".")
    fact = f"Your server raised {error} at {where}, which ended the handler of {event.path}"
    remedy = next((advice for needle, advice in HINTS.items() if needle in error), None) or _cause(
        evidence, event, error
    )
    loop = FOR_LINE.fullmatch(event.code)
    if CHANGED_SIZE in error and loop:
        remedy = _worded("changed_size_loop", target=loop["target"], iterable=loop["iterable"])
    if remedy is not None:
        return Advice(f"{fact}. {remedy}")
    if evidence.about_errors:
        return Advice(f"{fact}.", False)
    # No advice of ours fits every way to get here: the fact, and the traceback below.
    return Advice(f"{fact}, so what the check waited for was never sent.")


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


def _cause(evidence: Evidence, event: Raised, error: str) -> str | None:
    """Why a line raised, where its error and its code say so beyond doubt."""
    line_code = event.code
    if "'coroutine' object" in error:
        made = code.assigned_from_call(evidence.source, event.line)
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
    guarded = code.try_around(evidence.source, event.line)
    name = error.split(":", 1)[0].rsplit(".", 1)[-1]
    outside = any(part in name for part in OUTSIDE_ERRORS)
    if guarded is not None and guarded[1] and all(guarded[1]) and outside:
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
    """Whether a `raised` event's path is an HTTP request's ("GET /items"), not a
    WebSocket's ("/ws/alice")."""
    return not path.startswith("/") and " /" in path


def _request_raised(evidence: Evidence, event: Raised, where: str) -> Advice:
    """An HTTP handler raised, or returned what its declared type refuses; the client
    got HTTP 500. The check's own help says what the route should answer. (The hints for
    a WebSocket's errors do not apply; what the error and the line say beyond doubt does.)"""
    error = (event.error or "an exception").rstrip(".")
    request = event.path
    invalid = error.removeprefix("ResponseValidationError: ")
    if invalid == error:
        cause = _cause(evidence, event, error)
        outcome = (
            f"after its answer had begun (HTTP {event.answered}), so the answer was cut short "
            "there (a stream ends)"
            if event.answered not in (0, 500)
            else "so the request got HTTP 500 (Internal Server Error)"
        )
        return Advice(
            f"Your server raised {error} at {where} while answering {request}, {outcome}."
            + (f" {cause}" if cause else ""),
            False,
        )
    function = f"{event.function}()" if event.function else "the route"
    declared = f" `{event.declared}`" if event.declared else ""
    return Advice(
        f"What {function} returned at {where} does not fit its declared return "
        f"type{declared}: {invalid}. FastAPI checks what a route returns against that type "
        f"and answers {request} with HTTP 500 when it does not fit.",
        False,
    )


# What the output and the frames say.


@rule(order=120)
def _output(evidence: Evidence, file_name: str) -> Advice | None:
    for needle, advice in HINTS.items():
        if needle in evidence.output:
            return Advice(advice)
    return None


@rule(order=130)
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


# Facts, last: each true of a failure, none its whole cause.


@rule(order=140)
def _copied(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, Copied)
    if event is None:
        return None
    setting = event.setting
    return Advice(
        f"At {_place(event, file_name)} your module copies {setting} when it is imported. The "
        f"checks change {setting} after the import, as a deployment would, and the copy keeps "
        f"the old value: read {setting} where you use it, inside the function."
    )


@rule(order=150)
def _ended(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, Ended)
    if event is None:
        return None
    sent = "without sending anything" if not event.sent else "while the client was there"
    return Advice(
        f"Your endpoint for {event.path} returned {sent}, and returning closes the connection.",
        False,
    )


# Where a task waits for someone else, most telling first: a put into a full queue waits
# for its reader, a send for its client.
_CULPRITS = (".put(", "send", "close(")


@rule(order=160)
def _waiting(evidence: Evidence, file_name: str) -> Advice | None:
    """Where the server's tasks were stuck when nothing arrived: a put, a send or a
    close first, then anything but the usual places to wait."""
    if evidence.got is not None:
        return None  # a frame arrived: where tasks happened to wait is not why it differs
    tasks = [t for e in _all(evidence, Waiting) for t in e.tasks]
    busy = [t for t in tasks if not any(idle in t.code for idle in IDLE) and not t.background]

    def rank(task: Task) -> int:
        return next((i for i, w in enumerate(_CULPRITS) if w in task.code), len(_CULPRITS))

    busy.sort(key=rank)
    if not busy:
        return None
    stuck = (
        f"When the check gave up, your server was still waiting at {_place(busy[0], file_name)}."
    )
    if ".put(" in busy[0].code:
        return Advice(
            f"{stuck} `put()` waits while the queue is full, so one client that stops reading "
            "makes everyone who sends wait for it: use `put_nowait()`, and handle "
            "`asyncio.QueueFull`."
        )
    if ".close(" in busy[0].code:
        return Advice(
            f"{stuck} A close waits until the client takes the close frame, which a client "
            "that does not read never does: start it as a task (`asyncio.create_task(…)`), "
            "keep the task, and do not wait for it."
        )
    return Advice(stuck, False)
