"""The grader's witness inside each server: what the app did, seen from inside it.

A server's output is the student's to print or to silence; what the witness sees, it
writes on descriptors of the grader's own: tracebacks to the server's log (as uvicorn
would), and events, as JSON lines, to the server's events pipe, which the checks read
to explain a failure by its real cause. Each kind of event is a dataclass in
evidence.py, which says what it holds; here is where each is seen: the loop's
watchdog (a thread), Starlette's methods wrapped, the ASGI app wrapped (connections,
HTTP requests, the lifespan), the task factory, warnings, the module's source, and
SIGUSR2 (where the tasks wait, on request).

Every place is given as the student's own line: the innermost frame in their file.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import gc
import inspect
import linecache
import os
import re
import signal
import sys
import threading
import time
import traceback
import warnings
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable
from types import FrameType
from typing import Any, TextIO

from grader import evidence

BLOCKED_AFTER = 0.1  # seconds the loop may stand still before it counts as blocked
# ... when it stood inside library code called from the student's line: on a busy
# machine, the framework's own work (a handshake) can stand that long without any fault.
BLOCKED_INSIDE_AFTER = 0.5
TICK = 0.02  # how often the watchdog looks
ASGI_ERROR = "Exception in ASGI application"
MISUSABLE = (
    "accept",
    "receive",
    "send",
    "receive_text",
    "receive_bytes",
    "receive_json",
    "send_text",
    "send_bytes",
    "send_json",
    "close",
)


KEEP_CONNECTIONS = 256  # what happened to the latest connections, for a late misuse
_ASYNCIO = os.path.dirname(asyncio.__file__) + os.sep  # asyncio's own frames
MAX_DEPTH = 64  # awaits followed down a task, for where it waits


class Witness:
    def __init__(self, log_fd: int, events_fd: int, student_file: str) -> None:
        self.log_fd = log_fd
        self.events_fd = events_fd
        self.student_file = student_file
        self._lock = threading.Lock()
        self._seen: Counter[tuple[str, int]] = Counter()
        # By id(scope): a WebSocket keeps its scope, so the id is not reused while
        # anything can still call it.
        self._connections: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._started: weakref.WeakKeyDictionary[asyncio.Task[Any], dict[str, Any]] = (
            weakref.WeakKeyDictionary()
        )
        self._starting: asyncio.Task[Any] | None = None
        """The lifespan's task, until the app's startup has ended."""

    # Writing -----------------------------------------------------------------------

    def event(self, event: evidence.Event) -> None:
        line = evidence.encode(event)
        with self._lock, contextlib.suppress(OSError):
            os.write(self.events_fd, line)

    def _once_in_a_while(
        self, key: tuple[str, int], event: evidence.Unawaited | evidence.Misuse | evidence.Died
    ) -> None:
        """The first time, then at 2, 4, 8… times: a loop that repeats a mistake a
        million times writes twenty lines, and the count stays right."""
        self._seen[key] += 1
        count = self._seen[key]
        if count & (count - 1) == 0:
            self.event(dataclasses.replace(event, count=count))

    def place(self, frames: Iterable[FrameType | traceback.FrameSummary]) -> dict[str, Any]:
        """The innermost of `frames` (outermost first) in the student's file, and the
        outermost as "from_line" where it differs: {"line", "code", …} or {}."""
        lines: list[int] = []
        for frame in frames:
            if isinstance(frame, traceback.FrameSummary):
                file, line = frame.filename, frame.lineno or 0
            else:
                file, line = frame.f_code.co_filename, frame.f_lineno
            if file == self.student_file:
                lines.append(line)
        return self._between(lines)

    def here(self) -> dict[str, Any]:
        """The innermost student line calling this, and the outermost (walked from the
        inside: this runs whenever the app creates a task or calls a wrapped method)."""
        lines: list[int] = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and len(lines) < MAX_DEPTH:
            if frame.f_code.co_filename == self.student_file:
                lines.append(frame.f_lineno)
            frame = frame.f_back
        return self._between(lines[::-1])

    def _between(self, lines: list[int]) -> dict[str, Any]:
        """Of the student's lines on a stack (outermost first): where it happened, and
        where that was called from (the endpoint's line that led there)."""
        if not lines:
            return {}
        place = self._at(lines[-1])
        if lines[0] != lines[-1]:
            place.update(from_line=lines[0], from_code=self._at(lines[0])["code"])
        return place

    def _at(self, line: int) -> dict[str, Any]:
        return {"line": line, "code": linecache.getline(self.student_file, line).strip()}

    def _task(self) -> dict[str, Any]:
        """Where the running task was started, if the student's code started it."""
        with contextlib.suppress(RuntimeError):
            task = asyncio.current_task()
            started = self._started.get(task) if task is not None else None
            if started:
                return {"task_line": started["line"], "task_code": started["code"]}
        return {}

    # What to install -------------------------------------------------------------

    def install(self) -> None:
        """Hooks that must be in place before the student's module is imported."""
        self._watch_warnings()
        self._watch_starlette()

    def _watch_warnings(self) -> None:
        shown = warnings.showwarning

        def showwarning(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            text = str(message)
            if issubclass(category, RuntimeWarning) and "was never awaited" in text:
                place = self.place(traceback.extract_stack())
                if filename == self.student_file:
                    place = {"line": lineno, "code": linecache.getline(filename, lineno).strip()}
                self._once_in_a_while(("unawaited", lineno), evidence.Unawaited(what=text, **place))
            shown(message, category, filename, lineno, file, line)

        warnings.showwarning = showwarning
        warnings.simplefilter("always", RuntimeWarning)

    def _watch_starlette(self) -> None:
        """Record each call Starlette refuses, at the student's line, once per place; a
        send to a client that has gone carries what became of its connection, for the
        record of the exception if it escapes the app."""
        from starlette.websockets import WebSocket, WebSocketDisconnect

        witness = self
        depth: contextvars.ContextVar[int] = contextvars.ContextVar("depth", default=0)
        for name in MISUSABLE:
            original = getattr(WebSocket, name)

            @functools.wraps(original)  # a never-awaited call is named as the student wrote it
            async def watched(
                self: Any, *args: Any, _original: Any = original, _name: str = name, **kw: Any
            ) -> Any:
                entered = depth.set(depth.get() + 1)
                try:
                    return await _original(self, *args, **kw)
                except RuntimeError as exc:
                    if depth.get() == 1:  # send_text calls send: say it once
                        place = witness.here()
                        key = (str(exc), place.get("line", 0))
                        state = witness._connections.get(id(self.scope), {})
                        witness._once_in_a_while(
                            key,
                            evidence.Misuse(error=str(exc), **place, **state, **witness._task()),
                        )
                    raise
                except WebSocketDisconnect as exc:
                    if _name.startswith("send") and not hasattr(exc, TARGET):
                        setattr(exc, TARGET, witness._connections.get(id(self.scope), {}))
                    raise
                finally:
                    depth.reset(entered)

            setattr(WebSocket, name, watched)

    def read_source(self, source: str, settings: Iterable[str]) -> None:
        """What the module's text shows before it runs: settings it copies, shared
        objects its functions make again."""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return
        lines = source.splitlines()
        self._settings_copied(tree, lines, set(settings))
        self._shadowed(tree, lines)

    def _shadowed(self, tree: ast.Module, lines: list[str]) -> None:
        """`registry = Registry()` at the top, and again inside a function that
        does not declare it global: each call of that function gets an object of its
        own, and the shared one is never used there."""
        made = {m[0]: (m[1], m[2]) for node in tree.body if (m := _made(node))}
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            shared = {n for g in ast.walk(function) if isinstance(g, ast.Global) for n in g.names}
            for node in ast.walk(function):
                again = _made(node)
                if again is None or again[0] not in made or again[0] in shared:
                    continue
                name, factory, line = again
                if factory == made[name][0]:
                    self.event(
                        evidence.Shadowed(
                            name=name,
                            line=line,
                            code=lines[line - 1].strip(),
                            function=function.name,
                            defined_line=made[name][1],
                        )
                    )

    def _settings_copied(self, tree: ast.Module, lines: list[str], names: set[str]) -> None:
        """Where the module copies a setting at import: `LIMIT = MAX_CONNECTIONS`, or a
        default argument `limit=MAX_CONNECTIONS`; the checks change the setting after
        the import, and the copy keeps the old value."""
        if not names:
            return

        def uses(node: ast.AST | None) -> set[str]:
            found = set()
            for child in ast.walk(node) if node is not None else ():
                if isinstance(child, ast.Name) and child.id in names:
                    found.add(child.id)
            return found

        copies: list[tuple[ast.AST, set[str]]] = []
        for statement in tree.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign) and not _defines(statement, names):
                copies.append((statement, uses(statement.value)))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for default in [*node.args.defaults, *node.args.kw_defaults]:
                    copies.append((node, uses(default)))
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.Assign | ast.AnnAssign):
                        copies.append((item, uses(item.value)))
        for node, used in copies:
            for setting in sorted(used):
                line = getattr(node, "lineno", 0)
                code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                self.event(evidence.Copied(setting=setting, line=line, code=code))

    # The app ---------------------------------------------------------------------

    def app(self, app: Any) -> Any:
        """The app, watched: exceptions that escape it, handshakes it refuses."""
        from uvicorn.protocols.utils import ClientDisconnected

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                await self._lifespan(app, scope, receive, send)
                return
            if scope["type"] == "http":
                await self._request(app, scope, receive, send)
                return
            if scope["type"] != "websocket":
                await app(scope, receive, send)
                return
            accepted = refused = closed = left = False
            accepted_at: dict[str, Any] = {}
            sent = 0
            # What became of this connection, for a call on it that Starlette refuses.
            state: dict[str, Any] = {"path": scope.get("path", "")}
            self._connections[id(scope)] = state
            while len(self._connections) > KEEP_CONNECTIONS:
                self._connections.popitem(last=False)

            async def watched_send(message: Any) -> None:
                nonlocal accepted, refused, closed, sent, accepted_at
                kind = message.get("type")
                if kind == "websocket.accept":
                    accepted = True
                    accepted_at = self.here()
                elif kind == "websocket.send":
                    sent += 1
                elif kind == "websocket.close" and not closed:
                    closed = True
                    place = self.here()
                    state.setdefault("after", "closed")
                    state["closed_line"] = place.get("line", 0)
                    state["closed_code"] = place.get("code", "")
                    if accepted and not sent and not left and accepted_at.get("line"):
                        # Accepted, then closed at once: meant as a refusal, it is not one
                        # (the client was let in; a close before accept answers HTTP 403).
                        self.event(
                            evidence.AcceptedThenClosed(
                                path=scope.get("path", ""),
                                line=accepted_at["line"],
                                code=accepted_at.get("code", ""),
                                closed_line=place.get("line", 0),
                                closed_code=place.get("code", ""),
                            )
                        )
                if kind in ("websocket.close", "websocket.http.response.start") and not accepted:
                    refused = True
                    self.refused(app, scope, message)
                await send(message)

            async def watched_receive() -> Any:
                nonlocal left
                message = await receive()
                if message.get("type") == "websocket.disconnect" and not left:
                    left = True
                    state.setdefault("after", "left")
                return message

            try:
                await app(scope, watched_receive, watched_send)
            except ClientDisconnected:
                raise  # uvicorn does not log these either
            except BaseException as exc:
                where = self.place(traceback.extract_tb(exc.__traceback__))
                self._raised(exc, where, **_target(exc), path=scope.get("path", ""))
                raise
            else:
                state.setdefault("after", "returned")
                if not accepted and not refused:
                    self.refused(app, scope, {"type": "return"})
                elif accepted and not left and not closed:
                    # It hung up on a client that was still there, without a word.
                    self.event(evidence.Ended(path=scope.get("path", ""), sent=sent))

        return asgi

    async def _lifespan(self, app: Any, scope: Any, receive: Any, send: Any) -> None:
        """The lifespan, with its task noted until startup ends: a startup that never
        ends answers no client, and where it waits is the cause."""
        self._starting = asyncio.current_task()

        async def watched_send(message: Any) -> None:
            kind = str(message.get("type", ""))
            if kind.startswith("lifespan.startup."):
                self._starting = None
            if kind == "lifespan.startup.failed":
                # Starlette sends the traceback as text: its last line in the student's
                # file, and its last line of all (the error).
                text = str(message.get("message", ""))
                place = rf'File "{re.escape(self.student_file)}", line (\d+)'
                lines = [int(n) for n in re.findall(place, text)]
                tail = text.strip().splitlines()[-1:] or ["an exception"]
                at = self._at(lines[-1]) if lines else {}
                self.event(evidence.StartupFailed(error=tail[0], **at))
            await send(message)

        await app(scope, receive, watched_send)

    async def _request(self, app: Any, scope: Any, receive: Any, send: Any) -> None:
        """An HTTP request, watched: an exception that escapes its handler."""
        from uvicorn.protocols.utils import ClientDisconnected

        # The status the client got: the first answer's (the error middleware answers 500
        # for a handler that raised before answering; a stream had begun with its own).
        answered = 0

        async def watched_send(message: Any) -> None:
            nonlocal answered
            if message.get("type") == "http.response.start" and not answered:
                with contextlib.suppress(TypeError, ValueError):
                    answered = int(message.get("status", 0))
            await send(message)

        try:
            await app(scope, receive, watched_send)
        except ClientDisconnected:
            raise
        except BaseException as exc:
            # No line of theirs in the traceback: it was raised after the handler
            # returned (FastAPI refused what it returned), and that return is the place.
            where = self.place(traceback.extract_tb(exc.__traceback__))
            with contextlib.suppress(Exception):  # an endpoint of any shape: still report
                where = where or self.returned(scope.get("endpoint"))
            request = f"{scope.get('method', 'GET')} {scope.get('path', '')}"
            self._raised(exc, where, path=request, answered=answered)
            raise

    def _raised(self, exc: BaseException, where: dict[str, Any], **fields: Any) -> None:
        """Log `exc` as uvicorn would, on our own descriptor, report it, and mark it
        reported: the server's own log of it is then one too many (see serving.py)."""
        text = f"ERROR:    {ASGI_ERROR}\n\n{self._traceback(exc, where)}"
        with contextlib.suppress(OSError):
            os.write(self.log_fd, text.encode(errors="replace"))
        self.event(evidence.Raised(error=_error(exc), **where, **fields))
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc, REPORTED, True)

    def _traceback(self, exc: BaseException, where: dict[str, Any]) -> str:
        """The traceback of the exception being handled; FastAPI's refusal of what a
        route returned ends in one line that names the student's `return` (no frame of
        theirs is left to show it)."""
        invalid = _invalid(exc)
        if invalid is None or not where.get("line"):
            return traceback.format_exc()
        function = f"{where['function']}()" if where.get("function") else "the route"
        place = f'File "{self.student_file}", line {where["line"]}'
        kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return "".join(
            [
                "Traceback (most recent call last):\n",
                *traceback.format_tb(exc.__traceback__),
                f"{kind}: what {function} returned ({place}): {invalid}\n",
            ]
        )

    def returned(self, endpoint: Any) -> dict[str, Any]:
        """Where a route's function in the student's file returns: its one `return`,
        else its `def`; with its name and its return type as written. {} if it is not
        the student's."""
        code = getattr(inspect.unwrap(endpoint), "__code__", None) if endpoint else None
        if code is None or code.co_filename != self.student_file:
            return {}
        found: dict[str, Any] = {"function": code.co_name}
        with contextlib.suppress(SyntaxError, ValueError):
            tree = ast.parse("".join(linecache.getlines(self.student_file)))
            for node in ast.walk(tree):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if node.name != code.co_name or first != code.co_firstlineno:
                    continue
                returns = [n.lineno for n in _own(node) if isinstance(n, ast.Return)]
                if node.returns is not None:
                    found["declared"] = ast.unparse(node.returns)
                return {**found, **self._at(returns[0] if len(returns) == 1 else node.lineno)}
        return {**found, **self._at(code.co_firstlineno)}

    def routes(self, app: Any) -> None:
        """The app's WebSocket routes, as it starts."""
        self.event(evidence.Routes(routes=tuple(route.path for route in _websocket_routes(app))))

    def refused(self, app: Any, scope: Any, message: dict[str, Any]) -> None:
        """A handshake that ended before accept: which routes there are, which matched."""
        routes = _websocket_routes(app)
        matched = None
        with contextlib.suppress(Exception):
            from starlette.routing import Match

            matched = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
        fields: dict[str, Any] = {
            "path": scope.get("path", ""),
            "routes": tuple(r.path for r in routes),
        }
        if message.get("type") == "websocket.close":
            code = message.get("code")
            fields["close_code"] = (
                code if isinstance(code, int) and not isinstance(code, bool) else 1000
            )
            fields["reason"] = str(message.get("reason") or "")
        else:
            fields["returned"] = True
        if matched is not None:
            fields["route"] = matched.path
            fields["parameters"] = _parameters(matched.endpoint)
        fields.update(self.here())
        self.event(evidence.Refusal(**fields))

    # The loop --------------------------------------------------------------------

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the watchdog, answer SIGUSR2 with where the tasks are waiting, and
        note where the app starts its tasks, and how they end."""
        main = threading.main_thread().ident or 0
        threading.Thread(target=self._watchdog, args=(loop, main), daemon=True).start()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGUSR2, self.waiting)

        loop.set_task_factory(self.make_task)

    def make_task(self, loop: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> Any:
        """The loop's task factory: a task, noted where the student's code started it."""
        task = asyncio.Task(coro, loop=loop, **kw)
        if self._started_by_student():
            self._started[task] = self.here()
            task.add_done_callback(self._task_done)
        return task

    def _started_by_student(self) -> bool:
        """Whether the task being made was asked for by the student's own line (through
        asyncio's create_task, ensure_future, gather, a TaskGroup), not by a library the
        student called: a client library's own tasks are its business, not the app's."""
        frame: FrameType | None = sys._getframe(2)  # make_task's caller
        while frame is not None and frame.f_code.co_filename.startswith(_ASYNCIO):
            frame = frame.f_back
        return frame is not None and frame.f_code.co_filename == self.student_file

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        # Not task.exception(): that would mark it seen, and Python would no longer log
        # "Task exception was never retrieved" as it does for the student.
        error = None if task.cancelled() else getattr(task, "_exception", None)
        started = self._started.get(task)
        if error is None or started is None:
            return
        where = self.place(traceback.extract_tb(error.__traceback__))
        key = ("died", started["line"])
        self._once_in_a_while(
            key,
            evidence.Died(
                error=_error(error), **where, task_line=started["line"], task_code=started["code"]
            ),
        )

    def _watchdog(self, loop: asyncio.AbstractEventLoop, main: int) -> None:
        """Every tick, ask the loop to answer; while it does not, see where the main
        thread is. A tick that came late means this process was not running at all
        (a busy machine): that time is not held against the app. A block is reported
        when it ends, and while it lasts, at 1, 2, 4… seconds (a grading may be cut short
        before it ends); reports of one block share its `since`."""
        answered = threading.Event()
        while True:
            answered.clear()
            asked = time.monotonic()
            try:
                loop.call_soon_threadsafe(answered.set)
            except RuntimeError:
                return  # the loop has closed
            stood, last, next_report = 0.0, asked, 1.0
            places = Counter[tuple[int, str]]()
            own = 0  # samples that found the student's line itself running (time.sleep)
            while not answered.wait(TICK):
                now = time.monotonic()
                if now - last < 3 * TICK:  # we ran on time: the loop really stood still
                    stood += now - last
                    stack = _stack(sys._current_frames().get(main))
                    place = self.place(stack)
                    if place:
                        places[(place["line"], place["code"])] += 1
                        own += stack[-1].f_code.co_filename == self.student_file
                last = now
                if stood >= next_report:
                    self._blocked(asked, stood, places)
                    next_report *= 2
            inside = own * 2 < sum(places.values())
            if stood >= (BLOCKED_INSIDE_AFTER if inside else BLOCKED_AFTER):
                self._blocked(asked, stood, places)
            time.sleep(TICK)

    def _blocked(self, since: float, stood: float, places: Counter[tuple[int, str]]) -> None:
        if not places:
            return
        (line, code), seen = places.most_common(1)[0]
        # A loop merely busy with many short steps is seen in many places; a blocked one
        # stands on one line.
        if seen * 2 >= sum(places.values()):
            # The time it stood still, not since it was asked: on a busy machine the
            # watchdog itself waits, and that wait is not the app's.
            self.event(
                evidence.Blocked(
                    since=round(since, 3), seconds=round(stood, 3), line=line, code=code
                )
            )

    def waiting(self) -> None:
        """Where each task of the app is suspended, innermost student line first."""
        places: Counter[tuple[int, str, bool]] = Counter()
        for task in asyncio.all_tasks():
            place = self.place(_awaited(task.get_coro()))
            if place:
                # A task the student started may wait by design (a writer for a slow
                # client); a connection's own handler never should.
                places[(place["line"], place["code"], task in self._started)] += 1
        starting = self._starting
        startup = [] if starting is None or starting.done() else _awaited(starting.get_coro())
        tasks = tuple(
            evidence.Task(line=line, code=code, count=n, background=started)
            for (line, code, started), n in places.items()
        )
        # A startup still under way: each of the student's lines it waits on.
        spots = [
            evidence.Spot(**self._at(frame.f_lineno))
            for frame in startup
            if frame.f_code.co_filename == self.student_file
        ]
        self.event(evidence.Waiting(tasks=tasks, startup=tuple(spots[:3])))


TARGET = "_witness_target"  # on an exception: what became of the connection it was about
REPORTED = "_witness_reported"  # on an exception: the witness has logged and reported it


def _target(exc: BaseException) -> dict[str, Any]:
    """What became of the connection a send failed on, as `target_…` fields."""
    state = getattr(exc, TARGET, None) or {}
    return {f"target_{name}": value for name, value in state.items()}


def _error(exc: BaseException) -> str:
    invalid = _invalid(exc)
    if invalid is not None:
        return f"ResponseValidationError: {invalid}"
    said = str(exc)
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


def _invalid(exc: BaseException) -> str | None:
    """If `exc` is FastAPI's refusal of what a route returned, what it found invalid,
    as one line: "response['lobby'][0]: Input should be a valid string, not a WebSocket"
    (FastAPI's own text is a repr of every error, with memory addresses, over many lines)."""
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ != "ResponseValidationError" or not callable(errors):
        return None
    try:
        return _first_invalid(list(errors()))
    except Exception:  # the app's own class of that name may be anything
        return None


def _first_invalid(errors: list[Any]) -> str:
    first = errors[0]
    where = "response" + "".join(f"[{part!r}]" for part in list(first.get("loc", ()))[1:])
    value = first.get("input")
    if value is None or isinstance(value, str | int | float | bool):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "…"
    else:
        name = type(value).__name__
        shown = f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}, not {shown}{more}"


def _websocket_routes(app: Any) -> list[Any]:
    try:
        from starlette.routing import WebSocketRoute

        return [r for r in getattr(app, "routes", []) if isinstance(r, WebSocketRoute)]
    except Exception:  # an app of any shape must not stop the witness
        return []


def _awaited(coro: Any) -> list[FrameType]:
    """The frames of a suspended coroutine and of everything it awaits, outermost first
    (a suspended task's own stack shows only its outermost frame)."""
    frames = []
    for _ in range(MAX_DEPTH):
        if coro is None:
            break
        if type(coro).__name__ == "async_generator_asend":
            # What `async with` on an asynccontextmanager awaits: only the garbage
            # collector knows the generator it advances (the lifespan, say).
            coro = next((r for r in gc.get_referents(coro) if hasattr(r, "ag_frame")), None)
            continue
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "gi_frame", None)
            or getattr(coro, "ag_frame", None)
        )
        if frame is not None:
            frames.append(frame)
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    return frames


def _own(function: ast.AST) -> list[ast.AST]:
    """The nodes of `function`'s body, without those of functions or classes inside it."""
    found: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(function))
    while todo:
        node = todo.pop()
        found.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return found


def _made(node: ast.AST) -> tuple[str, str, int] | None:
    """`name = Factory(...)`: (name, the factory as written, its line); else None."""
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
    ):
        return node.targets[0].id, ast.unparse(node.value.func), node.lineno
    return None


def _stack(frame: FrameType | None) -> list[FrameType]:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames[::-1]


def _defines(node: ast.Assign | ast.AnnAssign, names: set[str]) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(t, ast.Name) and t.id in names for t in targets)


def _parameters(endpoint: Any) -> dict[str, str]:
    """The endpoint's parameters and their declared types, as written."""
    try:
        signature = inspect.signature(endpoint)
    except (TypeError, ValueError):
        return {}
    return {
        name: getattr(p.annotation, "__name__", str(p.annotation))
        for name, p in signature.parameters.items()
        if p.annotation is not inspect.Parameter.empty
    }
